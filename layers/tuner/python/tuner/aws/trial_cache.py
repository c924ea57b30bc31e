"""The recorded trials a store instance has read, so that ``DynamoStore.list_trials`` reads only the rest.

A recorded trial never changes again but for its task token (``tuner.aws.store``, module
docstring), so once read it need not be read again in this Lambda container. Kept without the
token (``task_token=None``): a token read once would be stale.

Bounded: at most ``max_trials`` trials over every job, the least recently listed jobs dropped first
(a sweeper container lists every active job; 10,000 trials with 100-point series take about 83 MB,
measured in docs/reliability.md, "Reads at scale"). Thread-safe: the offline harness runs many laps
in one process.
"""
from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterable

from tuner.core.records import TrialRecord

#: The most trials kept over all jobs: one maximal job (10,000 trials, ~100 MB with 100-point
#: series), within the smallest tuner function's 512 MB.
MAX_CACHED_TRIALS = 12_000
#: Uncached trial numbers this close (cached ones between them) are read by one Query: reading a few
#: cached items again costs less than another call (a Query adds the items' sizes, then rounds to
#: 4 KB; a trial is ~1-3 KB).
MERGE_GAP = 4


class TrialCache:
    """Recorded trials by partition (the job's pk) and number, and the highest number seen per job."""

    def __init__(self, max_trials: int = MAX_CACHED_TRIALS) -> None:
        if max_trials < 1:
            raise ValueError(f"max_trials must be at least 1, got {max_trials}")
        self.max_trials = max_trials
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, dict[int, TrialRecord]] = OrderedDict()
        self._highest: dict[str, int] = {}

    def recorded(self, pk: str) -> dict[int, TrialRecord] | None:
        """The cached recorded trials of ``pk`` by number (a copy of the mapping); None: never listed here."""
        with self._lock:
            known = self._jobs.get(pk)
            if known is None:
                return None
            self._jobs.move_to_end(pk)
            return dict(known)

    def highest(self, pk: str) -> int:
        """The highest trial number seen in ``pk`` (recorded or not); 0 when none."""
        with self._lock:
            return self._highest.get(pk, 0)

    def remember(self, pk: str, trials: Iterable[TrialRecord]) -> list[TrialRecord]:
        """Note what a read of ``pk`` found; returns the trials as ``list_trials`` gives them
        (recorded ones without their token). Marks ``pk`` listed even when nothing was found."""
        out = [dataclasses.replace(t, task_token=None) if t.recorded and t.task_token else t for t in trials]
        with self._lock:
            known = self._jobs.setdefault(pk, {})
            self._jobs.move_to_end(pk)
            for t in out:
                if t.recorded:
                    known[t.number] = t
                self._highest[pk] = max(self._highest.get(pk, 0), t.number)
            self._evict(keep=pk)
        return out

    def _evict(self, keep: str) -> None:
        total = sum(len(v) for v in self._jobs.values())
        for pk in list(self._jobs):
            if total <= self.max_trials:
                return
            if pk == keep:
                continue
            total -= len(self._jobs.pop(pk))
            self._highest.pop(pk, None)


def missing_runs(claimed: int, known: Iterable[int], gap: int = MERGE_GAP) -> list[tuple[int, int]]:
    """The trial numbers 1..``claimed`` not in ``known``, as inclusive ``(first, last)`` runs, runs
    separated by at most ``gap`` known numbers merged (read by one Query each)."""
    have = set(known)
    runs: list[tuple[int, int]] = []
    for n in range(1, claimed + 1):
        if n in have:
            continue
        if runs and n - runs[-1][1] - 1 <= gap:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs
