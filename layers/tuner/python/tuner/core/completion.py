"""``TuningJobCompletionCriteria``: when a tuning job may end before ``MaxNumberOfTrainingJobs`` (pure).

``completion_reason`` is evaluated over the finished trials whenever one is recorded (and by the
periodic monitor); the first criterion met wins:

* ``TargetObjectiveMetricValue``: the best objective reached the target (``>=`` when maximising,
  ``<=`` when minimising).
* ``BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving = N``: the last ``N`` finished
  training jobs did not improve the best objective by at least 1% (``results.jobs_not_improving``;
  a job without an objective value counts as not improving, as a failed job does in AMT).
* ``ConvergenceDetected.CompleteOnConvergence = Enabled``: see ``converged``.

The reasons are stable strings (``REASON_*``): the service keeps them on the job record and
returns them in the tuning-job state-change event, since ``DescribeHyperParameterTuningJob`` has
no free-text reason for a ``Completed`` job.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.core.objective import improves, within
from tuner.core.records import TrialRecord
from tuner.core.results import jobs_not_improving

REASON_TARGET = "TargetObjectiveMetricValue reached"
REASON_NOT_IMPROVING = "BestObjectiveNotImproving: MaxNumberOfTrainingJobsNotImproving reached"
REASON_CONVERGED = "ConvergenceDetected"
REASON_MAX_RUNTIME = "MaxRuntimeInSeconds reached"

CONVERGENCE_MIN_TRIALS = 10  # fewer values say nothing about a plateau
CONVERGENCE_TOP_K = 5  # how many distinct configurations must share the best level


def _values(trials: Sequence[TrialRecord]) -> list[tuple[str, int, float, tuple[tuple[str, str], ...]]]:
    """(end time, number, value, params key) of every trial with an objective value, in end order."""
    out = []
    for t in trials:
        if t.terminal and t.objective_status == "Succeeded" and t.final_objective is not None:
            out.append((t.ended or "", t.number, float(t.final_objective), tuple(sorted(t.params.items()))))
    out.sort()
    return out


def target_reached(best: float | None, target: float, maximize: bool) -> bool:
    return best is not None and (best >= target if maximize else best <= target)


def converged(trials: Sequence[TrialRecord], maximize: bool) -> bool:
    """The convergence test behind ``CompleteOnConvergence``.

    AMT documents it as "unlikely to improve more than 1% over the best training job". This
    rebuild declares convergence when all of the following hold over the finished trials with an
    objective value (``n`` of them, in the order they ended):

    1. ``n >= CONVERGENCE_MIN_TRIALS`` (10);
    2. a plateau: the best value has not improved by >= 1% during the second half of the trials
       (the last ``ceil(n / 2)``), i.e. the search kept proposing for as long as it took to find
       the incumbent without beating it;
    3. a floor, not an outlier: at least ``k = min(5, ceil(n / 3))`` *distinct* configurations
       reached values within 1% of the best. The strategy has sampled the best region repeatedly
       and every sample there lands on the same level, so a further trial is unlikely to beat it
       by 1% (a single lucky trial fails this test and the job continues).

    The test depends only on the recorded results, so every Lambda evaluating it agrees.
    """
    values = _values(trials)
    n = len(values)
    if n < CONVERGENCE_MIN_TRIALS:
        return False
    half = math.ceil(n / 2)
    first = [v for _, _, v, _ in values[: n - half]]
    best_first = max(first) if maximize else min(first)
    all_values = [v for _, _, v, _ in values]
    best = max(all_values) if maximize else min(all_values)
    if improves(best, best_first, maximize):
        return False
    k = min(CONVERGENCE_TOP_K, math.ceil(n / 3))
    near = {key for _, _, v, key in values if within(v, best, maximize)}
    return len(near) >= k


def completion_reason(
    criteria: Mapping[str, Any] | None, trials: Sequence[TrialRecord], maximize: bool
) -> str | None:
    """The first ``TuningJobCompletionCriteria`` member that is met, as a ``REASON_*`` text."""
    if not criteria:
        return None
    values = [v for _, _, v, _ in _values(trials)]
    best = (max(values) if maximize else min(values)) if values else None
    target = criteria.get("TargetObjectiveMetricValue")
    if target is not None and target_reached(best, float(target), maximize):
        return f"{REASON_TARGET} ({best:.6g} {'>=' if maximize else '<='} {float(target):.6g})"
    bni = criteria.get("BestObjectiveNotImproving") or {}
    limit = bni.get("MaxNumberOfTrainingJobsNotImproving")
    if limit is not None and best is not None:
        n = jobs_not_improving(trials, maximize)
        if n >= int(limit):
            return f"{REASON_NOT_IMPROVING} ({n} training jobs without a 1% improvement)"
    cd = criteria.get("ConvergenceDetected") or {}
    if cd.get("CompleteOnConvergence") == "Enabled" and converged(trials, maximize):
        return REASON_CONVERGED
    return None
