"""DynamoDB throttling is transient (the state machine retries the step), a lost optimistic-lock
race backs off with jitter before it tries again (tuner.aws.store)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tuner.aws import store as store_module
from tuner.aws.store import DynamoStore
from tuner.errors import ConcurrentUpdateError, TransientBackendError


class _Exceptions:
    class TransactionCanceledException(ClientError):
        pass

    class ConditionalCheckFailedException(ClientError):
        pass


class FakeDynamo:
    """get_item answers from ``items``; transact_write_items fails as told."""

    exceptions = _Exceptions
    meta = None

    def __init__(self, get_error: str | None = None) -> None:
        self.get_error = get_error
        self.transactions = 0

    def get_item(self, **params: Any) -> dict[str, Any]:
        if self.get_error:
            raise ClientError({"Error": {"Code": self.get_error, "Message": "slow down"}}, "GetItem")
        if params["Key"]["sk"]["S"] == "JOB":
            return {"Item": {"pk": {"S": "job"}, "sk": {"S": "JOB"}, "name": {"S": "job"}, "next_trial": {"N": "0"},
                             "request": {"S": "{}"}}}
        return {}

    def transact_write_items(self, **params: Any) -> None:
        self.transactions += 1
        raise _Exceptions.TransactionCanceledException(
            {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}, "TransactWriteItems"
        )


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_read_still_throttled_after_the_clients_retries_is_transient(code):
    store = DynamoStore("tuner", FakeDynamo(get_error=code))
    with pytest.raises(TransientBackendError, match=code):
        store.get_job("job")


def test_other_errors_pass_through_unchanged():
    store = DynamoStore("tuner", FakeDynamo(get_error="ValidationException"))
    with pytest.raises(ClientError) as err:
        store.get_job("job")
    assert not isinstance(err.value, TransientBackendError)


def test_a_claim_that_keeps_losing_backs_off_with_growing_jittered_waits(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(store_module.time, "sleep", waits.append)
    monkeypatch.setattr(store_module.random, "uniform", lambda lo, hi: hi)  # the longest draw
    ddb = FakeDynamo()
    with pytest.raises(ConcurrentUpdateError, match="20 attempts"):
        DynamoStore("tuner", ddb).claim_trial("job", "lap-1", max_trials=10)
    assert ddb.transactions == store_module.CONFLICT_ATTEMPTS
    assert len(waits) == store_module.CONFLICT_ATTEMPTS - 1  # none before the first try
    assert waits[:3] == [0.02, 0.04, 0.08] and max(waits) == 0.5  # doubling, capped
