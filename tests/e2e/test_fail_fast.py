"""Fail fast end to end (issue 16, item 10): a training script that always raises ends its tuning
job Failed after N attempts (``core.fail_fast``), far short of MaxNumberOfTrainingJobs, and
describe's FailureReason quotes the script's error.

The job runs tests/e2e/scripts/quick/train.py with ``x=fail`` (it exits through ``sys.exit`` with a
message) through the real state machine, Lambdas and the local SageMaker inside moto.
"""
from __future__ import annotations

import pytest
from tuner.core.fail_fast import attempts_allowed

from tests.builders import created_jobs, integer, start_and_wait, training_jobs, tuning_request

pytestmark = pytest.mark.e2e


def test_a_script_that_always_raises_fails_the_tuning_job_after_n_attempts(local_tuner):
    # GIVEN 20 trials, 2 at a time, of a script that fails whatever y is
    parallel, budget = 2, 20
    request = tuning_request("ff-broken", source="quick", ranges=integer(0, 100, name="y"), static={"x": "fail"},
                             max_jobs=budget, max_parallel=parallel)
    # WHEN it runs
    describe = start_and_wait(local_tuner, request, timeout=180)
    # THEN it ends Failed after N = 5 failed attempts, with AMT's sentence and the script's error
    attempts = attempts_allowed(parallel)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    reason = describe["FailureReason"]
    assert reason.startswith(f"No training job succeeded after {attempts} attempts. Please take a look")
    assert "deliberate failure: bad hyperparameter x=fail" in reason and len(reason) <= 1024
    # far fewer training jobs than the budget: the N failures, and at most the other lap's job,
    # which failed too or was stopped when the job failed
    jobs = training_jobs(local_tuner, "ff-broken")
    assert attempts <= len(jobs) <= attempts + parallel - 1 < budget
    assert created_jobs(local_tuner, "ff-broken") == {j["TrainingJobName"] for j in jobs}
    statuses = sorted(j["TrainingJobStatus"] for j in jobs)
    assert statuses.count("Failed") >= attempts and set(statuses) <= {"Failed", "Stopped"}
    counters = describe["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and counters["NonRetryableError"] == statuses.count("Failed")
    assert local_tuner.execution("ff-broken")["status"] == "FAILED"
