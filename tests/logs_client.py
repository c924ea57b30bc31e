"""A CloudWatch Logs client that answers DescribeLogStreams and GetLogEvents as AWS documents them,
for ``tuner.aws.logs.CloudWatchLogSource`` (tests and ``benchmarks/sweep.py``).

What it keeps from AWS (CloudWatch Logs API Reference, GetLogEvents and DescribeLogStreams):

* a page holds at most ``page_events`` events (AWS: "up to 1 MB (up to 10,000 log events)");
* tokens are opaque, belong to one stream (another stream's token is refused with
  InvalidParameterException) and expire (``expire()``: every token handed out so far is refused);
* "If you have reached the end of the stream, it returns the same token you passed in";
* DescribeLogStreams pages 50 streams at a time (its default ``limit``) and filters by prefix;
* an unknown stream is a ResourceNotFoundException.

It counts every call by operation (``calls``) and can wait ``latency`` seconds in each, a stand-in
for the network round trip of a real call (moto's in-process calls have none).
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from typing import Any

DESCRIBE_PAGE = 50


class _LogsError(Exception):
    pass


class _Exceptions:
    class ResourceNotFoundException(_LogsError):
        pass

    class InvalidParameterException(_LogsError):
        pass


class FakeLogsClient:
    exceptions = _Exceptions

    def __init__(self, *, page_events: int = 10_000, latency: float = 0.0) -> None:
        self.page_events = page_events
        self.latency = latency
        self.streams: dict[str, list[str]] = {}
        self.calls: Counter[str] = Counter()
        self.events_returned = 0
        self._ids: dict[str, int] = {}
        self._generation = 0
        self._clock = itertools.count(1_700_000_000_000)
        self._lock = threading.Lock()

    # ---- what the tests and the benchmark do ------------------------------------------------------
    def put(self, stream: str, *messages: str) -> None:
        with self._lock:
            self._ids.setdefault(stream, len(self._ids))
            self.streams.setdefault(stream, []).extend(messages)

    def expire(self) -> None:
        """Every token handed out so far is refused from now on (AWS: tokens expire after 24 hours)."""
        self._generation += 1

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.events_returned = 0

    # ---- the client's operations ------------------------------------------------------------------
    def _call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        if self.latency:
            time.sleep(self.latency)

    def describe_log_streams(self, *, logGroupName: str, logStreamNamePrefix: str = "",  # noqa: N803
                             nextToken: str | None = None) -> dict[str, Any]:
        self._call("DescribeLogStreams")
        names = sorted(n for n in list(self.streams) if n.startswith(logStreamNamePrefix))
        start = int(nextToken) if nextToken else 0
        page = names[start:start + DESCRIBE_PAGE]
        out: dict[str, Any] = {"logStreams": [{"logStreamName": n} for n in page]}
        if start + DESCRIBE_PAGE < len(names):
            out["nextToken"] = str(start + DESCRIBE_PAGE)
        return out

    def get_log_events(self, *, logGroupName: str, logStreamName: str, startFromHead: bool = False,  # noqa: N803
                       nextToken: str | None = None) -> dict[str, Any]:
        self._call("GetLogEvents")
        if logStreamName not in self.streams:
            raise self.exceptions.ResourceNotFoundException("The specified log stream does not exist.")
        assert startFromHead, "the tuner reads streams forward from their head"
        sid = self._ids[logStreamName]
        start = 0
        if nextToken is not None:
            try:
                kind, generation, stream_id, index = nextToken.split("/")
                ok = kind == "f" and int(generation) == self._generation and int(stream_id) == sid
            except ValueError:
                ok = False
            if not ok:
                raise self.exceptions.InvalidParameterException("The specified nextToken is invalid.")
            start = int(index)
        events = self.streams[logStreamName][start:start + self.page_events]
        with self._lock:
            self.events_returned += len(events)
        forward = f"f/{self._generation}/{sid}/{start + len(events)}"
        if not events and nextToken is not None:
            forward = nextToken  # the end: the same token comes back
        return {
            "events": [{"timestamp": next(self._clock), "message": m, "ingestionTime": 1} for m in events],
            "nextForwardToken": forward,
            "nextBackwardToken": f"b/{self._generation}/{sid}/{start}",
        }
