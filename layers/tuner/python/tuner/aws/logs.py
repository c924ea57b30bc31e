"""CloudWatch Logs reader for training jobs: every stream of a job, every line, in order.

``filter_log_events`` is not used: finding a job's streams by prefix with
``describe_log_streams`` and paging each with ``get_log_events`` works the same against AWS
and moto.

``lines`` is a generator: pages are fetched only as the consumer asks for lines, and closing it
(``tuner.core.metrics.parse_metrics`` does when a budget is exceeded) stops the paging. It never
cuts the stream silently; bounding the work is the consumer's job, which can then say so.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tuner.constants import TRAINING_LOG_GROUP

# GetLogEvents may return an empty page before the end of a stream (it pages by time); the end
# is the page whose nextForwardToken is the token sent. A stream that keeps answering empty pages
# with new tokens is given up after this many in a row.
MAX_EMPTY_PAGES = 100


class CloudWatchLogSource:
    def __init__(self, client: Any, group: str = TRAINING_LOG_GROUP) -> None:
        self.logs = client
        self.group = group

    def _streams(self, job: str) -> list[str]:
        names: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": f"{job}/"}
        try:
            while True:
                r = self.logs.describe_log_streams(**kwargs)
                names.extend(s["logStreamName"] for s in r.get("logStreams", []))
                if not r.get("nextToken"):
                    break
                kwargs["nextToken"] = r["nextToken"]
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        return sorted(names)

    def lines(self, job: str) -> Iterator[str]:
        """Every message of the job's streams, stream by stream, oldest first (lazily paged)."""
        for stream in self._streams(job):
            yield from self._stream_lines(stream)

    def _stream_lines(self, stream: str) -> Iterator[str]:
        token = None
        empty = 0
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": self.group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if token:
                kwargs["nextToken"] = token
            r = self.logs.get_log_events(**kwargs)
            events = r.get("events", [])
            for event in events:
                yield event["message"]
            new = r.get("nextForwardToken")
            if not new or new == token:
                return
            empty = 0 if events else empty + 1
            if empty >= MAX_EMPTY_PAGES:
                return
            token = new
