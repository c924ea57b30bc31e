"""Scale: Step Functions history events, measured in the offline loop, and the quota arithmetic for
the largest tuning job SageMaker allows (10,000 training jobs, 100 in parallel).

A tuning job runs as laps: each a child execution of the distributed Map ``RunLaps`` with its own
history, at most ``LapTrials`` trials long (``core.laps.lap_plan``). So two things are measured:

- the parent execution's history, which must not grow with the number of trials or parallel laps;
- a lap's history, ``E_lap(n) = fixed + per_trial * n``, from the deployed machine's own item
  processor run as a state machine (moto keeps a distributed Map's child histories out of sight);
  a full lap of ``DEFAULT_LAP_TRIALS`` must stay well inside the 25,000-event quota.

Payloads must stay far below 256 KB. docs/reliability.md gives the figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tuner import constants
from tuner.core.laps import EVENTS_PER_LAP, EVENTS_PER_TRIAL, LAP_FULL, lap_plan

from tests.builders import SCRIPTS, continuous, max_concurrent, start_and_wait, tuning_request

pytestmark = pytest.mark.e2e
HISTORY_QUOTA = 25_000
PAYLOAD_QUOTA = 256 * 1024
# A retried NextTrial (a lost wake-up's timeout, a transient Lambda error) adds a few events: a
# full lap keeps at least this share of the quota free for them.
RETRY_HEADROOM = 0.4


def _request(name: str, max_jobs: int, parallel: int) -> dict:
    """One epoch of tests/e2e/scripts/quick/train.py per trial."""
    return tuning_request(
        name, source="quick", ranges=continuous(1, 5), max_jobs=max_jobs, max_parallel=parallel, static={"epochs": "1"}
    )


def _largest_payload(events: list[dict]) -> int:
    largest = 0
    for e in events:
        for key, details in e.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output", "parameters"):
                    if isinstance(details.get(field), str):
                        largest = max(largest, len(details[field].encode()))
    return largest


def _history(sfn, arn: str) -> list[dict]:
    events: list[dict] = []
    kwargs: dict = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


@contextmanager
def lap_trials(lt, trials: int) -> Iterator[None]:
    """Deploy-time setting ``lap_trials`` (the create_job Lambda's environment), changed in place."""
    lam = lt.lam
    [fn] = [
        f
        for f in lam.list_functions()["Functions"]
        if constants.ENV_LAP_TRIALS in (f.get("Environment") or {}).get("Variables", {})
    ]
    variables = fn["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=fn["FunctionName"], Environment={"Variables": {**variables, constants.ENV_LAP_TRIALS: str(trials)}}
    )
    try:
        yield
    finally:
        lam.update_function_configuration(FunctionName=fn["FunctionName"], Environment={"Variables": variables})


# ---- the parent execution -------------------------------------------------------------------
@pytest.fixture(scope="module")
def parents(local_tuner):
    """(trials, parallel laps) -> the parent execution's history, for three sizes."""
    out = {}
    for (n, p), name in {(3, 1): "scale-a", (6, 1): "scale-b", (6, 3): "scale-c"}.items():
        describe = start_and_wait(local_tuner, _request(name, n, p))
        assert describe["HyperParameterTuningJobStatus"] == "Completed"
        assert describe["TrainingJobStatusCounters"]["Completed"] == n
        out[(n, p)] = local_tuner.history(name)
    return out


def test_the_parent_history_does_not_grow_with_trials_or_parallel_laps(parents):
    counts = {k: len(v) for k, v in parents.items()}
    print(f"parent history events by (trials, parallel laps): {counts}")
    assert len(set(counts.values())) == 1, counts  # the laps' events are in their own histories
    [events] = set(counts.values())
    assert events < 50
    types = {e["type"] for e in parents[(6, 3)]}
    assert {"MapRunStarted", "MapRunSucceeded"} <= types
    assert not types & {"TaskSubmitted", "MapIterationStarted"}  # no trial's step in the parent


# ---- one lap --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lap_machine(local_tuner) -> str:
    """The deployed ``RunLaps`` item processor (what every child execution runs), as a machine."""
    sfn = local_tuner.sfn
    arn = local_tuner.deployment.state_machine_arn
    described = sfn.describe_state_machine(stateMachineArn=arn)
    processor = json.loads(described["definition"])["States"]["RunLaps"]["ItemProcessor"]
    lap = {"StartAt": processor["StartAt"], "States": processor["States"]}
    return sfn.create_state_machine(name="scale-lap", definition=json.dumps(lap), roleArn=described["roleArn"])[
        "stateMachineArn"
    ]


def _one_lap(lt, machine: str, name: str, max_jobs: int, trials: int) -> tuple[list[dict], dict]:
    """CreateTuningJob's work, then one lap of at most ``trials`` trials run as its own execution."""
    prepared = lt.prepare(_request(name, max_jobs, 1), base_dir=SCRIPTS)
    lt.service.create_job(prepared, execution_arn=lt.execution_arn(name))
    arn = lt.sfn.start_execution(
        stateMachineArn=machine,
        name=f"{name}-lap-1",
        input=json.dumps({
            "TuningJobName": name, "Lap": 1, "Iteration": 0, "LapTrials": trials,
            # a lap that starts with the others: it first waits 0..1 s (the jittered start)
            "MaxParallel": 1, "StartJitter": 1,
        }),
    )["executionArn"]
    deadline = time.monotonic() + 300
    while (status := lt.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"lap of {name} still running"
        time.sleep(0.5)
    assert status["status"] == "SUCCEEDED", status
    lt.service.finalize(name)
    return _history(lt.sfn, arn), json.loads(status["output"])


@pytest.fixture(scope="module")
def laps(local_tuner, lap_machine):
    runs = {
        3: _one_lap(local_tuner, lap_machine, "scale-lap-a", 3, 1000),
        6: _one_lap(local_tuner, lap_machine, "scale-lap-b", 6, 1000),
        "full": _one_lap(local_tuner, lap_machine, "scale-lap-c", 5, 2),
    }
    return runs


def test_a_lap_costs_a_fixed_number_of_events_per_trial(laps):
    e3, e6 = len(laps[3][0]), len(laps[6][0])
    per_trial = (e6 - e3) / 3
    fixed = e3 - 3 * per_trial
    print(f"lap history events: E(3)={e3} E(6)={e6}; per trial {per_trial:g}, fixed {fixed:g}")
    assert per_trial == int(per_trial) and 5 <= per_trial <= 20  # exact, deterministic
    assert per_trial <= EVENTS_PER_TRIAL and fixed <= EVENTS_PER_LAP  # what capacity_waits_allowed assumes
    assert laps[3][1] == {"Reason": "MaxNumberOfTrainingJobs reached"}


def test_a_full_lap_ends_after_its_trials_and_leaves_the_rest_to_the_next(local_tuner, laps):
    events, output = laps["full"]
    assert output == {"Reason": LAP_FULL}
    trials = local_tuner.service.store.list_trials("scale-lap-c")
    assert [t.number for t in trials] == [1, 2]  # LapTrials = 2 of the job's 5
    # the lap's history is exactly what the measured lap costs predict for two trials
    e3, e6 = len(laps[3][0]), len(laps[6][0])
    assert len(events) == e3 - (e6 - e3) // 3


def test_10000_trials_100_in_parallel_stay_inside_every_quota(parents, laps):
    """The arithmetic of docs/reliability.md, from the measured costs."""
    e3, e6 = len(laps[3][0]), len(laps[6][0])
    per_trial, fixed = (e6 - e3) // 3, e3 - 3 * ((e6 - e3) // 3)
    parent = len(parents[(6, 3)])
    for max_jobs, parallel in ((10_000, 100), (10_000, 1), (10_000, 7)):
        plan = lap_plan(max_jobs, parallel)
        busiest = min(constants.DEFAULT_LAP_TRIALS, max_jobs)  # trials in the longest lap
        lap_events = fixed + per_trial * busiest
        print(
            f"{max_jobs:,} trials, {parallel} in parallel: {len(plan['Laps'])} laps; parent {parent} events, "
            f"a full lap {lap_events:,} events (quota {HISTORY_QUOTA:,})"
        )
        assert len(plan["Laps"]) <= 10_000  # a Map Run's child executions run 10,000 at a time
        assert lap_events <= (1 - RETRY_HEADROOM) * HISTORY_QUOTA
    largest = max(_largest_payload(v) for v in [*parents.values(), *(events for events, _ in laps.values())])
    print(f"largest state payload: {largest} bytes")
    assert largest < 8 * 1024 < PAYLOAD_QUOTA  # names and numbers only, whatever the size


def test_payloads_do_not_grow_with_trials(parents, laps):
    assert _largest_payload(parents[(6, 1)]) <= _largest_payload(parents[(3, 1)]) + 64
    assert _largest_payload(laps[6][0]) <= _largest_payload(laps[3][0]) + 64


# ---- a job that needs several laps, through the deployed state machine ----------------------
def test_a_job_longer_than_a_lap_runs_in_laps_with_its_parallelism(local_tuner):
    lt = local_tuner
    with lap_trials(lt, 2):  # 7 trials, 2 at a time, 2 per lap: 2 * ceil(7 / 4) = 4 laps
        describe = start_and_wait(lt, _request("scale-laps", 7, 2))
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"]["Completed"] == 7
    trials = lt.service.store.list_trials("scale-laps")
    assert [t.number for t in trials] == list(range(1, 8))  # every trial once
    per_lap = {t.lap: sum(1 for u in trials if u.lap == t.lap) for t in trials}
    assert set(per_lap) <= {1, 2, 3, 4} and max(per_lap.values()) <= 2
    assert len(per_lap) >= 4  # a lap never takes more than LapTrials, so all four ran trials
    # never more than MaxParallelTrainingJobs at once (whether two 50 ms jobs overlap is timing)
    assert 1 <= max_concurrent(lt.sagemaker.transitions, "scale-laps") <= 2
    types = {e["type"] for e in lt.history("scale-laps")}
    assert "MapRunSucceeded" in types


def test_a_retry_due_at_the_end_of_a_lap_is_finished_by_that_lap(local_tuner):
    lt = local_tuner
    calls: dict[int, int] = {}

    def fault(job_name: str, _request: dict) -> str | None:
        if not job_name.startswith("scale-retry-"):
            return None
        n = int(job_name.split("-")[-2])
        calls[n] = calls.get(n, 0) + 1
        return "InternalServerError" if (n, calls[n]) == (1, 1) else None

    request = _request("scale-retry", 3, 1)
    request["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 1}
    previous = lt.fault
    lt.fault = fault
    try:
        with lap_trials(lt, 1):  # one trial per lap: trial 1's retry runs past its lap's end
            describe = start_and_wait(lt, request)
    finally:
        lt.fault = previous
    assert calls == {1: 2, 2: 1, 3: 1}
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"]["Completed"] == 3
    trials = lt.service.store.list_trials("scale-retry")
    assert [(t.number, t.lap, t.attempt) for t in trials] == [(1, 1, 1), (2, 2, 0), (3, 3, 0)]
