"""The state machine's fan-out of a tuning job into laps (pure).

A lap is one child execution of the distributed Map: it runs trials one after another, at most
``lap_trials`` of them, so that its own execution history (about 10 events per trial) stays far
inside Step Functions' 25,000-event quota however many training jobs the tuning job runs.
"""
from __future__ import annotations

import math
from typing import Any

from tuner.constants import DEFAULT_LAP_TRIALS

#: The reason a lap that has run ``lap_trials`` trials ends; the next lap continues the job.
LAP_FULL = "lap full: the next lap continues the tuning job"

# A lap's Step Functions history (docs/reliability.md, "Step Functions history"): 18 events of its
# own (its start, the jittered start's three states, its end),
# 10 per trial, 10 per capacity wait (NextTrial 6, LapDone? 2, CapacityWait 2), against the
# 25,000-event quota of an execution; HISTORY_RESERVE is kept for timeouts and retries (~4 each).
HISTORY_QUOTA = 25_000
HISTORY_RESERVE = 2_500
EVENTS_PER_LAP = 18
EVENTS_PER_TRIAL = 10
EVENTS_PER_CAPACITY_WAIT = 10

#: The first ``MaxParallel`` laps start together; each of them first waits a random whole number of
#: seconds in ``[0, MaxParallel // LAP_STARTS_PER_SECOND]`` (the state machine's ``StaggeredStart``),
#: so that about this many laps a second call the proposer at the start instead of all at once (an
#: account's Lambda concurrency quota can be as low as 10). Below this many laps there is no wait.
LAP_STARTS_PER_SECOND = 10


def lap_plan(max_jobs: int, max_parallel: int, lap_trials: int = DEFAULT_LAP_TRIALS) -> dict[str, Any]:
    """``{Laps: [1..K], MaxParallel: P, LapTrials: L, StartJitter: J}``: ``K`` laps of at most ``L``
    trials, ``P`` at a time; the first ``P`` laps start spread over ``J`` seconds (``LAP_STARTS_PER_SECOND``).

    ``K = P * ceil(N / (P * L))`` laps hold ``K * L >= N`` trials: the job never runs out of
    laps; laps started after the last trial was claimed answer ``Done`` at once.
    """
    if lap_trials < 1:
        raise ValueError(f"lap_trials must be at least 1, got {lap_trials}")
    parallel = max(1, min(max_parallel, max_jobs))
    laps = parallel * max(1, math.ceil(max_jobs / (parallel * lap_trials)))
    return {
        "Laps": list(range(1, laps + 1)),
        "MaxParallel": parallel,
        "LapTrials": lap_trials,
        "StartJitter": parallel // LAP_STARTS_PER_SECOND,
    }


def capacity_waits_allowed(lap_trials: int | None = None) -> int:
    """How many capacity waits (``docs/capacity.md``) one lap's history holds beside its trials:
    ``(25,000 - 2,500 - 18 - 10 L) / 10``, 1,248 for the default ``L`` = 1,000 trials."""
    trials = DEFAULT_LAP_TRIALS if lap_trials is None else lap_trials
    spare = HISTORY_QUOTA - HISTORY_RESERVE - EVENTS_PER_LAP - EVENTS_PER_TRIAL * trials
    return max(0, spare // EVENTS_PER_CAPACITY_WAIT)
