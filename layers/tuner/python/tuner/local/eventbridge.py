"""EventBridge -> Lambda delivery for moto (5.2.5).

moto's ``Rule.send_to_targets`` delivers only to CloudWatch Logs, SQS, archives, other buses and API
destinations; a Lambda target raises ``NotImplementedError``. ``install_lambda_delivery()`` patches it
so that every Lambda target of a matching rule receives the event the way EventBridge sends it
(a rule with only a schedule receives no events, as on AWS: moto's empty pattern matches all):

* no ``Input``/``InputPath``/``InputTransformer``: the whole event (``version``, ``id``,
  ``detail-type``, ``source``, ``account``, ``time`` as ISO-8601 ``YYYY-MM-DDTHH:MM:SSZ``, ``region``,
  ``resources``, ``detail``);
* ``Input``: that constant JSON; ``InputPath``: the selected part; ``InputTransformer``: rendered
  like EventBridge does (an unquoted ``<var>`` becomes the JSON value, strings quoted; inside a string
  literal the text is inserted; ``<aws.events.event.json>``, ``<aws.events.rule-name>`` work);

invoked asynchronously (one thread per delivery, like EventBridge's asynchronous ``Invoke``) through
moto's Lambda backend ``invoke(...)`` with ``x-amz-invocation-type: Event``. Whatever
``LambdaFunction._invoke_lambda`` does then decides what runs (the offline harness replaces it with
an in-process handler runner). Targets of other types keep moto's behaviour, except that an
exception moto raises for them (``NotImplementedError`` for a Step Functions target) is recorded in
``errors`` instead of aborting ``PutEvents`` for the remaining rules.

Delivery failures (an exception from the backend, or a function error reported by
``_invoke_lambda``) are logged and appended to ``errors`` (see ``delivery_errors()``); they are not
retried (real asynchronous invocations are retried twice by Lambda).
``wait_deliveries(timeout)`` joins outstanding deliveries, including deliveries started meanwhile
(a handler that puts events of its own).

``PutEvents`` itself is patched too (moto's ``EventsBackend.put_events``), to be as strict as
EventBridge and observable:

* a request whose entries total 256 KB or more, as EventBridge counts an entry
  (``tuner.core.tuner_events.entry_size``), is refused with EventBridge's ``ValidationException``
  ("Total size of the entries in the request is over the limit."); moto takes any size;
* ``entry_fault(entry)``, when set, may answer an error code for an entry: that entry is not taken
  and its answer carries the code (``FailedEntryCount`` counts it), as EventBridge answers a
  throttled or failed entry; the others go on to moto;
* every entry of every call is recorded in ``put_entries`` (``{"entry", "size", "answer"}``, the
  answer ``{"EventId"}`` or ``{"ErrorCode", "ErrorMessage"}``), whatever put it on a bus.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_threads: list[threading.Thread] = []
_original: Any = None
_original_put_events: Any = None

errors: list[str] = []
"""Delivery errors, oldest first (also logged at ERROR)."""

deliveries: list[dict[str, Any]] = []
"""Every delivery started: ``{"rule", "function", "event", "ok"}`` (``ok`` None while running)."""

put_entries: list[dict[str, Any]] = []
"""Every PutEvents entry, oldest first: ``{"entry", "size", "answer"}`` (see the module docstring)."""

entry_fault: Callable[[dict[str, Any]], str | None] | None = None
"""When set: an error code for an entry PutEvents must refuse (None: take it)."""

#: EventBridge's answer to a request whose entries total 256 KB or more.
OVER_THE_LIMIT = "Total size of the entries in the request is over the limit."


def install_lambda_delivery() -> None:
    """Patch moto's ``Rule.send_to_targets`` and ``EventsBackend.put_events`` (idempotent)."""
    global _original, _original_put_events
    from moto.events.models import EventsBackend, Rule

    with _lock:
        if _original is not None:
            return
        _original = Rule.send_to_targets
        _original_put_events = EventsBackend.put_events

        def put_events(backend: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return _put_events(backend, events)

        EventsBackend.put_events = put_events  # type: ignore[method-assign,assignment]

        def send_to_targets(rule: Any, original_event: dict[str, Any],
                            transform_input: bool = True) -> None:
            _send_to_targets(rule, original_event, transform_input)

        # A monkeypatch: moto's method is replaced by a plain function of another signature.
        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]


def uninstall_lambda_delivery() -> None:
    """Restore moto (outstanding deliveries keep running; call ``wait_deliveries`` first)."""
    global _original, _original_put_events
    from moto.events.models import EventsBackend, Rule

    with _lock:
        if _original is None:
            return
        Rule.send_to_targets = _original  # type: ignore[method-assign]
        EventsBackend.put_events = _original_put_events  # type: ignore[method-assign]
        _original = _original_put_events = None


uninstall = uninstall_lambda_delivery


def wait_deliveries(timeout: float = 30.0) -> bool:
    """Join every outstanding delivery; True when none is left before ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            alive = [t for t in _threads if t.is_alive()]
            _threads[:] = alive
        if not alive:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        alive[0].join(timeout=left)


def delivery_errors() -> list[str]:
    with _lock:
        return list(errors)


def reset() -> None:
    """Forget recorded deliveries, errors and PutEvents entries, and the entry fault (between tests)."""
    global entry_fault
    with _lock:
        errors.clear()
        deliveries.clear()
        put_entries.clear()
        entry_fault = None


def _put_events(backend: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """EventBridge's PutEvents over moto's: the size bound, injected entry faults, the record."""
    from moto.events.exceptions import ValidationException

    from tuner.core.tuner_events import MAX_ENTRY_BYTES, entry_size

    sizes = [entry_size(e) if isinstance(e, dict) else 0 for e in events]
    if sum(sizes) >= MAX_ENTRY_BYTES:
        raise ValidationException(OVER_THE_LIMIT)
    fault = entry_fault
    answers: list[dict[str, Any] | None] = [None] * len(events)
    taken: list[int] = []
    for i, event in enumerate(events):
        code = fault(event) if fault is not None and isinstance(event, dict) else None
        if code:
            answers[i] = {"ErrorCode": code, "ErrorMessage": f"{code} (injected: tuner.local.eventbridge.entry_fault)"}
        else:
            taken.append(i)
    if taken or not events:
        for i, answer in zip(taken, _original_put_events(backend, [events[i] for i in taken]), strict=True):
            answers[i] = answer
    done = [a or {} for a in answers]
    with _lock:
        put_entries.extend({"entry": copy.deepcopy(e), "size": n, "answer": dict(a)}
                           for e, n, a in zip(events, sizes, done, strict=True))
    return done


def _is_lambda(target: dict[str, Any]) -> bool:
    arn = str(target.get("Arn", ""))
    return arn.startswith("arn:") and arn.split(":")[2] == "lambda"


def _iso(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _render(target: dict[str, Any], event: dict[str, Any], rule: Any) -> Any:
    full = {k: v for k, v in event.items() if k != "ingestion-time"}
    full["time"] = _iso(full.get("time"))
    if "Input" in target and target["Input"] is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(full)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        return _transform(transformer, full, event, rule)
    return full


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def _transform(transformer: dict[str, Any], full: dict[str, Any], event: dict[str, Any],
               rule: Any) -> Any:
    """EventBridge's input transformer: a placeholder outside a JSON string becomes the value as
    JSON (strings quoted); inside a string literal, the value's text. (moto inserts raw text
    everywhere, which breaks CDK's ``RuleTargetInput.from_object`` templates.)"""
    from jsonpath_ng.ext import parse

    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        matches = parse(path).find(full)
        values[name] = matches[0].value if matches else None
    values.setdefault("aws.events.event", full)
    values.setdefault("aws.events.event.json", full)
    values.setdefault("aws.events.rule-name", rule.name)
    values.setdefault("aws.events.rule-arn", getattr(rule, "arn", None))
    values.setdefault("aws.events.event.ingestion-time", _iso(event.get("ingestion-time")))
    template = transformer.get("InputTemplate")
    if template is None:
        return full
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "<":
            m = _PLACEHOLDER.match(template, i)
            if m and m.group(1) in values:
                value = values[m.group(1)]
                if in_string:
                    out.append(json.dumps(value)[1:-1] if isinstance(value, str)
                               else json.dumps(value))
                else:
                    out.append(json.dumps(value))
                i = m.end()
                continue
        if in_string and char == "\\":
            out.append(template[i:i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    rendered = "".join(out)
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def is_schedule_only(rule: Any) -> bool:
    """A rule with a schedule and no event pattern: EventBridge sends it no events (moto's empty
    pattern would match every event, running the sweeper on each state change)."""
    return bool(getattr(rule, "scheduled_expression", None)) and not rule.event_pattern.dump()


def _send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool) -> None:
    if is_schedule_only(rule) or not rule.event_pattern.matches_event(original_event):
        return
    lambdas = [t for t in rule.targets if _is_lambda(t)]
    others = [t for t in rule.targets if not _is_lambda(t)]
    for target in lambdas:
        try:
            payload = _render(target, original_event, rule) if transform_input else dict(original_event)
        except Exception as exc:  # noqa: BLE001
            _record_error(f"rule {rule.name}: input of target {target.get('Id')} failed: {exc!r}")
            continue
        record = {"rule": rule.name, "function": target["Arn"], "event": payload, "ok": None}
        thread = threading.Thread(target=_deliver,
                                  args=(rule.account_id, rule.region_name, target["Arn"], payload,
                                        record),
                                  name=f"eventbridge-{rule.name}", daemon=True)
        with _lock:
            deliveries.append(record)
            _threads.append(thread)
        thread.start()
    if others:
        proxy = copy.copy(rule)
        proxy.targets = others
        try:
            _original(proxy, original_event, transform_input)
        except Exception as exc:  # noqa: BLE001 - e.g. moto's NotImplementedError for states targets
            _record_error(f"rule {rule.name}: moto could not deliver to "
                          f"{[t.get('Arn') for t in others]}: {exc!r}")


def _deliver(account: str, region: str, arn: str, payload: Any, record: dict[str, Any]) -> None:
    from moto.awslambda.utils import get_backend

    response_headers: dict[str, Any] = {}
    try:
        get_backend(account, region).invoke(
            function_name=arn, qualifier=None, body=json.dumps(payload),
            headers={"x-amz-invocation-type": "Event"}, response_headers=response_headers)
    except Exception as exc:  # noqa: BLE001
        record["ok"] = False
        _record_error(f"delivery to {arn} failed: {exc!r}")
        return
    if response_headers.get("x-amz-function-error"):
        record["ok"] = False
        _record_error(f"delivery to {arn}: the function reported an error "
                      f"({response_headers['x-amz-function-error']})")
    else:
        record["ok"] = True


def _record_error(message: str) -> None:
    log.error("%s", message)
    with _lock:
        errors.append(message)
