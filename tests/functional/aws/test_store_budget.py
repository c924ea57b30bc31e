"""The budget's reservation in the claim's conditional write (DynamoStore.claim_trial with ``admit``),
against moto: the decision is made on the job as read, and a claim in between makes it decide again."""
from __future__ import annotations

import json
import threading

import boto3
import pytest
from tuner.aws.store import DynamoStore
from tuner.core.records import JobRecord

from tests.functional.aws.conftest import TABLE


def test_the_claim_writes_the_reservations_and_a_refusal_claims_nothing(ddb):
    store = DynamoStore(TABLE, ddb)
    store.create_job(JobRecord(name="job", request={}))
    seen: list[int] = []

    def admit(job: JobRecord) -> dict[str, float] | None:
        seen.append(job.next_trial)
        return {**job.reservations, str(job.next_trial + 1): 0.25}

    assert store.claim_trial("job", "1#0", 10, admit=admit) == 1
    assert store.claim_trial("job", "2#0", 10, admit=admit) == 2
    assert store.get_job("job").reservations == {"1": 0.25, "2": 0.25}
    claim = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "job"}, "sk": {"S": "CLAIM#2#0"}})["Item"]
    assert claim["reserved"] == {"N": "0.25"}
    assert store.claim_trial("job", "1#0", 10, admit=admit) == 1  # a retried claim: no new decision
    assert seen == [0, 1]
    assert store.claim_trial("job", "3#0", 10, admit=lambda job: None) is None
    job = store.get_job("job")
    assert job.next_trial == 2 and json.dumps(job.reservations)
    assert store.claimed("job", "3#0") is None


def test_parallel_budgeted_claims_never_reserve_past_the_budget(ddb):
    # GIVEN a budget of $1 and laps that each reserve $0.25 when it fits, all claiming at once
    DynamoStore(TABLE, ddb).create_job(JobRecord(name="job", request={}))
    budget, each = 1.0, 0.25
    got: list[int | None] = []

    def lap(i: int) -> None:
        store = DynamoStore(TABLE, boto3.client("dynamodb", region_name="us-east-1"))

        def admit(job: JobRecord) -> dict[str, float] | None:
            held = sum(job.reservations.values())
            return {**job.reservations, str(job.next_trial + 1): each} if held + each <= budget else None

        got.append(store.claim_trial("job", f"{i}#0", 100, admit=admit))

    threads = [threading.Thread(target=lap, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN exactly four claims fit, each under a distinct number, and the reservations sum to the budget
    claimed = sorted(n for n in got if n is not None)
    assert claimed == [1, 2, 3, 4]
    assert sum(DynamoStore(TABLE, ddb).get_job("job").reservations.values()) == pytest.approx(budget)
