"""The store's reads against moto: ``list_trials`` keeps recorded trials and reads only the rest,
``open_trials`` is a sparse index; read units counted by the offline meter (tuner.local.metering)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import random
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from tuner.aws.store import OPEN_MARK, OPEN_PK, DynamoStore, _to_item, _trial_sk
from tuner.aws.trial_cache import TrialCache, missing_runs
from tuner.core.records import IN_PROGRESS, PENDING, JobRecord, TrialRecord
from tuner.local.metering import Meter
from tuner.wiring import build_service

from tests.functional.aws.conftest import TABLE

EVENTS = Path(__file__).resolve().parents[2] / "events"



def new_store(ddb, table: str = TABLE) -> DynamoStore:
    """A store as one Lambda container has it (its own cache)."""
    return DynamoStore(table, ddb)


@contextlib.contextmanager
def metered() -> Iterator[Meter]:
    meter = Meter(lambda: SimpleNamespace(name="test")).install()
    try:
        yield meter
    finally:
        meter.uninstall()


def bayesian_request(name: str, max_jobs: int) -> dict:
    r = json.loads((EVENTS / "request_random.json").read_text())
    r["HyperParameterTuningJobName"] = name
    r["HyperParameterTuningJobConfig"]["Strategy"] = "Bayesian"
    r["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
        "MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": 4,
    }
    del r["TrainingJobDefinition"]["RetryStrategy"]
    return r


def recorded(job: str, n: int, rng: random.Random, points: int = 100) -> TrialRecord:
    value = rng.random()
    return TrialRecord(
        job=job, number=n, training_job_name=f"{job}-{n:03d}-{n:08x}", status="Completed",
        params={"max_depth": str(rng.randint(2, 10)), "eta": repr(rng.uniform(0.01, 0.5)),
                "subsample": repr(rng.uniform(0.5, 1.0)), "booster": rng.choice(["gbtree", "dart"])},
        final_objective=value, objective_status="Succeeded", metrics={"validation:auc": value},
        series=[value * (k + 1) / points for k in range(points)], recorded=True,
    )


def seed_history(ddb, name: str, trials: int, *, max_jobs: int | None = None, points: int = 100,
                 table: str = TABLE) -> None:
    """A Bayesian job with ``trials`` recorded trials, claimed as laps claim them (next_trial)."""
    store = new_store(ddb, table)
    store.create_job(JobRecord(name=name, request=bayesian_request(name, max_jobs or trials + 10), next_trial=trials))
    rng = random.Random(trials)
    items = [_to_item(recorded(name, n, rng, points), name, _trial_sk(n)) for n in range(1, trials + 1)]
    for i in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})


def step_reads(svc, name: str, lap: int, iteration: int) -> float:
    """Read units of one NextTrial step (claim, propose, start) of ``svc``'s container."""
    with metered() as meter:
        svc.next_trial(name, lap, iteration, f"token-{lap}-{iteration}")
    return meter.usage.read_units


# ---- the cache ------------------------------------------------------------------------------------
def test_missing_runs_merge_close_gaps_and_skip_cached_numbers():
    assert missing_runs(0, []) == []
    assert missing_runs(5, []) == [(1, 5)]
    assert missing_runs(10, [1, 2, 3, 5, 6, 7, 8, 9]) == [(4, 4), (10, 10)]  # 5 cached between: two reads
    assert missing_runs(10, [1, 2, 3, 5, 6, 7, 8]) == [(4, 10)]  # 4 cached between: one read
    assert missing_runs(3, [1, 2, 3]) == []


def test_the_cache_keeps_recorded_trials_only_without_their_token_and_evicts_old_jobs():
    cache = TrialCache(max_trials=3)
    running = TrialRecord(job="a", number=2, params={}, training_job_name="a-2", task_token="live")
    done = TrialRecord(job="a", number=1, params={}, training_job_name="a-1", recorded=True, task_token="old")
    listed = cache.remember("a", [done, running])
    assert [t.task_token for t in listed] == [None, "live"]  # a recorded trial's token would be stale
    assert set(cache.recorded("a")) == {1} and cache.highest("a") == 2
    cache.remember("b", [dataclasses.replace(done, job="b", number=k) for k in (1, 2, 3)])
    assert cache.recorded("a") is None and set(cache.recorded("b")) == {1, 2, 3}  # a: least recently listed
    with pytest.raises(ValueError, match="at least 1"):
        TrialCache(max_trials=0)


def test_a_trial_recorded_by_another_container_is_seen_and_read_once(ddb):
    seed_history(ddb, "job", 40)
    mine, other = new_store(ddb), new_store(ddb)
    assert len(mine.list_trials("job")) == 40  # cold: the history, once
    other.create_job(JobRecord(name="x", request={}))  # unrelated
    n = other.claim_trial("job", "1#0", 100)
    other.put_trial(TrialRecord(job="job", number=n, params={"eta": "0.1"}, training_job_name="job-041-x"))
    assert mine.list_trials("job")[-1].status == "Pending"  # a new claim is read
    other.update_trial("job", n, task_token="tok")
    assert mine.list_trials("job")[-1].task_token == "tok"  # an open trial is read again each time
    other.update_trial("job", n, only_unrecorded=True, status="Completed", final_objective=0.9, recorded=True)
    with metered() as meter:
        seen = mine.list_trials("job")
    assert seen[-1].status == "Completed" and seen[-1].final_objective == 0.9
    assert seen[-1].task_token is None  # the list never carries a recorded trial's token ...
    assert mine.get_trial("job", n).task_token == "tok"  # ... which is still stored
    assert meter.usage.read_units == 2.0  # the job item and trial 41, not the history
    with metered() as meter:
        assert len(mine.list_trials("job")) == 41
    assert meter.usage.read_units == 1.0  # everything recorded is cached: the job item only


def test_a_duplicated_recording_loses_nothing_and_changes_nothing_cached(ddb):
    store = new_store(ddb)
    store.create_job(JobRecord(name="dup", request={}))
    n = store.claim_trial("dup", "1#0", 5)
    store.put_trial(TrialRecord(job="dup", number=n, params={}, training_job_name="dup-001-x"))
    store.list_trials("dup")
    assert store.update_trial("dup", n, only_unrecorded=True, status="Completed", final_objective=0.5, recorded=True)
    first = store.list_trials("dup")
    # a duplicated event (or the sweeper) records it again: refused, the cached result stands
    assert not store.update_trial("dup", n, only_unrecorded=True, status="Failed", final_objective=None,
                                  recorded=True)
    assert store.list_trials("dup") == first and new_store(ddb).list_trials("dup") == first


def test_a_recorded_trial_changes_only_its_token(ddb):
    store = new_store(ddb)
    store.create_job(JobRecord(name="imm", request={}))
    with pytest.raises(ValueError, match="only task_token may be set"):
        store.update_trial("imm", 1, status="Failed")
    with pytest.raises(ValueError, match="only task_token may be set"):
        store.update_trial("imm", 1, task_token=None, status="Failed")


def test_a_legacy_partition_is_listed_and_its_open_trials_found_without_the_index(ddb):
    # GIVEN a job stored under its name as given (before name_key) by code older than the index
    item = _to_item(JobRecord(name="Legacy-Job", request={}, next_trial=3), "Legacy-Job", "JOB")
    item["kind"] = {"S": "TuningJob"}
    ddb.put_item(TableName=TABLE, Item=item)
    rng = random.Random(0)
    old = [recorded("Legacy-Job", 1, rng), recorded("Legacy-Job", 2, rng),
           TrialRecord(job="Legacy-Job", number=3, params={}, training_job_name="Legacy-Job-003-x",
                       status=IN_PROGRESS)]
    for t in old:  # no open_pk: written before the index
        ddb.put_item(TableName=TABLE, Item=_to_item(t, "Legacy-Job", _trial_sk(t.number)))
    store = new_store(ddb)
    # WHEN it is read THEN the list (cold and warm) and the open trials are whole
    assert [t.number for t in store.list_trials("Legacy-Job")] == [1, 2, 3]
    assert [t.number for t in store.list_trials("Legacy-Job")] == [1, 2, 3]
    assert [t.number for t in store.open_trials("Legacy-Job")] == [3]  # the trial list, not the index
    assert store.update_trial("Legacy-Job", 3, only_unrecorded=True, status="Completed", recorded=True)
    assert store.list_trials("Legacy-Job")[-1].status == "Completed"
    assert store.open_trials("Legacy-Job") == []


# ---- open_trials: the sparse index ----------------------------------------------------------------
def _open_pk(ddb, pk: str, n: int) -> str | None:
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": _trial_sk(n)}})["Item"]
    return item.get(OPEN_PK, {}).get("S")


def test_open_pk_is_set_while_unrecorded_or_holding_a_token_and_removed_after(ddb):
    store = new_store(ddb)
    store.create_job(JobRecord(name="Open-Job", request={}))  # a new job: marked as indexed
    job_item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "open-job"}, "sk": {"S": "JOB"}})["Item"]
    assert OPEN_MARK in job_item
    for n in (1, 2, 3):
        store.claim_trial("Open-Job", f"{n}#0", 10)
        store.put_trial(TrialRecord(job="Open-Job", number=n, params={}, training_job_name=f"j-{n}"))
    assert [_open_pk(ddb, "open-job", n) for n in (1, 2, 3)] == ["open-job"] * 3
    store.update_trial("Open-Job", 1, task_token="t1")
    store.update_trial("Open-Job", 2, task_token="t2")
    # trial 1 recorded while its token waits (the usual order): still open, for the sweeper's wake-up
    store.update_trial("Open-Job", 1, only_unrecorded=True, status="Completed", recorded=True)
    assert _open_pk(ddb, "open-job", 1) == "open-job"
    assert [(t.number, t.task_token) for t in store.open_trials("Open-Job")] == [(1, "t1"), (2, "t2"), (3, None)]
    store.update_trial("Open-Job", 1, task_token=None)  # delivered: closed in the same write
    assert _open_pk(ddb, "open-job", 1) is None
    # trial 2 loses its token before it is recorded (a capacity wait), then is recorded: closed
    store.update_trial("Open-Job", 2, only_unrecorded=True, task_token=None)
    assert _open_pk(ddb, "open-job", 2) == "open-job"  # unrecorded: still open
    store.update_trial("Open-Job", 2, only_unrecorded=True, status="Stopped", recorded=True)
    assert _open_pk(ddb, "open-job", 2) is None
    # trial 3 recorded with its token cleared in one write
    store.update_trial("Open-Job", 3, only_unrecorded=True, status="Failed", recorded=True, task_token=None)
    assert store.open_trials("Open-Job") == []
    # a retried lap step stores a token on a recorded trial: open again until delivered
    store.update_trial("Open-Job", 3, task_token="again")
    assert [t.number for t in store.open_trials("Open-Job")] == [3]
    store.update_trial("Open-Job", 3, task_token=None)
    assert store.open_trials("Open-Job") == []


def test_open_trials_reads_the_open_ones_not_the_history(ddb):
    seed_history(ddb, "big", 300)
    store = new_store(ddb)
    store.update_job("big", next_trial=300)
    ddb.update_item(TableName=TABLE, Key={"pk": {"S": "big"}, "sk": {"S": "JOB"}},
                    UpdateExpression="SET #m = :one", ExpressionAttributeNames={"#m": OPEN_MARK},
                    ExpressionAttributeValues={":one": {"N": "1"}})
    n = store.claim_trial("big", "1#0", 400)
    store.put_trial(TrialRecord(job="big", number=n, params={}, training_job_name="big-301-x"))
    with metered() as meter:
        assert [t.number for t in store.open_trials("big")] == [301]
    assert meter.usage.read_units <= 1.5  # the job item's marker (once per container) and the index


# ---- reads per proposal, by history size ------------------------------------------------------------
def _proposal_reads(ddb, aws_session, trials: int) -> tuple[float, float]:
    """(cold, warm) read units of a NextTrial step of a Bayesian job with ``trials`` recorded trials."""
    name = f"scale-{trials}"
    seed_history(ddb, name, trials, points=20)
    svc = build_service(TABLE, session=aws_session)
    cold = step_reads(svc, name, 1, 0)
    warm = step_reads(svc, name, 2, 0)  # trial 1 of this container still runs: it is read again
    return cold, warm


def test_warm_proposal_reads_do_not_grow_with_the_history(ddb):
    session = boto3.session.Session(region_name="us-east-1")
    cold_small, warm_small = _proposal_reads(ddb, session, 30)
    cold_large, warm_large = _proposal_reads(ddb, session, 300)
    print(f"read units per NextTrial: 30 trials cold {cold_small} warm {warm_small}; "
          f"300 trials cold {cold_large} warm {warm_large}")
    assert warm_large == warm_small  # the open trials and the job item, whatever the history
    assert cold_large >= 5 * cold_small / 2  # the cold container reads the history once (it grows)
    assert warm_large * 4 < cold_large


def test_the_meter_counts_a_consistent_batch_get_per_item_and_per_missing_key(ddb):
    store = new_store(ddb)
    store.create_job(JobRecord(name="bg", request={}))
    keys = [{"pk": {"S": "bg"}, "sk": {"S": sk}} for sk in ("JOB", "TRIAL#000001")]  # the second is absent
    with metered() as meter:
        r = ddb.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})
    assert len(r["Responses"][TABLE]) == 1  # moto answers it
    assert meter.usage.read_units == 2.0  # one strongly consistent unit per key, found or not
    with metered() as meter:
        ddb.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
    assert meter.usage.read_units == 1.0  # eventually consistent: half


def test_an_update_for_an_earlier_attempt_writes_nothing(ddb):
    store = new_store(ddb)
    store.create_job(JobRecord(name="att", request={}))
    store.put_trial(TrialRecord(job="att", number=1, params={}, training_job_name="att-001-b", attempt=1))
    # a write decided on the first attempt (att-001-a) is refused, a result as well as a retry
    assert store.update_trial("att", 1, only_unrecorded=True, attempt_of="att-001-a", status="Failed") is False
    assert store.update_trial("att", 1, only_unrecorded=True, attempt_of="att-001-a", status="Failed",
                              recorded=True) is False
    assert (store.get_trial("att", 1).status, store.get_trial("att", 1).recorded) == (PENDING, False)
    # the current attempt's is written: a retry (naming the next attempt), then its result
    assert store.update_trial("att", 1, only_unrecorded=True, attempt_of="att-001-b", training_job_name="att-001-c",
                              attempt=2) is True
    assert store.update_trial("att", 1, only_unrecorded=True, attempt_of="att-001-b", recorded=True) is False
    assert store.update_trial("att", 1, only_unrecorded=True, attempt_of="att-001-c", status="Completed",
                              recorded=True) is True
    assert store.get_trial("att", 1).recorded is True
    with pytest.raises(ValueError, match="only task_token may be set"):
        store.update_trial("att", 1, attempt_of="att-001-b", task_token=None)
