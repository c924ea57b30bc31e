"""The lap's step and the recording of a result, on fakes: claim, start, wake, retry, limits."""
from __future__ import annotations

from tuner.core.laps import LAP_FULL

from tests.builders import tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"


def _created(aws: FakeAws, name: str = "job", **kw) -> str:
    aws.service.create_job(tuning_request(name, **kw), EXEC + name)
    return name


def test_a_lap_starts_its_trial_then_the_result_wakes_it():
    aws = FakeAws()
    name = _created(aws, max_jobs=2)
    out = aws.service.next_trial(name, 1, 0, "token-1")
    training = out["TrainingJobName"]
    assert aws.backend.started[training]["HyperParameters"]["x"] == aws.store.get_trial(name, 1).params["x"]
    assert aws.store.get_trial(name, 1).lap == 1 and aws.tokens.sent == []
    aws.logs.by_job[training] = ["epoch 1 loss: 0.9", "epoch 2 loss: 0.4"]
    aws.backend.finish(training)
    recorded = aws.service.record_training_job(training)
    assert recorded == {"TrainingJobName": training, "Status": "Completed", "LapWoken": True}
    trial = aws.store.get_trial(name, 1)
    assert (trial.final_objective, trial.series, trial.task_token) == (0.4, [0.9, 0.4], None)
    assert aws.tokens.sent == [("token-1", {"Done": False, "TrialNumber": 1})]
    # a duplicated event changes nothing and wakes nobody twice
    assert aws.service.record_training_job(training)["LapWoken"] is False


def test_a_retried_step_gets_the_same_trial_and_starts_no_second_job():
    aws = FakeAws()
    name = _created(aws, max_jobs=3)
    first = aws.service.next_trial(name, 1, 0, "token-a")
    again = aws.service.next_trial(name, 1, 0, "token-b")  # the same lap iteration, redelivered
    assert again["TrialNumber"] == first["TrialNumber"] == 1
    assert list(aws.backend.started) == [first["TrainingJobName"]]
    assert aws.store.get_trial(name, 1).task_token == "token-b"


def test_laps_end_when_the_job_is_full_or_their_lap_is():
    aws = FakeAws()
    name = _created(aws, max_jobs=1)
    aws.service.next_trial(name, 1, 0, "t1")
    assert aws.service.next_trial(name, 2, 0, "t2") == {"Done": True, "Reason": "MaxNumberOfTrainingJobs reached"}
    assert aws.service.next_trial(name, 1, 5, "t3", lap_trials=5) == {"Done": True, "Reason": LAP_FULL}


def test_max_runtime_follows_the_injected_clock():
    aws = FakeAws()
    name = _created(aws, max_jobs=5, max_runtime=120)
    aws.service.next_trial(name, 1, 0, "t1")
    aws.clock.advance(119)
    assert aws.service.sweep()["Actions"] == []
    aws.clock.advance(1)
    assert aws.service.sweep()["Actions"] == [
        {"TuningJobName": name, "Action": "Stop", "Reason": "MaxRuntimeInSeconds reached"}
    ]
    assert aws.store.get_job(name).status == "Stopping"
    assert aws.backend.stopped == [aws.store.get_trial(name, 1).training_job_name]
    assert aws.service.next_trial(name, 2, 0, "t2")["Done"] is True
    assert [d["HyperParameterTuningJobStatus"] for d in aws.events.details] == ["InProgress", "Stopping"]


def test_an_internal_error_is_retried_as_a_new_training_job_of_the_same_trial():
    aws = FakeAws()
    name = _created(aws, max_jobs=1, retry_attempts=1)
    first = aws.service.next_trial(name, 1, 0, "t1")["TrainingJobName"]
    aws.backend.finish(first, "Failed")
    aws.backend.status[first] = "Failed"
    original = aws.backend.describe

    def described(n: str) -> dict | None:
        found = original(n)
        return {**found, "FailureReason": "InternalServerError: capacity"} if found else None

    aws.backend.describe = described
    aws.service.record_training_job(first)
    trial = aws.store.get_trial(name, 1)
    assert (trial.attempt, trial.status, trial.recorded) == (1, "Pending", False)
    retry = aws.service.next_trial(name, 1, 1, "t2")
    assert retry["TrialNumber"] == 1 and retry["TrainingJobName"] != first
    assert aws.service.describe(name)["TrainingJobStatusCounters"]["InProgress"] == 1


def test_a_recorder_that_read_an_earlier_attempt_writes_nothing_over_the_retry():
    aws = FakeAws()
    name = _created(aws, max_jobs=1, retry_attempts=2)
    first = aws.service.next_trial(name, 1, 0, "t1")["TrainingJobName"]
    aws.backend.finish(first, "Failed")
    original = aws.backend.describe

    def described(n: str) -> dict | None:
        found = original(n)
        return {**found, "FailureReason": "InternalServerError: capacity"} if found else None

    aws.backend.describe = described
    # GIVEN two recorders of the failed first attempt (its event and the sweep) that both read the trial
    stale = aws.store.get_trial(name, 1)
    aws.service.record_training_job(first)  # the first one schedules the retry
    retry = aws.service.next_trial(name, 1, 1, "t2")["TrainingJobName"]  # and the lap starts it
    started = aws.store.get_trial(name, 1)
    assert (started.training_job_name, started.attempt, started.status) == (retry, 1, "InProgress")
    woken = list(aws.tokens.sent)
    # WHEN the second recorder goes on from its read of the first attempt
    reads = iter([stale])
    real_get = aws.store.get_trial
    aws.store.get_trial = lambda job, number: next(reads, None) or real_get(job, number)
    out = aws.service.record_training_job(first)
    # THEN the running retry is untouched (not rewound to Pending, not recorded as the first's
    # failure) and its lap, waiting on it, is not woken
    assert out == {"Ignored": f"{first} is an earlier attempt of trial 1 of {name}, now {retry}"}
    assert real_get(name, 1) == started and aws.tokens.sent == woken
    assert retry in aws.backend.started


def test_the_sweep_records_a_job_whose_event_was_lost():
    aws = FakeAws()
    name = _created(aws, max_jobs=1)
    training = aws.service.next_trial(name, 1, 0, "t1")["TrainingJobName"]
    aws.logs.by_job[training] = ["loss: 0.25"]
    aws.backend.finish(training)
    assert aws.service.sweep()["Recovered"] == [training]
    assert aws.store.get_trial(name, 1).final_objective == 0.25
    assert aws.service.finalize(name) == {"TuningJobName": name, "Status": "Completed"}


def test_grid_without_a_random_seed_runs_the_combinations_in_lexicographic_order():
    aws = FakeAws()
    ranges = {"CategoricalParameterRanges": [
        {"Name": "a", "Values": ["1", "2"]}, {"Name": "b", "Values": ["x", "y", "z"]},
    ]}
    name = _created(aws, "grid", strategy="Grid", ranges=ranges, max_jobs=None, seed=None)
    for lap in range(1, 7):
        aws.service.next_trial(name, lap, 0, f"token-{lap}")
    params = [aws.store.get_trial(name, n).params for n in range(1, 7)]
    assert [(p["a"], p["b"]) for p in params] == [(a, b) for a in "12" for b in "xyz"]
    # with a RandomSeed the same job runs another, reproducible order
    seeded = _created(aws, "grid-seeded", strategy="Grid", ranges=ranges, max_jobs=None, seed=3)
    for lap in range(1, 7):
        aws.service.next_trial(seeded, lap, 0, f"token-{lap}")
    order = [aws.store.get_trial(seeded, n).params for n in range(1, 7)]
    assert order != params and sorted(map(str, order)) == sorted(map(str, params))


def test_a_mixed_case_job_runs_records_and_answers_under_its_name():
    aws = FakeAws()
    name = _created(aws, "Mixed-Case", max_jobs=1)
    out = aws.service.next_trial("mixed-case", 1, 0, "token-1")  # addressed in another case
    training = out["TrainingJobName"]
    assert training.startswith("Mixed-Case-001-")  # training jobs carry the name as created
    aws.logs.by_job[training] = ["loss: 0.25"]
    aws.backend.finish(training)
    assert aws.service.record_training_job(training)["LapWoken"] is True
    d = aws.service.describe("MIXED-CASE")
    assert d["HyperParameterTuningJobName"] == name
    assert d["BestTrainingJob"]["TuningJobName"] == name and d["TrainingJobStatusCounters"]["Completed"] == 1


def test_a_service_of_a_deployment_tags_every_training_job_it_starts_with_it():
    from tuner import constants
    from tuner.service.tuning import TuningService

    aws = FakeAws()
    name = _created(aws, max_jobs=2, tags=[{"Key": "team", "Value": "a"}])
    deployed = TuningService(aws.service.ports, deployment="TunerTable-1")
    started = aws.backend.started[deployed.next_trial(name, 1, 0, "t1")["TrainingJobName"]]
    deployment_tag = {"Key": constants.DEPLOYMENT_TAG, "Value": "TunerTable-1"}
    assert started["Tags"] == [{"Key": "team", "Value": "a"}, deployment_tag]  # after the request's own


def test_a_training_job_started_while_the_tuning_job_is_being_stopped_is_stopped_by_its_lap():
    """The stop lists the running trials after marking the job Stopping; a lap that started its
    training job in between (its trial still Pending in that listing) stops it itself."""
    aws = FakeAws()
    name = _created(aws, max_jobs=3)
    starting = aws.backend.start

    def start_during_a_stop(request):
        answer = starting(request)
        aws.service.stop(name)  # the stop lands after the start, before the trial is marked In Progress
        return answer

    aws.backend.start = start_during_a_stop
    out = aws.service.next_trial(name, 1, 0, "t1")
    assert out["TrainingJobName"] in aws.backend.stopped
    assert aws.store.get_trial(name, 1).stopped_by == "StopTuningJob"
