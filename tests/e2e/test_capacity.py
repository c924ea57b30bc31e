"""Account quotas through the offline loop (docs/capacity.md): the stand-in refuses CreateTrainingJob
over "<type> for training job usage" with SageMaker's ResourceLimitExceeded, and the tuner

* fails the tuning job at once when the quota is below one training job's instances, with
  SageMaker's message and the quota to raise in its FailureReason;
* otherwise lets the refused lap wait (the state machine's CapacityWait state, capped backoff) until
  capacity frees: every trial completes, none fails, none is created twice, and never more jobs
  run at once than the quota admits.

The quota is set on the shared deployment's stand-in (``local_tuner.sagemaker.quotas``) for one
test at a time, on an instance type no other e2e test uses.
"""
from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from tuner.core.capacity import CapacityWait, quota_name

from tests.builders import continuous, created_jobs, max_concurrent, start_and_wait, tuning_request

pytestmark = pytest.mark.e2e
TYPE = "ml.c5.xlarge"  # only this module's jobs use it: its quota is theirs alone
QUOTA = quota_name(TYPE)


@pytest.fixture
def quota(local_tuner):
    """``{instance type: instances}`` of the shared stand-in, for this test only."""
    saved = dict(local_tuner.sagemaker.quotas)
    yield local_tuner.sagemaker.quotas
    local_tuner.sagemaker.quotas.clear()
    local_tuner.sagemaker.quotas.update(saved)


def _request(name: str, *, instances: int, **kw) -> dict:
    resources = {"InstanceType": TYPE, "InstanceCount": instances, "VolumeSizeInGB": 5}
    return tuning_request(name, source="quick", ranges=continuous(1, 5), ResourceConfig=resources, **kw)


def _deployed_capacity_wait(lt) -> CapacityWait:
    """The capacity-wait policy of the offline deployment's NextTrial (its state machine definition)."""
    machine = lt.sfn.describe_state_machine(stateMachineArn=lt.deployment.state_machine_arn)
    laps = json.loads(machine["definition"])["States"]["RunLaps"]["ItemProcessor"]["States"]
    return CapacityWait.from_payload(laps["NextTrial"]["Parameters"]["Payload"].get("CapacityWait"))


def test_a_quota_below_one_jobs_instances_fails_the_tuning_job_at_once(local_tuner, quota):
    # GIVEN a quota of 1 instance and training jobs of 2
    quota[TYPE] = 1
    request = _request("cap-never", instances=2, max_jobs=3, max_parallel=2)
    # WHEN the tuning job runs
    t0 = time.monotonic()
    describe = start_and_wait(local_tuner, request, timeout=120)
    elapsed = time.monotonic() - t0
    # THEN it fails at once with SageMaker's message and the quota to raise; no training job ran
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    reason = describe["FailureReason"]
    assert reason.startswith("ResourceLimitExceededError: CreateTrainingJob cap-never-")
    assert (
        f"The account-level service limit '{QUOTA}' is 1 Instances, with current utilization of 0 Instances and "
        "a request delta of 2 Instances. Please use AWS Service Quotas to request an increase for this quota."
    ) in reason
    assert f"raise '{QUOTA}' in Service Quotas (Amazon SageMaker) to at least 2" in reason
    assert created_jobs(local_tuner, "cap-never") == set()
    assert local_tuner.execution("cap-never")["status"] == "FAILED"
    assert all(t.capacity_waits == 0 for t in local_tuner.service.store.list_trials("cap-never"))
    # no backoff at all: retried as a transient error it took 63 s before failing
    assert elapsed < 30, elapsed


def test_a_full_quota_makes_trials_wait_for_capacity_and_every_one_completes(local_tuner, quota):
    policy = _deployed_capacity_wait(local_tuner)
    assert policy.first <= 2 and policy.cap <= 5, (
        f"the offline deployment waits {policy} for capacity: LocalTuner.context needs short "
        "tuner:capacityWaitSeconds / tuner:capacityMaxWaitSeconds (docs/capacity.md, 'Settings')"
    )
    # GIVEN a quota of 1 instance, 2 laps in parallel, 3 trials of 1 instance that train ~1 s each
    quota[TYPE] = 1
    request = _request("cap-wait", instances=1, max_jobs=3, max_parallel=2, static={"epochs": "20"})
    # WHEN the tuning job runs
    t0 = time.monotonic()
    describe = start_and_wait(local_tuner, request, timeout=180)
    elapsed = time.monotonic() - t0
    # THEN every trial completed and none failed
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    counters = describe["TrainingJobStatusCounters"]
    assert counters["Completed"] == 3
    assert counters["RetryableError"] == counters["NonRetryableError"] == counters["Stopped"] == 0
    assert local_tuner.execution("cap-wait")["status"] == "SUCCEEDED"
    # never more than the quota's one instance at once, each training job created once
    transitions = local_tuner.sagemaker.transitions
    assert max_concurrent(transitions, "cap-wait") == 1
    created = Counter(job for _, job, s in transitions if job.startswith("cap-wait-") and s == "InProgress")
    assert len(created) == 3 and set(created.values()) == {1}
    trials = local_tuner.service.store.list_trials("cap-wait")
    assert [t.number for t in trials] == [1, 2, 3]
    assert {t.training_job_name for t in trials} == set(created)
    # the quota was hit: the refused laps waited in the state machine, not by failing
    assert sum(t.capacity_waits for t in trials) >= 1
    assert elapsed < 60, elapsed
