"""Fault injection through the offline loop (the package's LocalTuner, faults keyed by tuning job).

Every scenario checks the same invariants (``assert_invariants``): never more training jobs than
MaxNumberOfTrainingJobs, never more than MaxParallelTrainingJobs in progress, every trial once
(none lost, none duplicated), the counters equal to what SageMaker (the stand-in) reports, and the
expected final status.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from tuner.local import eventbridge

from tests.builders import SCRIPTS, categorical, continuous, max_concurrent, start_and_wait, tuning_request

pytestmark = pytest.mark.e2e
TERMINAL = ("Completed", "Failed", "Stopped")


class Faults:
    """One fault hook for the shared LocalTuner, dispatching on the tuning job's name."""

    def __init__(self) -> None:
        self.by_job: dict[str, Callable[[str, dict], str | None]] = {}
        self.calls: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, training_job: str, request: dict) -> str | None:
        with self._lock:
            self.calls[training_job] += 1
            for prefix, hook in self.by_job.items():
                if training_job.startswith(prefix + "-"):
                    return hook(training_job, request)
        return None


@pytest.fixture(scope="module")
def faults(local_tuner):
    hook = Faults()
    previous = local_tuner.fault
    local_tuner.fault = hook
    yield hook
    local_tuner.fault = previous


def assert_invariants(lt, request, describe, *, status="Completed"):
    name = request["HyperParameterTuningJobName"]
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    max_jobs, max_parallel = limits["MaxNumberOfTrainingJobs"], limits["MaxParallelTrainingJobs"]
    transitions = lt.sagemaker.transitions
    started = [job for _, job, s in transitions if job.startswith(name + "-") and s == "InProgress"]
    # never more training jobs than MaxNumberOfTrainingJobs, each started once
    assert len(started) == len(set(started)) <= max_jobs
    # never more than MaxParallelTrainingJobs at once
    assert max_concurrent(transitions, name) <= max_parallel
    # every trial once: trial numbers 1..N, one training job each, all listed, all finished
    trials = lt.service.store.list_trials(name)
    assert [t.number for t in trials] == list(range(1, len(trials) + 1))
    assert len({t.training_job_name for t in trials}) == len(trials)
    summaries = lt.all_training_jobs(name)["TrainingJobSummaries"]
    listed = [s["TrainingJobName"] for s in summaries]
    assert sorted(listed) == sorted(set(listed)) == sorted(set(started))
    assert all(t.recorded for t in trials)
    # the counters are what SageMaker reports for those jobs
    sm = lt.session.client("sagemaker")
    real = {n: sm.describe_training_job(TrainingJobName=n) for n in listed}
    assert all(d["TrainingJobStatus"] in TERMINAL for d in real.values())
    seen = Counter(d["TrainingJobStatus"] for d in real.values())
    counters = describe["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0
    assert counters["Completed"] == seen["Completed"] and counters["Stopped"] == seen["Stopped"]
    assert counters["RetryableError"] + counters["NonRetryableError"] == seen["Failed"]
    for s in summaries:
        assert s["TrainingJobStatus"] == real[s["TrainingJobName"]]["TrainingJobStatus"]
    objectives = describe["ObjectiveStatusCounters"]
    assert sum(objectives.values()) == len(listed) and objectives["Pending"] == 0
    assert describe["HyperParameterTuningJobStatus"] == status
    assert lt.execution(name)["status"] == ("SUCCEEDED" if status != "Failed" else "FAILED")
    return {s["TrainingJobName"]: s for s in summaries}


def _grid(name, values, *, parallel=2, regexes=None):
    """Every value of x once, on tests/e2e/scripts/quick/train.py."""
    return tuning_request(
        name,
        source="quick",
        strategy="Grid",
        ranges=categorical(*values),
        max_jobs=len(values),
        max_parallel=parallel,
        metric_definitions=regexes,
    )


def test_algorithm_errors_fail_their_trials_not_the_tuning_job(local_tuner, faults):
    # GIVEN one script that exits non-zero (x=fail) and one job the platform fails (x=4)
    faults.by_job["flt-algo"] = lambda job, req: (
        "AlgorithmError: out of memory (injected)" if req["HyperParameters"].get("x") == "4" else None
    )
    request = _grid("flt-algo", ["1", "fail", "4", "3"])
    describe = start_and_wait(local_tuner, request)
    jobs = assert_invariants(local_tuner, request, describe)
    failed = [j for j in jobs.values() if j["TrainingJobStatus"] == "Failed"]
    assert len(failed) == 2 and all(j["FailureReason"].startswith("AlgorithmError") for j in failed)
    assert describe["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert describe["BestTrainingJob"]["TunedHyperParameters"] == {"x": "3"}


def test_every_trial_failing_fails_the_tuning_job_with_a_reason(local_tuner, faults):
    request = _grid("flt-allfail", ["fail", "silent"])
    describe = start_and_wait(local_tuner, request)
    assert_invariants(local_tuner, request, describe, status="Failed")
    assert "All 2 training jobs failed" in describe["FailureReason"]
    assert "BestTrainingJob" not in describe


def test_no_metric_nan_inf_and_garbage_never_become_an_objective(local_tuner, faults):
    # GIVEN trials that print no metric, NaN and infinite losses, beside one that prints 1.33;
    # and a second metric whose regex captures text, not a number
    regexes = [
        {"Name": "loss", "Regex": r"loss: (\S+)"},
        {"Name": "garbage", "Regex": r"(epoch) \d+"},
    ]
    request = _grid("flt-values", ["silent", "nan", "inf", "1e999", "2"], regexes=regexes)
    describe = start_and_wait(local_tuner, request)
    jobs = assert_invariants(local_tuner, request, describe)
    by_x = {j["TunedHyperParameters"]["x"]: j for j in jobs.values()}
    # THEN the training jobs completed, but only x=2 has an objective
    assert all(j["TrainingJobStatus"] == "Completed" for j in jobs.values())
    for x in ("silent", "nan", "inf", "1e999"):
        assert by_x[x]["ObjectiveStatus"] == "Failed"
        assert "FinalHyperParameterTuningJobObjectiveMetric" not in by_x[x]
    assert by_x["2"]["ObjectiveStatus"] == "Succeeded"
    assert describe["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 0, "Failed": 4}
    assert describe["BestTrainingJob"]["TunedHyperParameters"] == {"x": "2"}
    value = describe["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert value == pytest.approx(1 + 1 / 3, abs=1e-5)
    trial = next(t for t in local_tuner.service.store.list_trials("flt-values") if t.params == {"x": "2"})
    assert "garbage" not in trial.metrics  # text captures are rejected, never stored


def _training_events_of(name):
    return [
        d
        for d in eventbridge.deliveries
        if isinstance(d.get("event"), dict)
        and str(d["event"].get("detail", {}).get("TrainingJobName", "")).startswith(name + "-")
    ]


def test_a_duplicated_state_change_event_is_counted_once(local_tuner, faults, monkeypatch):
    # GIVEN EventBridge delivering every state-change event of this tuning job twice
    original = eventbridge._send_to_targets

    def twice(rule, event, transform_input):
        original(rule, event, transform_input)
        detail = event.get("detail") or {}
        if str(detail.get("TrainingJobName", "")).startswith("flt-dup-"):
            original(rule, event, transform_input)

    monkeypatch.setattr(eventbridge, "_send_to_targets", twice)
    request = _grid("flt-dup", ["1", "2", "fail", "4"])
    describe = start_and_wait(local_tuner, request)
    monkeypatch.setattr(eventbridge, "_send_to_targets", original)
    # WHEN, after the end, the training-event Lambda gets a finished job's event once more
    eventbridge.wait_deliveries(10)
    done = [
        d for d in _training_events_of("flt-dup") if d["event"]["detail"]["TrainingJobStatus"] in TERMINAL
    ]
    assert len(done) >= 8  # two deliveries per finished job
    fn = local_tuner.deployment.outputs["TrainingEventHandlerName"]
    for d in done[:2]:
        r = local_tuner.lam.invoke(FunctionName=fn, Payload=json.dumps(d["event"]).encode())
        assert "FunctionError" not in r
    # THEN nothing is counted twice
    again = local_tuner.describe("flt-dup")
    assert again["TrainingJobStatusCounters"] == describe["TrainingJobStatusCounters"]
    assert again["ObjectiveStatusCounters"] == describe["ObjectiveStatusCounters"]
    assert describe["TrainingJobStatusCounters"] == {
        "Completed": 3,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 1,
        "Stopped": 0,
    }
    assert_invariants(local_tuner, request, again)


def test_a_lost_state_change_event_is_recovered_by_the_sweeper(local_tuner, faults, monkeypatch):
    # GIVEN EventBridge losing every terminal event of this tuning job's training jobs
    original = eventbridge._send_to_targets
    lost: list[str] = []

    def lossy(rule, event, transform_input):
        detail = event.get("detail") or {}
        if (
            str(detail.get("TrainingJobName", "")).startswith("flt-lost-")
            and detail.get("TrainingJobStatus") in TERMINAL
        ):
            lost.append(detail["TrainingJobName"])
            return
        original(rule, event, transform_input)

    monkeypatch.setattr(eventbridge, "_send_to_targets", lossy)
    request = _grid("flt-lost", ["1", "2", "3"])
    describe = start_and_wait(local_tuner, request, timeout=120)
    # THEN every trial was still recorded (by the sweeper, which the harness runs every 2 s)
    assert sorted(set(lost)) == sorted(
        t.training_job_name for t in local_tuner.service.store.list_trials("flt-lost")
    )
    assert_invariants(local_tuner, request, describe)
    assert describe["TrainingJobStatusCounters"]["Completed"] == 3


def test_throttled_and_capacity_limited_creates_back_off_without_failing_the_job(local_tuner, faults):
    # GIVEN CreateTrainingJob throttled 6 times in a row for trial 1 (more than botocore's own
    # retries: the step fails with TransientBackendError and Step Functions retries it) and refused
    # with ResourceLimitExceeded twice for trial 2 (the stand-in says its type's quota is full, so
    # the lap waits for capacity in the state machine: docs/capacity.md)
    refusals: Counter = Counter()

    def hook(training_job: str, request: dict) -> str | None:
        trial = training_job.split("-")[-2]
        limit = {"001": 6, "002": 2}.get(trial, 0)
        if refusals[trial] < limit:
            refusals[trial] += 1
            return "ThrottlingException:create" if trial == "001" else "ResourceLimitExceeded:create"
        return None

    faults.by_job["flt-thr"] = hook
    request = tuning_request("flt-thr", source="quick", ranges=continuous(1, 5), max_jobs=4, max_parallel=2)
    t0 = time.monotonic()
    describe = start_and_wait(local_tuner, request, timeout=240)
    # THEN the creates were retried (with back-off) until they went through, and nothing failed
    assert refusals == {"001": 6, "002": 2}
    assert_invariants(local_tuner, request, describe)
    assert describe["TrainingJobStatusCounters"]["Completed"] == 4
    # trial 2 waited for capacity once per refusal; throttling is no capacity wait
    waits = {t.number: t.capacity_waits for t in local_tuner.service.store.list_trials("flt-thr")}
    assert waits == {1: 0, 2: 2, 3: 0, 4: 0}
    assert time.monotonic() - t0 < 200


def test_two_tuning_jobs_at_once_keep_their_own_limits_and_counters(local_tuner, faults):
    first = tuning_request("flt-twoa", source="quick", ranges=continuous(1, 5), max_jobs=5, max_parallel=2, seed=3)
    second = _grid("flt-twob", ["1", "fail", "3"], parallel=3)
    for request in (first, second):
        local_tuner.start(request, base_dir=SCRIPTS)
    described = [local_tuner.wait(r["HyperParameterTuningJobName"], timeout=300) for r in (first, second)]
    assert_invariants(local_tuner, first, described[0])
    assert_invariants(local_tuner, second, described[1])
    assert described[0]["TrainingJobStatusCounters"]["Completed"] == 5
    assert described[1]["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    names_a = {t.training_job_name for t in local_tuner.service.store.list_trials("flt-twoa")}
    names_b = {t.training_job_name for t in local_tuner.service.store.list_trials("flt-twob")}
    assert not names_a & names_b


def test_a_transient_lambda_error_mid_step_is_retried(local_tuner, lambda_faults):
    # GIVEN the NextTrial step failing transiently on its 1st and 4th invocations
    request = _grid("flt-transient", ["1", "2", "3", "4"])
    lambda_faults.plan["flt-transient"] = {1: "before", 4: "before"}
    describe = start_and_wait(local_tuner, request)
    # THEN the step was retried and every trial ran exactly once
    jobs = assert_invariants(local_tuner, request, describe)
    assert len(jobs) == 4 and describe["TrainingJobStatusCounters"]["Completed"] == 4


def test_a_lap_that_dies_after_starting_its_job_starts_no_second_job(local_tuner, lambda_faults):
    # GIVEN NextTrial invocations that start the training job and then fail (the lap's step "dies"
    # between starting the job and returning); the retried step claims the same trial
    request = _grid("flt-dies", ["1", "2", "3"])
    lambda_faults.plan["flt-dies"] = {1: "after", 3: "after"}
    describe = start_and_wait(local_tuner, request)
    jobs = assert_invariants(local_tuner, request, describe)
    # THEN the deterministic name recognised the retried start: three jobs, not five
    assert len(jobs) == 3


def test_a_lap_that_breaks_fails_the_tuning_job_with_its_own_error(local_tuner, lambda_faults):
    # GIVEN a NextTrial invocation that fails with an error nothing retries (a bug), mid-run,
    # while the other lap's training job is running
    request = _grid("flt-broken", ["1", "2", "3", "4", "5", "6"], parallel=2)
    lambda_faults.plan["flt-broken"] = {3: "broken"}
    describe = start_and_wait(local_tuner, request)
    # THEN the lap marks the tuning job Failed with that error (the parent's Map only learns that
    # a child failed), the running job is stopped and the counters still match SageMaker
    jobs = assert_invariants(local_tuner, request, describe, status="Failed")
    assert "RuntimeError" in describe["FailureReason"] and "injected permanent fault" in describe["FailureReason"]
    assert 2 <= len(jobs) < 6


def test_a_step_delivered_twice_runs_each_trial_once(local_tuner, lambda_faults):
    # GIVEN at-least-once delivery: every NextTrial invocation runs its handler twice
    request = _grid("flt-twice", ["1", "2", "3", "4"])
    lambda_faults.plan["flt-twice"] = {i: "twice" for i in range(1, 20)}
    describe = start_and_wait(local_tuner, request)
    jobs = assert_invariants(local_tuner, request, describe)
    assert len(jobs) == 4


def test_events_out_of_order_change_nothing(local_tuner):
    # GIVEN a finished tuning job
    request = _grid("flt-order", ["2", "3"])
    before = start_and_wait(local_tuner, request)
    fn = local_tuner.deployment.outputs["TrainingEventHandlerName"]
    lam = local_tuner.session.client("lambda")
    # WHEN stale events arrive late and out of order: InProgress after Completed, then Completed again
    for summary in local_tuner.all_training_jobs("flt-order")["TrainingJobSummaries"]:
        for status in ("InProgress", "Completed", "InProgress"):
            event = {
                "source": "aws.sagemaker",
                "detail-type": "SageMaker Training Job State Change",
                "detail": {"TrainingJobName": summary["TrainingJobName"], "TrainingJobStatus": status},
            }
            lam.invoke(FunctionName=fn, Payload=json.dumps(event).encode())
    after = local_tuner.describe("flt-order")
    # THEN the recorded results and counters are unchanged (the handler re-reads the job itself)
    assert after["TrainingJobStatusCounters"] == before["TrainingJobStatusCounters"]
    assert after["ObjectiveStatusCounters"] == before["ObjectiveStatusCounters"]
    assert after["BestTrainingJob"]["TrainingJobName"] == before["BestTrainingJob"]["TrainingJobName"]
    assert_invariants(local_tuner, request, after)


def test_internal_server_error_without_retry_strategy_is_a_retryable_error_not_retried(local_tuner, faults):
    # GIVEN no RetryStrategy and one job that SageMaker fails with InternalServerError
    request = _grid("flt-ise", ["1", "2", "3"])
    faults.by_job["flt-ise"] = lambda job, req: (
        "InternalServerError" if req["HyperParameters"].get("x") == "2" else None
    )
    describe = start_and_wait(local_tuner, request)
    jobs = assert_invariants(local_tuner, request, describe)
    # THEN it is not retried (3 jobs in all) and counts as a RetryableError, as SageMaker counts it
    assert len(jobs) == 3
    assert describe["TrainingJobStatusCounters"]["RetryableError"] == 1
    assert describe["TrainingJobStatusCounters"]["Completed"] == 2
