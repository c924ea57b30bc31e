"""CloudWatch Logs reader for training jobs: one host's streams (or every host's), every line, in order.

SageMaker writes each host of a training job to its own streams, ``<job>/algo-<n>-<epoch seconds>``
(a host that restarts gets a new stream). Listed by name they sort as text (``algo-1``,
``algo-10``, ``algo-2``) and concatenating them interleaves hosts, so the streams are grouped by
host here: ``lines(job)`` reads the primary host (``algo-1``, see docs/reliability.md),
``lines(job, host="algo-2")`` another one, ``lines(job, host=None)`` every host, host by host in
host-number order. A host's streams are read oldest first (by their epoch suffix), each to its end
with its own ``nextForwardToken``.

``filter_log_events`` is not used: finding a job's streams by prefix with
``describe_log_streams`` and paging each with ``get_log_events`` works the same against AWS
and moto.

``lines`` is a generator: pages are fetched only as the consumer asks for lines, and closing it
(``tuner.core.metrics.parse_metrics`` does when a budget is exceeded) stops the paging. It never
cuts the stream silently; bounding the work is the consumer's job, which can then say so.

``lines_after(job, position)`` reads only what a caller has not seen (the monitor, every sweep).
``position`` maps each stream name to ``[token, skip, taken]``: the token of the page to fetch
next (None: the stream's head), how many events of that page were already handed over, and how
many events of the stream were handed over in all. It is advanced in place *before* each line is
yielded, so when the consumer stops taking lines, however it stops, ``position`` is just past the
last line it took: a page cut in the middle is fetched again and its first ``skip`` events
dropped. Every token belongs to its own stream (a token from another stream is invalid), and the
streams are listed again at every read, so a host's new stream (a restart) is read from its head.
A token expires after 24 hours ("The token expires after 24 hours. If you have reached the end of
the stream, it returns the same token you passed in": CloudWatch Logs API Reference,
GetLogEvents, ``nextForwardToken``): a stream whose stored token is refused is read again from its
head and its first ``taken`` events are dropped.
"""
from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from typing import Any

from tuner.constants import TRAINING_LOG_GROUP
from tuner.service.ports import PRIMARY_HOST

# GetLogEvents may return an empty page before the end of a stream (it pages by time); the end
# is the page whose nextForwardToken is the token sent. A stream that keeps answering empty pages
# with new tokens is given up after this many in a row.
MAX_EMPTY_PAGES = 100

log = logging.getLogger(__name__)

_STREAM = re.compile(r"(?P<host>.+)-(?P<epoch>\d+)")  # what follows "<job>/"
_HOST = re.compile(r"algo-(?P<n>\d+)")


def stream_host(job: str, stream: str) -> tuple[str, int]:
    """``(host, epoch)`` of one of ``job``'s stream names; a name without an epoch suffix is a
    host of its own with epoch -1."""
    rest = stream[len(job) + 1:] if stream.startswith(f"{job}/") else stream
    m = _STREAM.fullmatch(rest)
    return (m.group("host"), int(m.group("epoch"))) if m else (rest, -1)


def host_order(host: str) -> tuple[int, int, str]:
    """Sort key of a host: ``algo-<n>`` by n (``algo-2`` before ``algo-10``), other names after."""
    m = _HOST.fullmatch(host)
    return (0, int(m.group("n")), host) if m else (1, 0, host)


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
        return names

    def hosts(self, job: str) -> dict[str, list[str]]:
        """The job's streams by host, hosts in host-number order, each host's streams oldest first."""
        by_host: dict[str, list[tuple[int, str]]] = {}
        for name in self._streams(job):
            host, epoch = stream_host(job, name)
            by_host.setdefault(host, []).append((epoch, name))
        return {h: [name for _, name in sorted(by_host[h])] for h in sorted(by_host, key=host_order)}

    def lines(self, job: str, *, host: str | None = PRIMARY_HOST) -> Iterator[str]:
        """Every message of ``host``'s streams (None: of every host), oldest first (lazily paged)."""
        for name, streams in self.hosts(job).items():
            if host is None or name == host:
                for stream in streams:
                    yield from self._stream_lines(stream)

    def lines_after(self, job: str, position: dict[str, Any], *, host: str | None = PRIMARY_HOST) -> Iterator[str]:
        """The messages of ``host``'s streams (None: every host's) after ``position``, which is
        advanced in place past each message yielded (see the module docstring)."""
        for name, streams in self.hosts(job).items():
            if host is None or name == host:
                for stream in streams:
                    yield from self._stream_after(stream, position)

    def _stream_lines(self, stream: str) -> Iterator[str]:
        for _, events, _ in self._pages(stream, None):
            for event in events:
                yield event["message"]

    def _stream_after(self, stream: str, position: dict[str, Any]) -> Iterator[str]:
        token, skip, taken = _mark(position.get(stream))
        pages = self._pages(stream, token)
        try:
            first = next(pages, None)
        except self.logs.exceptions.InvalidParameterException:
            if token is None:
                raise
            log.warning("the stored token of log stream %s was refused (expired?): reading it from its head, "
                        "skipping the %d events read before", stream, taken)
            token, skip = None, taken
            pages = self._pages(stream, None)
            first = next(pages, None)
        if first is None:
            return
        for sent, events, forward in itertools.chain([first], pages):
            last = len(events) - 1
            for i in range(skip, len(events)):
                taken += 1
                # past a page's last event is the next page's head: no page is fetched again for it
                position[stream] = [forward, 0, taken] if i == last and forward != sent else [sent, i + 1, taken]
                yield events[i]["message"]
            if forward == sent:  # the end: a page read again from this token starts with these events
                position[stream] = [sent, max(skip, len(events)), taken]
            else:
                skip = max(0, skip - len(events))
                position[stream] = [forward, skip, taken]

    def _pages(
        self, stream: str, token: str | None
    ) -> Iterator[tuple[str | None, list[dict[str, Any]], str | None]]:
        """``(token sent, events, nextForwardToken)`` of each page of ``stream`` from ``token`` (None:
        its head) to its end: the page whose nextForwardToken is the token sent. A stream that is
        gone has no pages."""
        empty = 0
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": self.group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if token:
                kwargs["nextToken"] = token
            try:
                r = self.logs.get_log_events(**kwargs)
            except self.logs.exceptions.ResourceNotFoundException:
                return
            events = r.get("events", [])
            new = r.get("nextForwardToken")
            yield token, events, new or token
            if not new or new == token:
                return
            empty = 0 if events else empty + 1
            if empty >= MAX_EMPTY_PAGES:
                return
            token = new


def _mark(mark: Any) -> tuple[str | None, int, int]:
    """``(token, skip, taken)`` of a stream's stored position (a fresh stream: head, 0, 0)."""
    if isinstance(mark, (list, tuple)) and len(mark) == 3:
        token, skip, taken = mark
        return (str(token) if token else None), max(0, int(skip)), max(0, int(taken))
    return None, 0, 0
