"""The concurrent-tuning-job slots of ``DynamoStore`` on moto: taken atomically, once per job, given
back once (``tuner.aws.store``; DynamoDB's conditional transactions, serialised offline by
``tuner.local.atomic`` as DynamoDB serialises them)."""
from __future__ import annotations

import threading

import boto3
import pytest
from tuner.aws.store import DynamoStore

from tests.functional.tables import create_tuner_table

REGION = "us-east-1"


@pytest.fixture
def store(aws):
    ddb = boto3.client("dynamodb", region_name=REGION)
    create_tuner_table(ddb)
    return DynamoStore("tuner", ddb)


def race(target, args: list[tuple]) -> list:
    """Run ``target(*a)`` for every ``a`` in ``args`` at once (released together); their results."""
    results: list = [None] * len(args)
    start = threading.Barrier(len(args))

    def run(i: int) -> None:
        start.wait()
        results[i] = target(*args[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


def test_two_creates_racing_for_the_last_slot_one_wins(store):
    # GIVEN a deployment of 3 concurrent tuning jobs running 2
    assert store.take_job_slot("a", 3) is None and store.take_job_slot("b", 3) is None
    # WHEN two creates race for the last slot
    results = race(store.take_job_slot, [("c", 3), ("d", 3)])
    # THEN one wins and the other is refused with the slots in use
    assert sorted(results, key=str) == [3, None]
    assert store.job_slots_in_use() == 3


def test_many_creates_racing_take_exactly_the_free_slots(store):
    results = race(store.take_job_slot, [(f"job-{i}", 4) for i in range(10)])
    assert results.count(None) == 4 and all(r == 4 for r in results if r is not None)
    assert store.job_slots_in_use() == 4


def test_a_retried_create_keeps_one_slot(store):
    assert store.take_job_slot("Job", 5) is None
    assert race(store.take_job_slot, [("Job", 5), ("job", 5), ("JOB", 5)]) == [None, None, None]
    assert store.job_slots_in_use() == 1
    assert store.take_job_slot("job", 1) is None  # full, yet the name holds its slot already


def test_a_job_that_ends_twice_gives_back_one_slot(store):
    for name in ("a", "b"):
        store.take_job_slot(name, 5)
    assert sorted(race(store.release_job_slot, [("a",), ("a",), ("A",)])) == [False, False, True]
    assert store.job_slots_in_use() == 1
    assert store.release_job_slot("never-took-one") is False
    assert store.job_slots_in_use() == 1


def test_a_given_back_slot_is_not_taken_again_by_its_name(store):
    # names are unique and never reused, so a slot once given back stays given back
    store.take_job_slot("a", 1)
    assert store.release_job_slot("a") is True
    assert store.take_job_slot("a", 1) is None
    assert store.job_slots_in_use() == 0
    assert store.take_job_slot("b", 1) is None and store.take_job_slot("c", 1) == 1


def test_slots_live_beside_the_jobs_not_in_their_listing(store):
    from tuner.core.records import JobRecord

    store.create_job(JobRecord(name="a", request={}))
    store.take_job_slot("a", 2)
    assert [j.name for j in store.list_jobs()] == ["a"] and store.list_trials("a") == []
