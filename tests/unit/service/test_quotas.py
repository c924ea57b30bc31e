"""The quotas where a job is created (``CreateJob``) and given back (``Lifecycle``), on fakes.

The create step reads the deployment's quotas from its environment (``tuner.constants.ENV_QUOTAS``,
AMT's defaults for any it lacks); ``CreateJob.environ`` stands in for the Lambda's environment.
"""
from __future__ import annotations

import pytest
from tuner import constants
from tuner.core.records import FAILED, IN_PROGRESS
from tuner.errors import DuplicateTuningJobError, ValidationError
from tuner.service.create import check_request

from tests.builders import tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"


def deployment(**environ: str) -> FakeAws:
    aws = FakeAws()
    aws.service.creator.environ = dict(environ)
    return aws


def create(aws: FakeAws, name: str, **kw) -> dict:
    return aws.service.create_job(tuning_request(name, **kw), EXEC + name)


def test_the_create_step_refuses_a_request_over_a_per_job_quota_and_stores_why():
    aws = deployment()  # no settings in the environment: AMT's defaults
    with pytest.raises(ValidationError, match="MaxParallelTrainingJobs: 11 is over") as err:
        create(aws, "wide", max_jobs=20, max_parallel=11)
    job = aws.store.get_job("wide")
    assert (job.status, job.failure_reason) == (FAILED, str(err.value))
    assert "tuner:maxParallelTrainingJobs" in job.failure_reason
    assert aws.store.job_slots_in_use() == 0 and aws.backend.attempts == []


def test_the_create_step_applies_the_deployments_raised_quota():
    aws = deployment(**{constants.ENV_MAX_PARALLEL_TRAINING_JOBS: "11"})
    assert create(aws, "wide", max_jobs=20, max_parallel=11)["MaxParallel"] == 11
    with pytest.raises(ValidationError, match="limit of 11 parallel"):
        create(aws, "wider", max_jobs=20, max_parallel=12)


def test_the_concurrent_tuning_jobs_at_the_limit_run_and_one_more_is_refused():
    aws = deployment(**{constants.ENV_MAX_CONCURRENT_TUNING_JOBS: "2"})
    create(aws, "one")
    create(aws, "two")
    with pytest.raises(ValidationError) as err:
        create(aws, "three")
    assert err.value.code == "ResourceLimitExceeded"
    assert "is 2 Jobs, with current utilization of 2 Jobs" in str(err.value)
    assert "max_concurrent_tuning_jobs" in str(err.value) and "tuner:maxConcurrentTuningJobs" in str(err.value)
    assert aws.store.get_job("three").status == FAILED and aws.store.job_slots_in_use() == 2
    # WHEN one job ends THEN its slot takes the next job
    aws.service.finalize("one")
    assert aws.store.job_slots_in_use() == 1
    create(aws, "four")
    assert aws.store.get_job("four").status == IN_PROGRESS and aws.store.job_slots_in_use() == 2


def test_a_retried_create_step_keeps_one_slot():
    aws = deployment(**{constants.ENV_MAX_CONCURRENT_TUNING_JOBS: "1"})
    first = create(aws, "job")
    assert create(aws, "job") == first  # the step again (a Lambda retry): the same plan
    assert aws.store.job_slots_in_use() == 1


def test_a_duplicate_name_takes_no_slot():
    aws = deployment()
    create(aws, "Job")
    with pytest.raises(DuplicateTuningJobError, match="exists already"):
        create(aws, "job")  # another execution, the same name in another case
    assert aws.store.job_slots_in_use() == 1


@pytest.mark.parametrize("ends", [("finalize", "finalize"), ("fail", "fail"), ("finalize", "fail")])
def test_a_job_that_ends_twice_gives_back_one_slot(ends):
    aws = deployment()
    create(aws, "a")
    create(aws, "b")
    for end in ends:
        if end == "finalize":
            aws.service.finalize("a")
        else:
            aws.service.fail_job("a", {"Error": "States.TaskFailed", "Cause": "boom"})
    assert aws.store.job_slots_in_use() == 1  # b's


def test_a_create_that_failed_before_storing_the_job_gives_its_slot_back_when_marked_failed():
    aws = deployment()
    assert aws.store.take_job_slot("lost", 100) is None  # the step took the slot, then failed
    aws.service.fail_job("lost", {"Error": "States.TaskFailed", "Cause": "timeout"})
    assert aws.store.job_slots_in_use() == 0


def test_submit_checks_the_quotas_only_where_the_deployment_states_them():
    # GIVEN a request over AMT's default parallel quota
    request = tuning_request("wide", max_jobs=20, max_parallel=11)
    # WHEN a client (no deployment settings in its environment) submits it THEN it is not refused there:
    # the deployment may allow it, and its create step checks (a client must not be stricter)
    aws = deployment()
    aws.service.submit(request)
    assert "wide" in aws.executions.executions
    # AND where the environment states the deployment's quotas, submit refuses at once
    aws = deployment(**{constants.ENV_MAX_PARALLEL_TRAINING_JOBS: "10"})
    with pytest.raises(ValidationError, match="limit of 10 parallel"):
        aws.service.submit(request)
    assert aws.executions.executions == {}


def test_validate_checks_amts_defaults_unless_told_otherwise():
    request = tuning_request("wide", max_jobs=20, max_parallel=11)
    with pytest.raises(ValidationError, match="max_parallel_training_jobs"):
        check_request(request)  # `tuner validate`
    assert check_request(request, None).max_parallel == 11
