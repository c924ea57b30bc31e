"""One lock around every moto DynamoDB call, reads included: one thread in moto's DynamoDB at a time.

Real DynamoDB serialises conditional writes and transactions per item; moto (5.2.5) does nothing
of the kind, and the offline loop runs many threads (Map iterations, event deliveries, the
sweeper, the caller's own). Two races were seen:

* check-then-write: two threads both pass ``next_trial = :prev`` and both claim the same trial;
* a read that races a write. ``transact_write_items`` deep-copies the table (its rollback copy) by
  iterating ``Table.items``, a ``defaultdict``: a ``get_item``/``query`` for a partition that does
  not exist yet *inserts* an empty one, so a concurrent read made the copy raise ``RuntimeError:
  dictionary changed size during iteration`` (issue 12: about one tuning job in eleven under a
  mixed load). The same kind of race exists the other way round: the response serialises the
  ``Item`` objects a read returned (their ``attrs`` dicts) after the backend call has returned, and
  ``update_item`` mutates the stored ``Item`` in place. Locking writes alone does not help.

Where the lock is taken:

1. ``DynamoHandler.call_action``: the one place every DynamoDB request passes, from boto3 under
   ``mock_aws`` and from a moto server alike (``url_paths`` -> ``dispatch`` -> ``_dispatch`` ->
   ``call_action``, Step Functions' DynamoDB integrations included: they call through boto3). It
   spans the whole operation: the backend call(s), the logic moto keeps in ``responses.py``
   (``batch_get_item``, ``batch_write_item`` and ``transact_get_items`` are empty stubs on the
   backend; the handler loops over ``get_item``/``put_item`` itself) and the serialisation of the
   returned items. Wrapping the backend's methods only would leave those last two unlocked.
   (Parsing the request runs before ``call_action``, outside the lock: it touches no shared state.)
2. Every public method of ``DynamoDBBackend`` (reads included: ``get_item``, ``query``, ``scan``,
   ``describe_table``, ...; 47 in moto 5.2.5), for the callers that do not come through a request:
   CloudFormation creating the table, moto's DynamoDB Streams and Lambda event-source mappings,
   tests that drive the backend directly. Inside a request this re-enters the lock the handler
   holds. ``iter_tagged_resources`` (a generator, used by the tagging API only) is left out: a lock
   held across ``yield`` would be held by whoever stops iterating.

A threaded moto server does not help: its threads share these same backends (and this lock covers
them too, as they dispatch through ``call_action``). The lock is re-entrant and process-wide; an
uncontended acquire costs well under a microsecond against the milliseconds moto spends per
request, and moto's DynamoDB is pure Python under the GIL, so serialising it gives up little
parallelism (the soak in tests/e2e/test_soak.py measures it; docs/reliability.md has the numbers).
Nothing runs under the lock that waits for another thread (no streams or event-source mappings
in the stack), so it cannot deadlock.

**CloudWatch Logs** has the same kind of race, under a lock of its own (``_logs_lock``): moto's
``LogGroup.describe_log_streams`` iterates the group's ``streams`` dict while another thread's
``create_log_stream`` (a training job starting: the stand-in writes its output there) adds to it,
and the monitor's read failed with ``RuntimeError: dictionary changed size during iteration``
(seen in the soak after the semantics tests, about one run in three there). Every public,
non-generator method of ``LogsBackend`` takes it; the response's serialisation works on the dicts
and lists those methods built, not on the live ones. A separate lock: a log write may deliver to a
subscription's Lambda in the same thread, which then takes DynamoDB's.

``install()``/``uninstall()`` nest: the tests keep it installed, each ``LocalTuner`` adds one, and
only the last ``uninstall()`` restores moto.
"""
from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.RLock()
_logs_lock = threading.RLock()
_saved: list[tuple[type, str, Callable[..., Any]]] = []  # (class, attribute, moto's original)
_installs = 0  # install/uninstall pairs nest (the tests keep it on; each LocalTuner adds one)


def _locked(original: Callable[..., Any], lock: Any) -> Callable[..., Any]:
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(*args, **kwargs)

    return functools.update_wrapper(locked, original)


def _public_methods(cls: type) -> list[str]:
    return [
        name
        for name, attr in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(attr) and not inspect.isgeneratorfunction(attr)
    ]


def _targets() -> list[tuple[type, str, Any]]:
    """(class, method, lock): ``DynamoHandler.call_action`` and every public, non-generator method
    of ``DynamoDBBackend`` under ``_lock``; those of ``LogsBackend`` under ``_logs_lock``."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.logs.models import LogsBackend

    return [
        (DynamoHandler, "call_action", _lock),
        *((DynamoDBBackend, name, _lock) for name in _public_methods(DynamoDBBackend)),
        *((LogsBackend, name, _logs_lock) for name in _public_methods(LogsBackend)),
    ]


def install() -> None:
    global _installs
    with _lock:
        _installs += 1
        if _saved:
            return
        for cls, name, lock in _targets():
            original = vars(cls)[name]
            _saved.append((cls, name, original))
            setattr(cls, name, _locked(original, lock))


def uninstall() -> None:
    global _installs
    with _lock:
        _installs = max(0, _installs - 1)
        if _installs:
            return
        for cls, name, original in reversed(_saved):
            setattr(cls, name, original)
        _saved.clear()


def installed() -> bool:
    """Whether moto's DynamoDB is locked now."""
    return bool(_saved)
