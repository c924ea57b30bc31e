"""AMT's quotas through the offline loop (docs/quotas.md): a request over one is refused by the
state machine's first step (``RequestRejected``), described Failed with the reason, and starts no
training job; the concurrent tuning jobs' slot is taken at create and given back at the end.

The deployment is the e2e package's, with AMT's default quotas (no context key set); the
concurrent-jobs limit is lowered in place, as a redeploy with ``tuner:maxConcurrentTuningJobs``
would set it (the create_job Lambda's environment)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tuner import constants
from tuner.core.quotas import AMT_QUOTAS

from tests.builders import SCRIPTS, continuous, created_jobs, tuning_request

pytestmark = pytest.mark.e2e


@contextmanager
def create_job_environment(lt, **variables: str) -> Iterator[None]:
    """The environment of the functions carrying the quotas (create_job, front_door) with
    ``variables`` changed, in place (a redeploy's effect)."""
    functions = [
        f for f in lt.lam.list_functions()["Functions"]
        if constants.ENV_MAX_CONCURRENT_TUNING_JOBS in (f.get("Environment") or {}).get("Variables", {})
    ]
    assert len(functions) == 2, [f["FunctionName"] for f in functions]
    for fn in functions:
        lt.lam.update_function_configuration(FunctionName=fn["FunctionName"],
                                             Environment={"Variables": {**fn["Environment"]["Variables"], **variables}})
    try:
        yield
    finally:
        for fn in functions:
            lt.lam.update_function_configuration(FunctionName=fn["FunctionName"], Environment=fn["Environment"])


def test_a_request_over_a_quota_is_refused_with_the_reason_and_runs_nothing(local_tuner):
    lt = local_tuner
    name = "quota-wide"
    in_use = lt.service.store.job_slots_in_use()
    # GIVEN a request for one parallel training job more than AMT's default quota
    over = AMT_QUOTAS.max_parallel_training_jobs + 1
    request = tuning_request(name, source="quick", max_jobs=over, max_parallel=over, ranges=continuous(0.5, 8))
    # WHEN it is started (StartExecution, as the console or an EventBridge rule would)
    lt.start(request, base_dir=SCRIPTS)
    described = lt.wait(name, timeout=120)
    # THEN the first step refused it: the execution ends in RequestRejected with the reason
    execution = lt.execution(name)
    assert execution["status"] == "FAILED" and execution.get("error") == "ValidationError"
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    reason = described["FailureReason"]
    for part in (f"MaxParallelTrainingJobs: {over} is over this deployment's limit of 10 parallel training jobs",
                 "max_parallel_training_jobs", "tuner:maxParallelTrainingJobs"):
        assert part in reason, reason
    # AND no training job was created, no slot is held
    assert created_jobs(lt, name) == set()
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    assert lt.service.store.job_slots_in_use() == in_use


def test_one_tuning_job_more_than_the_deployment_runs_is_refused_until_a_slot_is_given_back(local_tuner):
    lt = local_tuner
    in_use = lt.service.store.job_slots_in_use()  # jobs of other tests still running, if any
    slow = dict(source="quick", max_jobs=1, ranges=continuous(0.5, 8), static={"epochs": "200", "sleep": "0.05"})
    with create_job_environment(lt, **{constants.ENV_MAX_CONCURRENT_TUNING_JOBS: str(in_use + 1)}):
        # GIVEN a deployment running as many tuning jobs as it may
        lt.start(tuning_request("quota-first", **slow), base_dir=SCRIPTS)
        # WHEN one more is started
        lt.start(tuning_request("quota-second", source="quick", max_jobs=1, ranges=continuous(0.5, 8)),
                 base_dir=SCRIPTS)
        refused = lt.wait("quota-second", timeout=120)
        # THEN it is refused in AMT's words (ResourceLimitExceeded), naming the setting that raises it
        assert refused["HyperParameterTuningJobStatus"] == "Failed"
        assert f"is {in_use + 1} Jobs, with current utilization of {in_use + 1} Jobs" in refused["FailureReason"]
        assert "tuner:maxConcurrentTuningJobs" in refused["FailureReason"]
        assert created_jobs(lt, "quota-second") == set()
        # AND once the running job ends its slot is given back
        lt.stop("quota-first")
        assert lt.wait("quota-first", timeout=120)["HyperParameterTuningJobStatus"] == "Stopped"
        assert lt.service.store.job_slots_in_use() == in_use


def test_a_create_step_retried_after_it_ran_keeps_one_slot(local_tuner, lambda_faults):
    lt = local_tuner
    in_use = lt.service.store.job_slots_in_use()
    # GIVEN a deployment with room for one more tuning job, whose create step fails after it ran
    # (it took the slot and stored the job, then the Lambda "died": Step Functions retries it)
    lambda_faults.plan[("create_job", "")] = {1: "after"}  # the step's event names no job at its top
    try:
        with create_job_environment(lt, **{constants.ENV_MAX_CONCURRENT_TUNING_JOBS: str(in_use + 1)}):
            lt.start(tuning_request("quota-retried", source="quick", max_jobs=2, ranges=continuous(0.5, 8)),
                     base_dir=SCRIPTS)
            described = lt.wait("quota-retried", timeout=180)
    finally:
        del lambda_faults.plan[("create_job", "")]
    # THEN the retried step was not refused by the job's own slot, the job ran, and gave it back
    assert lambda_faults.count[("create_job", "")] >= 2
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    assert lt.service.store.job_slots_in_use() == in_use
