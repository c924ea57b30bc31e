"""The objective's direction and what counts as an improvement (pure; the one place for both).

A tuning job's objective is ``HyperParameterTuningJobConfig.HyperParameterTuningJobObjective``,
or, with ``TrainingJobDefinitions``, each definition's ``TuningObjective`` (AMT requires the same
``Type`` across definitions). The helpers read either a request or a describe response: both use
the same members.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAXIMIZE = "Maximize"
MINIMIZE = "Minimize"
OBJECTIVE_TYPES = (MAXIMIZE, MINIMIZE)

#: AMT: "not improving" means no improvement of at least 1 % over the best objective so far.
IMPROVEMENT = 0.01
_TINY = 1e-12  # the margin around a best value of 0


def maximizes(objective_type: str | None) -> bool:
    """True for ``Maximize``; ``Minimize`` (and an unknown type) minimise."""
    return objective_type == MAXIMIZE


def objective_of(job: Mapping[str, Any], definition: str | None = None) -> Mapping[str, Any] | None:
    """The objective ``{Type, MetricName}`` of a request / describe response, or of one definition.

    With a ``definition`` name, that definition's ``TuningObjective`` when it has one; otherwise the
    job's objective; for a multi-definition job without one, the first definition's.
    """
    definitions = job.get("TrainingJobDefinitions") or ()
    if definition is not None:
        for d in definitions:
            if d.get("DefinitionName") == definition and d.get("TuningObjective"):
                return d["TuningObjective"]  # type: ignore[no-any-return]
    objective = (job.get("HyperParameterTuningJobConfig") or {}).get("HyperParameterTuningJobObjective")
    if objective:
        return objective  # type: ignore[no-any-return]
    for d in definitions:
        if d.get("TuningObjective"):
            return d["TuningObjective"]  # type: ignore[no-any-return]
    return None


def job_maximizes(job: Mapping[str, Any]) -> bool:
    """The direction of a request / describe response (Maximize when it names no objective)."""
    objective = objective_of(job)
    return maximizes(objective.get("Type", MAXIMIZE) if objective else MAXIMIZE)


def is_better(value: float, best: float | None, maximize: bool) -> bool:
    """``value`` beats ``best`` (anything beats no value)."""
    return best is None or (value > best if maximize else value < best)


def improves(value: float, best: float, maximize: bool, rel: float = IMPROVEMENT) -> bool:
    """``value`` improves on ``best`` by more than ``rel`` of ``|best|`` (AMT's 1 % rule)."""
    margin = rel * max(abs(best), _TINY)
    return value > best + margin if maximize else value < best - margin


def within(value: float, best: float, maximize: bool, rel: float = IMPROVEMENT) -> bool:
    """``value`` is no more than ``rel`` of ``|best|`` worse than ``best``."""
    margin = rel * max(abs(best), _TINY)
    return value >= best - margin if maximize else value <= best + margin
