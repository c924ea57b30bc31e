"""A trial refused by an account quota (ResourceLimitExceeded), on fakes: the tuning job fails at once
when the quota can never admit one training job, otherwise the lap waits (capped backoff) and the
trial starts once capacity frees, never twice."""
from __future__ import annotations

import json

import pytest
from tuner.aws.sagemaker import resource_limit_error
from tuner.core.capacity import CapacityWait
from tuner.core.laps import capacity_waits_allowed
from tuner.errors import ResourceLimitExceededError
from tuner.local.quotas import quota_message

from tests.builders import tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"
TYPE = "ml.m5.xlarge"
QUOTA = f"{TYPE} for training job usage"


def _created(aws: FakeAws, name: str = "cap", *, instances: int = 1, **kw) -> str:
    resources = {"InstanceType": TYPE, "InstanceCount": instances, "VolumeSizeInGB": 5}
    aws.service.create_job(tuning_request(name, ResourceConfig=resources, **kw), EXEC + name)
    return name


def _refuse(aws: FakeAws, *, limit: int, used: int, delta: int = 1, times: int = 1) -> str:
    """The next ``times`` starts are refused as SageMaker refuses them (the adapter's parsing)."""
    message = quota_message(QUOTA, limit, used, delta)
    aws.backend.refusals += [resource_limit_error("CreateTrainingJob", "a-job", message) for _ in range(times)]
    return message


def _failed_by(aws: FakeAws, name: str, err: ResourceLimitExceededError) -> dict:
    """What the state machine does with an error nothing retries: LapFailed -> fail_job, with the
    Lambda's error as Step Functions passes it (``Cause`` is the JSON of the Lambda's error)."""
    cause = json.dumps({"errorMessage": str(err), "errorType": type(err).__name__})
    aws.service.fail_job(name, {"Error": type(err).__name__, "Cause": cause})
    return aws.service.describe(name)


def test_a_quota_below_one_jobs_instances_fails_the_tuning_job_at_once():
    # GIVEN a definition that needs 2 instances and a quota of 1
    aws = FakeAws()
    name = _created(aws, instances=2, max_parallel=2)
    sagemaker_says = _refuse(aws, limit=1, used=0, delta=2)
    # WHEN the lap tries to start its first trial
    with pytest.raises(ResourceLimitExceededError) as info:
        aws.service.next_trial(name, 1, 0, "t1")
    # THEN the step fails (no wait: no job of this definition can ever start), with SageMaker's
    # message and what to raise where
    err = info.value
    assert (err.quota, err.limit, err.utilization, err.delta) == (QUOTA, 1, 0, 2)
    assert sagemaker_says in str(err)
    assert f"raise '{QUOTA}' in Service Quotas (Amazon SageMaker) to at least 2 (4 to run" in str(err)
    assert aws.backend.started == {} and aws.tokens.sent == []
    described = _failed_by(aws, name, err)
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ResourceLimitExceededError: CreateTrainingJob cap-001-")
    assert QUOTA in described["FailureReason"] and sagemaker_says in described["FailureReason"]


def test_a_full_quota_makes_the_lap_wait_with_capped_backoff_then_start_once():
    # GIVEN the quota is held by other jobs for the next six tries
    aws = FakeAws()
    name = _created(aws)
    policy = CapacityWait()
    _refuse(aws, limit=2, used=2, times=6)
    waits = []
    for step in range(6):
        out = aws.service.next_trial(name, 1, 0, f"t{step}")  # the same lap iteration each time
        assert out["Done"] is False and out["TrialNumber"] == 1
        assert aws.tokens.sent[-1] == (f"t{step}", out)  # the lap's own token answers the wait
        waits.append(out["CapacityWaitSeconds"])
        aws.clock.advance(out["CapacityWaitSeconds"])
    # THEN the lap waited first, 2 x first, ..., never more than the cap: 30, 60, 120, 240, 300, 300
    expected = [policy.first]
    while len(expected) < 6:
        expected.append(min(policy.cap, 2 * expected[-1]))
    assert waits == expected == [30, 60, 120, 240, 300, 300]
    trial = aws.store.get_trial(name, 1)
    assert (trial.status, trial.capacity_waits, trial.task_token) == ("Pending", 6, None)
    assert aws.backend.started == {}
    # WHEN capacity frees, the same iteration starts the same trial, once
    out = aws.service.next_trial(name, 1, 0, "t-go")
    assert out == {"TrialNumber": 1, "TrainingJobName": trial.training_job_name}
    assert list(aws.backend.started) == [trial.training_job_name]
    started = aws.store.get_trial(name, 1)
    assert (started.status, started.task_token, started.capacity_since) == ("InProgress", "t-go", None)
    assert aws.store.jobs[name].next_trial == 1  # no second trial was claimed while waiting


def test_the_wait_policy_comes_from_the_state_machine():
    aws = FakeAws()
    name = _created(aws)
    _refuse(aws, limit=1, used=1, times=4)
    payload = {"FirstSeconds": 1, "MaxSeconds": 3, "GiveUpSeconds": 3600}
    waits = []
    for step in range(4):
        waits.append(aws.service.next_trial(name, 1, 0, f"t{step}", capacity_wait=payload)["CapacityWaitSeconds"])
        aws.clock.advance(waits[-1])
    assert waits == [1, 2, 3, 3]


def test_a_step_run_twice_neither_doubles_the_wait_nor_starts_a_second_job():
    aws = FakeAws()
    name = _created(aws)
    _refuse(aws, limit=1, used=1, times=2)
    first = aws.service.next_trial(name, 1, 0, "t1")
    again = aws.service.next_trial(name, 1, 0, "t2")  # delivered twice, or retried after a Lambda error
    assert first["CapacityWaitSeconds"] == again["CapacityWaitSeconds"] == 30  # from the first refusal's time
    aws.clock.advance(30)
    assert aws.service.next_trial(name, 1, 0, "t3")["TrialNumber"] == 1
    assert aws.service.next_trial(name, 1, 0, "t4")["TrialNumber"] == 1  # and again, after the start
    assert len(aws.backend.started) == 1 and len(aws.store.list_trials(name)) == 1


def test_the_tuning_job_fails_when_the_refusals_outlast_the_give_up():
    aws = FakeAws()
    name = _created(aws)
    policy = {"FirstSeconds": 30, "MaxSeconds": 300, "GiveUpSeconds": 900}
    sagemaker_says = _refuse(aws, limit=2, used=2, times=10)
    waits = []
    with pytest.raises(ResourceLimitExceededError) as info:
        while True:
            waits.append(aws.service.next_trial(name, 1, 0, "t", capacity_wait=policy)["CapacityWaitSeconds"])
            aws.clock.advance(waits[-1])
    assert waits == [30, 60, 120, 240, 300, 150]  # the last wait cut to end at the give-up
    assert "was refused for capacity for 900 s, the tuner's limit (900 s)" in str(info.value)
    assert sagemaker_says in str(info.value) and f"Raise '{QUOTA}' in Service Quotas" in str(info.value)
    assert aws.backend.started == {}


def test_a_lap_stops_waiting_before_its_history_would_overflow():
    aws = FakeAws()
    name = _created(aws, max_jobs=3)
    aws.service.next_trial(name, 1, 0, "t1")  # trial 1 runs on lap 1
    aws.store.update_trial(name, 1, only_unrecorded=True, capacity_waits=capacity_waits_allowed(1000))  # so far
    aws.backend.finish(aws.store.get_trial(name, 1).training_job_name)
    aws.service.record_training_job(aws.store.get_trial(name, 1).training_job_name)
    _refuse(aws, limit=1, used=1)
    with pytest.raises(ResourceLimitExceededError, match="lap 1 has waited for capacity 1248 times"):
        aws.service.next_trial(name, 1, 1, "t2", lap_trials=1000)


def test_a_refusal_sagemaker_gives_no_numbers_for_is_waited_out():
    """"The requested resource training-job/ml.p2.xlarge is not available in this region" carries no
    numbers: the tuner cannot tell that no job will ever start, so it waits (up to the give-up)."""
    aws = FakeAws()
    name = _created(aws)
    aws.backend.refusals.append(resource_limit_error(
        "CreateTrainingJob", "a-job", "The requested resource training-job/ml.p2.xlarge is not available in this region"
    ))
    out = aws.service.next_trial(name, 1, 0, "t1")
    assert out["CapacityWaitSeconds"] == 30 and out["Reason"] == "capacity: 'an account quota'"


def test_a_job_stopped_during_a_wait_ends_the_lap_and_never_starts_the_trial():
    aws = FakeAws()
    name = _created(aws)
    _refuse(aws, limit=1, used=1)
    aws.service.next_trial(name, 1, 0, "t1")
    aws.service.stop(name)
    assert aws.service.next_trial(name, 1, 0, "t2")["Done"] is True
    assert aws.backend.started == {}
    aws.service.finalize(name)
    assert aws.store.get_trial(name, 1).status == "Stopped"
    assert aws.service.describe(name)["HyperParameterTuningJobStatus"] == "Stopped"
