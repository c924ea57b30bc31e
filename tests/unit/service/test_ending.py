"""Ending a tuning job, on fakes: finalize with trials left unstarted, and callers racing to end it."""
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


def test_whoever_ends_a_job_first_every_caller_sees_the_target_met():
    # GIVEN a job whose first result meets the target
    aws = FakeAws()
    aws.service.create_job(tuning_request("job", max_jobs=3, completion={"TargetObjectiveMetricValue": 0.5}),
                           EXEC + "job")
    training = aws.service.next_trial("job", 1, 0, "t1")["TrainingJobName"]
    aws.logs.by_job[training] = ["loss: 0.1"]
    aws.backend.finish(training)
    # WHEN another caller (the recorder) ends the job between this caller's read and its own end
    lifecycle = aws.service.lifecycle
    real = lifecycle.end_early

    def raced(name: str, reason: str, **kw) -> bool:
        real(name, reason, **kw)  # the other caller wins
        return real(name, reason, **kw)  # this one changes nothing: False

    lifecycle.end_early = raced  # type: ignore[method-assign]
    aws.service.recorder._write_result(aws.store.get_trial("job", 1), aws.backend.describe(training))
    # THEN this caller still answers the reason, so a lap claims no further trial
    assert aws.service.limits.check_completion("job").startswith("TargetObjectiveMetricValue reached")
    assert aws.service.next_trial("job", 1, 1, "t2")["Done"] is True
    assert len(aws.store.list_trials("job")) == 1


def test_finalize_reads_the_trial_list_again_only_after_changing_trials(monkeypatch):
    """The list is the job's whole history (up to 10,000 items with series): finalize reads it once,
    and once more only when it has just ended claimed-but-unstarted trials."""
    aws = FakeAws()
    aws.service.create_job(tuning_request("job", max_jobs=1), EXEC + "job")
    training = aws.service.next_trial("job", 1, 0, "t1")["TrainingJobName"]
    aws.logs.by_job[training] = ["loss: 0.1"]
    aws.backend.finish(training)
    aws.service.record_training_job(training)
    reads = []
    real = aws.store.list_trials
    monkeypatch.setattr(aws.store, "list_trials", lambda name: reads.append(name) or real(name))
    assert aws.service.finalize("job")["Status"] == "Completed"
    assert reads.count("job") == 2  # finalize's one read, and the state-change event's describe
