"""Failing fast on fakes: a tuning job none of whose training jobs succeeds ends after N attempts
(``core.fail_fast``), decided once by the recorder or a lap, and Finalize makes it Failed with the
failures' reason."""
from __future__ import annotations

from tuner.core.fail_fast import REASON_NO_SUCCESS
from tuner.core.records import TrialRecord
from tuner.core.request import parse_request

from tests.builders import training_definition, tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"
CRASH = "AlgorithmError: ExecuteUserScriptError: exit code 1\nNameError: name 'lerning_rate' is not defined"
RANGES = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "10"}]}
INTERNAL = "InternalServerError: We encountered an internal error. Please try again."


def _created(aws: FakeAws, name: str = "job", **kw) -> str:
    aws.service.create_job(tuning_request(name, **kw), EXEC + name)
    return name


def _run(aws: FakeAws, name: str, lap: int, iteration: int) -> str:
    """The lap's next trial, started: its training job's name."""
    out = aws.service.next_trial(name, lap, iteration, f"t{lap}.{iteration}")
    assert "TrainingJobName" in out, out
    return out["TrainingJobName"]


def _fail(aws: FakeAws, training: str, reason: str = CRASH) -> dict:
    aws.backend.finish(training, "Failed", FailureReason=reason)
    return aws.service.record_training_job(training)


def _complete(aws: FakeAws, training: str, loss: float) -> None:
    aws.logs.by_job[training] = [f"loss: {loss}"]
    aws.backend.finish(training)
    aws.service.record_training_job(training)


def _statuses(aws: FakeAws) -> list[str]:
    return [d["HyperParameterTuningJobStatus"] for d in aws.events.details]


def test_five_failures_end_the_job_failed_with_the_scripts_error():
    # GIVEN a job of 20 trials, one at a time, whose script crashes
    aws = FakeAws()
    name = _created(aws, max_jobs=20)
    for i in range(4):
        _fail(aws, _run(aws, name, 1, i))
        assert aws.store.get_job(name).completion_reason is None
    # WHEN the 5th fails
    _fail(aws, _run(aws, name, 1, 4))
    # THEN the job ends, with AMT's sentence and the script's error, before the lap is woken
    reason = aws.store.get_job(name).completion_reason
    assert reason.startswith(f"{REASON_NO_SUCCESS} after 5 attempts. Please take a look")
    assert f'(5 of 5 failed training jobs): "{CRASH}"' in reason
    # the lap claims nothing more: 5 training jobs, not 20
    assert aws.service.next_trial(name, 1, 5, "t1.5") == {"Done": True, "Reason": reason}
    assert len(aws.backend.started) == 5
    # Finalize (the laps done) makes it Failed with that reason, gives the slot back, sends the event
    assert aws.store.job_slots_in_use() == 1 and _statuses(aws) == ["InProgress"]
    assert aws.service.finalize(name) == {"TuningJobName": name, "Status": "Failed"}
    described = aws.service.describe(name)
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert described["FailureReason"] == reason
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 5
    assert aws.store.job_slots_in_use() == 0 and _statuses(aws) == ["InProgress", "Failed"]
    # a retried Finalize changes nothing and sends nothing
    assert aws.service.finalize(name) == {"TuningJobName": name, "Status": "Failed"}
    assert _statuses(aws) == ["InProgress", "Failed"]


def test_a_success_among_the_failures_keeps_the_job_running():
    aws = FakeAws()
    name = _created(aws, max_jobs=20)
    _fail(aws, _run(aws, name, 1, 0))
    _complete(aws, _run(aws, name, 1, 1), 0.5)
    for i in range(2, 9):
        _fail(aws, _run(aws, name, 1, i))
    assert aws.store.get_job(name).completion_reason is None
    assert "TrainingJobName" in aws.service.next_trial(name, 1, 9, "t1.9")


def test_a_retry_waiting_is_not_an_attempt_and_exhausted_retries_are():
    # GIVEN trials retried once after an internal error, and 4 crashes
    aws = FakeAws()
    name = _created(aws, max_jobs=20, retry_attempts=1)
    for i in range(4):
        _fail(aws, _run(aws, name, 1, i))
    first = _run(aws, name, 1, 4)
    # WHEN the 5th trial's first attempt fails with a retryable error
    _fail(aws, first, INTERNAL)
    # THEN it waits for its retry and the job goes on
    assert aws.store.get_trial(name, 5).status == "Pending"
    assert aws.store.get_job(name).completion_reason is None
    retry = _run(aws, name, 1, 5)
    assert retry != first and aws.store.get_trial(name, 5).attempt == 1
    # WHEN the retry fails too: the trial is a failed attempt, the 5th
    _fail(aws, retry, INTERNAL)
    assert f'(4 of 5 failed training jobs): "{CRASH}"' in aws.store.get_job(name).completion_reason


def test_running_jobs_are_stopped_and_claimed_trials_end_at_finalize():
    # GIVEN 3 laps at once (N = 5): trials 1..3 start together
    aws = FakeAws()
    name = _created(aws, max_jobs=20, max_parallel=3)
    running = {lap: _run(aws, name, lap, 0) for lap in (1, 2, 3)}
    _fail(aws, running[1])
    _fail(aws, running[2])
    running[1] = _run(aws, name, 1, 1)  # trial 4
    running[2] = _run(aws, name, 2, 1)  # trial 5
    _fail(aws, running[1])
    _fail(aws, running[2])
    running[1] = _run(aws, name, 1, 2)  # trial 6
    aws.store.claim_trial(name, "2#2", 20)  # trial 7: claimed and proposed by lap 2, not started yet
    aws.store.put_trial(TrialRecord(job=name, number=7, params={"x": "1"}, training_job_name=f"{name}-007-x", lap=2))
    # WHEN the 5th failure is recorded while trial 3 runs
    _fail(aws, running[1])
    # THEN the job ends and trial 3's training job is stopped, saying why
    assert aws.store.get_job(name).completion_reason.startswith(REASON_NO_SUCCESS)
    assert aws.backend.stopped == [running[3]]
    assert aws.store.get_trial(name, 3).stopped_by == REASON_NO_SUCCESS
    aws.backend.finish(running[3], "Stopped")
    aws.service.record_training_job(running[3])
    # and Finalize (the laps done) ends the claimed trial, so nothing shows In Progress
    assert aws.service.next_trial(name, 1, 3, "t1.3")["Done"] is True
    assert aws.service.finalize(name)["Status"] == "Failed"
    unstarted = aws.store.get_trial(name, 7)
    assert (unstarted.status, unstarted.recorded, unstarted.stopped_by) == ("Stopped", True, REASON_NO_SUCCESS)
    counters = aws.service.describe(name)["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and counters["NonRetryableError"] == 5 and counters["Stopped"] == 2


def test_a_duplicated_event_and_racing_recorders_end_the_job_once():
    aws = FakeAws()
    name = _created(aws, max_jobs=20)
    for i in range(4):
        _fail(aws, _run(aws, name, 1, i))
    last = _run(aws, name, 1, 4)
    aws.backend.finish(last, "Failed", FailureReason=CRASH)
    # WHEN a second recorder ends the job between this recorder's read of the job and its own end
    limits = aws.service.limits
    real = limits.check_no_success
    seen = []

    def raced(job, req):
        first = real(job, req)  # the other recorder wins
        second = real(job, req)  # this one, with the same stale read of the job, changes nothing
        seen.append((first, second))
        return second

    limits.check_no_success = raced  # type: ignore[method-assign]
    aws.service.record_training_job(last)
    # THEN both answer the same reason, the one stored
    [(first, second)] = seen
    assert first is not None and first == second == aws.store.get_job(name).completion_reason
    # a duplicated event changes nothing either, and Finalize sends one Failed event
    limits.check_no_success = real  # type: ignore[method-assign]
    aws.service.record_training_job(last)
    assert aws.store.get_job(name).completion_reason == first
    aws.service.finalize(name)
    assert _statuses(aws) == ["InProgress", "Failed"]


def test_a_recorder_that_died_before_its_check_is_covered_by_the_redelivered_event():
    aws = FakeAws()
    name = _created(aws, max_jobs=20)
    for i in range(4):
        _fail(aws, _run(aws, name, 1, i))
    last = _run(aws, name, 1, 4)
    aws.backend.finish(last, "Failed", FailureReason=CRASH)
    # the result is written, then the recorder dies (its check never runs)
    aws.service.recorder._write_result(aws.store.get_trial(name, 5), aws.backend.describe(last))
    assert aws.store.get_job(name).completion_reason is None
    # the event's redelivery finds the trial recorded and still checks
    aws.service.record_training_job(last)
    assert aws.store.get_job(name).completion_reason.startswith(REASON_NO_SUCCESS)


def test_a_lap_woken_before_the_recorders_check_fails_the_job_itself():
    aws = FakeAws()
    name = _created(aws, max_jobs=20)
    for i in range(4):
        _fail(aws, _run(aws, name, 1, i))
    last = _run(aws, name, 1, 4)
    aws.backend.finish(last, "Failed", FailureReason=CRASH)
    aws.service.recorder._write_result(aws.store.get_trial(name, 5), aws.backend.describe(last))
    # the sweeper wakes the lap now; its step checks before claiming
    out = aws.service.next_trial(name, 1, 5, "t1.5")
    assert out["Done"] is True and out["Reason"].startswith(REASON_NO_SUCCESS)
    assert out["Reason"] == aws.store.get_job(name).completion_reason and len(aws.backend.started) == 5


def _two_definitions(aws: FakeAws) -> tuple[str, str]:
    """A job whose definition "broken" failed 5 times while the first trial of "works" runs."""
    definitions = [training_definition(name=n, objective=("Minimize", "loss"), ranges=RANGES)
                   for n in ("broken", "works")]
    name = _created(aws, max_jobs=20, max_parallel=2, definitions=definitions)
    broken, works = _run(aws, name, 1, 0), _run(aws, name, 2, 0)
    assert [aws.store.get_trial(name, n).definition for n in (1, 2)] == ["broken", "works"]
    for n in range(3, 7):  # lap 1's next four trials, all of "broken", all failed
        aws.store.add_trial(name, n, None, definition="broken", failure_reason=CRASH, lap=1)
    aws.store.update_job(name, next_trial=6)
    _fail(aws, broken)
    return name, works


def test_a_broken_definition_waits_for_the_other_definitions_first_result():
    aws = FakeAws()
    name, works = _two_definitions(aws)
    assert aws.store.get_job(name).completion_reason is None  # "works" may work
    # WHEN the other definition fails too, the job ends
    _fail(aws, works, "ClientError: access denied to s3://data")
    assert f'(5 of 6 failed training jobs): "{CRASH}"' in aws.store.get_job(name).completion_reason


def test_a_working_definition_keeps_the_job_running_however_often_the_other_fails():
    aws = FakeAws()
    name, works = _two_definitions(aws)
    _complete(aws, works, 0.5)
    for n in range(7, 15):
        aws.store.add_trial(name, n, None, definition="broken", failure_reason=CRASH)
    aws.store.update_job(name, next_trial=14)
    job = aws.store.get_job(name)
    assert aws.service.limits.check_no_success(job, parse_request(job.request)) is None
    assert aws.store.get_job(name).completion_reason is None


def test_a_job_that_ended_fast_stays_failed_when_a_stopped_job_completes_after_all():
    # GIVEN the rule met while trial 2 runs; its stop comes too late and it completes
    aws = FakeAws()
    name = _created(aws, max_jobs=20, max_parallel=2)
    slow = _run(aws, name, 2, 0)
    for i in range(5):
        _fail(aws, _run(aws, name, 1, i))
    assert aws.backend.stopped == [slow]
    _complete(aws, slow, 0.5)
    # THEN the decision stands: Failed, with the reason given when it was made
    assert aws.service.finalize(name)["Status"] == "Failed"
    assert aws.service.describe(name)["FailureReason"].startswith(REASON_NO_SUCCESS)


def test_once_a_trial_succeeded_a_lap_no_longer_reads_the_trials_for_the_rule(monkeypatch):
    aws = FakeAws()
    name = _created(aws, max_jobs=20)
    _complete(aws, _run(aws, name, 1, 0), 0.5)
    for i in range(1, 6):
        _fail(aws, _run(aws, name, 1, i))
    reads: list[str] = []
    real = aws.store.list_trials
    monkeypatch.setattr(aws.store, "list_trials", lambda n: reads.append(n) or real(n))
    limits = aws.service.limits
    job = aws.store.get_job(name)
    req = parse_request(job.request)
    assert limits.check_no_success(job, req) is None and reads == []  # remembered: no read
    limits._succeeded.clear()  # a cold container reads once, then remembers
    assert limits.check_no_success(job, req) is None and reads == [name]
    assert limits.check_no_success(job, req) is None and reads == [name]
