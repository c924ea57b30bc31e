"""What the tuner's own functions consume, counted in the offline run (``tuner.core.cost.Usage``).

* **Lambda**: every invocation of a tuner function (``InProcessLambdas.durations``): one request,
  and GB-seconds = its run time (rounded up to the millisecond, as Lambda bills) x its memory.
* **DynamoDB**: every call a tuner function makes ("Read/write capacity mode", DynamoDB developer
  guide): a read costs one unit per 4 KB of the items it returns (strongly consistent; half for an
  eventually consistent read; a query adds its items' sizes before rounding, a batch get rounds each
  item and counts a key it does not find as a read of nothing), a write one unit per
  1 KB of the item (an update: of the item as it is after it, read back uncounted), twice that in a
  transaction; a read that finds nothing still costs its minimum.
* **EventBridge**: each ``PutEvents`` entry (a custom event of at most 64 KB).
* **CloudWatch Logs**: ``GetLogEvents`` / ``DescribeLogStreams`` calls (counted, not billed).
* **State transitions**: from the definition, by the invocations of the functions its task states
  run (``TRANSITIONS``): CreateTuningJob brings RunLaps, Finalized? and the end state with it;
  every NextTrial invocation of a lap is NextTrial, LapDone? and one of Advance / CapacityWait /
  LapFinished; Finalize and MarkFailed one each. A retried task is one more transition, as Step
  Functions bills it.
"""
from __future__ import annotations

import base64
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tuner.core.cost import Usage

#: State transitions per invocation of the function a task state runs (stacks/workflow.py): the
#: task state and the states that follow it up to the next task (or the execution's end).
TRANSITIONS = {"create_job": 4, "next_trial": 3, "finalize": 1, "fail_job": 1}


def attribute_bytes(value: Mapping[str, Any]) -> int:
    """DynamoDB's size of one attribute value ("Item sizes and formats", DynamoDB developer guide)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        return len(str(v).lstrip("-").replace(".", "")) // 2 + 1 + 1
    if kind == "B":
        return len(base64.b64decode(v)) if isinstance(v, str) else len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_bytes({kind[0]: x}) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_bytes(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + attribute_bytes(x) for x in v)
    return 0


def item_bytes(item: Mapping[str, Any] | None) -> int:
    return sum(len(k.encode()) + attribute_bytes(v) for k, v in (item or {}).items())


def read_units(size: int, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / 4096))
    return units * (2.0 if transactional else 1.0 if consistent else 0.5)


def write_units(size: int, transactional: bool = False) -> float:
    return max(1, math.ceil(size / 1024)) * (2.0 if transactional else 1.0)


class Meter:
    """Counts the usage of the calls made while a tuner function runs (see the module docstring)."""

    def __init__(self, acting: Callable[[], Any]) -> None:
        self._acting = acting  # the principal of the running call (the IAM twin's), None for others
        self._lock = threading.Lock()
        self._original: Callable[..., Any] | None = None
        self.usage = Usage()

    def install(self) -> Meter:
        from botocore.client import BaseClient

        if self._original is None:
            original = BaseClient._make_api_call
            self._original = original
            meter = self

            def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
                response = original(client, operation_name, api_params)
                principal = meter._acting()
                if principal is not None:
                    service = client.meta.service_model.service_name
                    meter.count(principal.name, service, operation_name, api_params, response,
                                lambda *a, **k: original(client, *a, **k))
                return response

            BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        from botocore.client import BaseClient

        if self._original is not None:
            BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None

    def invoked(self, function: str, seconds: float, memory_mb: int) -> None:
        """One Lambda invocation of ``function`` that ran ``seconds``."""
        gb_seconds = math.ceil(seconds * 1000) / 1000 * memory_mb / 1024
        with self._lock:
            self.usage.lambda_requests += 1
            self.usage.lambda_gb_seconds += gb_seconds
            self.usage.state_transitions += TRANSITIONS.get(function, 0)
            mine = self.usage.by_function.setdefault(function, {})
            mine["requests"] = mine.get("requests", 0) + 1
            mine["gb_seconds"] = mine.get("gb_seconds", 0.0) + gb_seconds

    def count(self, function: str, service: str, operation: str, params: Mapping[str, Any],
              response: Mapping[str, Any], call: Callable[..., Any]) -> None:
        reads = writes = 0.0
        events = logs = 0
        if service == "dynamodb":
            reads, writes = self._dynamodb(operation, params, response, call)
        elif service == "events" and operation == "PutEvents":
            events = len(params.get("Entries") or [])
        elif service == "logs" and operation in ("GetLogEvents", "DescribeLogStreams", "FilterLogEvents"):
            logs = 1
        with self._lock:
            self.usage.read_units += reads
            self.usage.write_units += writes
            self.usage.custom_events += events
            self.usage.logs_api_calls += logs
            if reads or writes:
                mine = self.usage.by_function.setdefault(function, {})
                mine["read_units"] = mine.get("read_units", 0.0) + reads
                mine["write_units"] = mine.get("write_units", 0.0) + writes

    @staticmethod
    def _dynamodb(operation: str, params: Mapping[str, Any], response: Mapping[str, Any],
                  call: Callable[..., Any]) -> tuple[float, float]:
        def after(table: str, key: Mapping[str, Any]) -> int:
            got = call("GetItem", {"TableName": table, "Key": dict(key), "ConsistentRead": True})
            return item_bytes(got.get("Item"))

        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            return read_units(item_bytes(response.get("Item")), consistent), 0.0
        if operation in ("Query", "Scan"):
            return read_units(sum(item_bytes(i) for i in response.get("Items") or []), consistent), 0.0
        if operation == "PutItem":
            return 0.0, write_units(item_bytes(params.get("Item")))
        if operation in ("UpdateItem", "DeleteItem"):
            size = after(params["TableName"], params["Key"]) if operation == "UpdateItem" else 0
            return 0.0, write_units(size)
        if operation == "TransactWriteItems":
            total = 0.0
            for entry in params.get("TransactItems") or []:
                (kind, body), = entry.items()
                size = item_bytes(body.get("Item")) if kind == "Put" else (
                    after(body["TableName"], body["Key"]) if kind == "Update" else 0)
                total += write_units(size, transactional=True)
            return 0.0, total
        if operation == "TransactGetItems":
            return sum(read_units(item_bytes(r.get("Item")), True, transactional=True)
                       for r in response.get("Responses") or []), 0.0
        if operation == "BatchGetItem":  # each key as one GetItem, with its table's ConsistentRead
            units = 0.0
            for table, request in (params.get("RequestItems") or {}).items():
                strong = bool(request.get("ConsistentRead"))
                found = (response.get("Responses") or {}).get(table) or []
                unprocessed = len(((response.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys") or [])
                absent = max(0, len(request.get("Keys") or []) - len(found) - unprocessed)
                units += sum(read_units(item_bytes(i), strong) for i in found) + absent * read_units(0, strong)
            return units, 0.0
        if operation == "BatchWriteItem":
            return 0.0, sum(write_units(item_bytes((r.get("PutRequest") or {}).get("Item")))
                            for rs in (params.get("RequestItems") or {}).values() for r in rs)
        return 0.0, 0.0


def fixed_resources(template: Mapping[str, Any]) -> tuple[int, int]:
    """(customer managed KMS keys, alarm metrics) of a synthesized template: the per-resource monthly
    fees (a metric-math alarm is billed for each metric it reads)."""
    keys = metrics = 0
    for resource in (template.get("Resources") or {}).values():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::KMS::Key":
            keys += 1
        elif kind == "AWS::CloudWatch::Alarm":
            metrics += 1 if "MetricName" in props else sum(1 for m in props.get("Metrics") or [] if "MetricStat" in m)
    return keys, metrics
