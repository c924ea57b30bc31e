"""Finalising a tuning job whose laps left trials unstarted, on fakes."""
from __future__ import annotations

from tests.builders import tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"


def test_a_retry_that_never_started_ends_as_its_last_attempt_not_as_a_job_never_created():
    # GIVEN a trial whose first attempt failed with an internal error and whose retry is due
    aws = FakeAws()
    aws.service.create_job(tuning_request("job", max_jobs=1, retry_attempts=1), EXEC + "job")
    first = aws.service.next_trial("job", 1, 0, "t1")["TrainingJobName"]
    aws.backend.finish(first, "Failed", FailureReason="InternalServerError: We encountered an internal error.")
    aws.service.record_training_job(first)
    pending = aws.store.get_trial("job", 1)
    assert (pending.status, pending.attempt) == ("Pending", 1) and pending.training_job_name != first
    # WHEN the job ends before the lap starts the retry
    aws.service.stop("job")
    assert aws.service.finalize("job")["Status"] == "Stopped"
    # THEN the trial is the failed attempt: listed under a training job SageMaker knows, retryable
    [summary] = aws.service.list_training_jobs("job")["TrainingJobSummaries"]
    assert summary["TrainingJobName"] == first and aws.backend.describe(first) is not None
    assert summary["TrainingJobStatus"] == "Failed"
    trial = aws.store.get_trial("job", 1)
    assert trial.retryable and trial.recorded and "not retried" in (trial.failure_reason or "")
    assert aws.service.describe("job")["TrainingJobStatusCounters"]["RetryableError"] == 1


def test_a_trial_claimed_but_never_started_is_stopped():
    aws = FakeAws()
    aws.service.create_job(tuning_request("job", max_jobs=2), EXEC + "job")
    aws.store.claim_trial("job", "1#0", 2)
    from tuner.core.records import PENDING, TrialRecord

    aws.store.put_trial(TrialRecord(job="job", number=1, params={"x": "1"}, training_job_name="job-001-x",
                                    definition=None, lap=1, created=aws.service.ports.now(), status=PENDING))
    aws.service.stop("job")
    aws.service.finalize("job")
    trial = aws.store.get_trial("job", 1)
    assert (trial.status, trial.recorded, trial.retryable) == ("Stopped", True, False)
