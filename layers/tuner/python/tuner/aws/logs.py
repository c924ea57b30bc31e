"""CloudWatch Logs reader for training jobs: every stream of a job, every line, in order.

``filter_log_events`` is not used: finding a job's streams by prefix with
``describe_log_streams`` and paging each with ``get_log_events`` works the same against AWS
and moto.
"""
from __future__ import annotations

from typing import Any, Iterator

from tuner.constants import TRAINING_LOG_GROUP

MAX_LINES = 2_000_000  # a hard bound on the work one read may do


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
        """Every message of the job's streams, stream by stream, oldest first."""
        count = 0
        for stream in self._streams(job):
            token = None
            while True:
                kwargs: dict[str, Any] = {
                    "logGroupName": self.group,
                    "logStreamName": stream,
                    "startFromHead": True,
                }
                if token:
                    kwargs["nextToken"] = token
                r = self.logs.get_log_events(**kwargs)
                for event in r.get("events", []):
                    count += 1
                    if count > MAX_LINES:
                        return
                    yield event["message"]
                new = r.get("nextForwardToken")
                if not r.get("events") or new == token:
                    break
                token = new
