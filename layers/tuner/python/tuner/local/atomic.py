"""Make moto's DynamoDB writes atomic across threads, as DynamoDB's are.

moto checks a ``ConditionExpression`` (or a transaction's conditions) and then writes, without a
lock: two threads can both pass ``next_trial = :prev`` and both claim the same trial number. Real
DynamoDB serialises conditional writes and transactions per item. The offline loop runs many
threads (Map iterations, event deliveries, the sweeper), so the harness serialises moto's write
operations with one lock. Reads are left concurrent (they see whole items either way).
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_saved: dict[str, Callable[..., Any]] = {}


_installs = 0  # install/uninstall pairs nest (the tests keep it on; each LocalTuner adds one)


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    global _installs
    _installs += 1
    if _saved:
        return
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)
        _saved[name] = original

        def locked(self: Any, *args: Any, __original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(self, *args, **kwargs)

        functools.update_wrapper(locked, original)
        setattr(DynamoDBBackend, name, locked)


def uninstall() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    global _installs
    _installs = max(0, _installs - 1)
    if _installs:
        return
    for name, original in _saved.items():
        setattr(DynamoDBBackend, name, original)
    _saved.clear()
