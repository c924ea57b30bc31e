"""``Strategy: Hyperband``: asynchronous successive halving (ASHA, stopping variant) (pure).

Two halves, both stateless:

* ``HyperbandStrategy.propose``: new configurations are drawn as Random does (seeded per trial,
  no repeats in small discrete spaces). Every trial starts with the full budget: Hyperband works
  by *stopping* trials, never by shortening them up front.
* ``asha_decision``: the stop rule the monitor applies to running trials. The resource is the
  number of objective values a trial has emitted (epochs, when the script prints the objective
  once per epoch). Rungs are ``MinResource * eta**k`` below ``MaxResource`` (``eta = 3``). When a
  trial reaches a rung it is judged once, against every trial (running or finished) that reached
  the same rung: it continues if its value at the rung is among the best ``ceil(m / eta)`` of the
  ``m`` values there, and is stopped otherwise. A trial is never stopped before ``MinResource``
  values, and is stopped when it reaches ``MaxResource`` (AMT: "once a job reaches the
  MaxResource value, it is stopped").

``HyperbandStrategyConfig``: ``MinResource`` defaults to 1; ``MaxResource`` is inferred from the
static hyperparameters ``epochs``, ``numepochs``, ``n-epochs``, ``n_epochs`` or ``num_epochs``
when absent (AMT's list), else the request is invalid. At most 20,000.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.core.strategies.random import RandomStrategy
from tuner.errors import ValidationError

ETA = 3
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
MAX_RESOURCE_LIMIT = 20_000
_PATH = "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig"

CONTINUE, STOP = "continue", "stop"


def resources(config: Mapping[str, Any] | None, static: Mapping[str, str]) -> tuple[int, int]:
    """(MinResource, MaxResource) of a Hyperband job; raises ValidationError when unknowable."""
    hb = dict((config or {}).get("HyperbandStrategyConfig") or {})
    lo = int(hb.get("MinResource") or 1)
    hi = hb.get("MaxResource")
    if hi is None:
        for key in EPOCH_KEYS:
            if key in static:
                try:
                    hi = int(float(static[key]))
                except ValueError:
                    raise ValidationError(
                        f"static hyperparameter {key}={static[key]!r} is not a number; give MaxResource",
                        f"{_PATH}.MaxResource",
                    ) from None
                break
        else:
            raise ValidationError(
                "MaxResource is missing and cannot be inferred: give it, or a static hyperparameter "
                f"named one of {', '.join(EPOCH_KEYS)}",
                f"{_PATH}.MaxResource",
            )
    hi = int(hi)
    if not 1 <= hi <= MAX_RESOURCE_LIMIT:
        raise ValidationError(
            f"MaxResource {hi} is out of range; give 1 to {MAX_RESOURCE_LIMIT}", f"{_PATH}.MaxResource"
        )
    if lo > hi:
        raise ValidationError(f"MinResource {lo} is above MaxResource {hi}; lower it", f"{_PATH}.MinResource")
    return lo, hi


def rungs(min_resource: int, max_resource: int, eta: int = ETA) -> list[int]:
    """The resources at which trials are judged: MinResource * eta**k < MaxResource."""
    out = []
    r = min_resource
    while r < max_resource:
        out.append(r)
        r *= eta
    return out


def asha_decision(
    series: Sequence[float],
    judged_rung: int,
    others: Sequence[Sequence[float]],
    maximize: bool,
    min_resource: int,
    max_resource: int,
    eta: int = ETA,
) -> tuple[str, int, str]:
    """(CONTINUE | STOP, the highest rung judged now, a reason) for one running trial.

    ``series``: the trial's objective values so far; ``judged_rung``: the highest rung it already
    passed (0 for none); ``others``: every other trial's series (running or finished).
    """
    r = len(series)
    if r >= max_resource:
        return STOP, judged_rung, f"reached MaxResource {max_resource}"
    if r < min_resource:
        return CONTINUE, judged_rung, "below MinResource"
    reached = [g for g in rungs(min_resource, max_resource, eta) if g <= r and g > judged_rung]
    if not reached:
        return CONTINUE, judged_rung, "no new rung"
    rung = reached[-1]  # judged at the highest rung it reached since the last look
    mine = series[rung - 1]
    values = [s[rung - 1] for s in others if len(s) >= rung] + [mine]
    keep = math.ceil(len(values) / eta)
    ranked = sorted(values, reverse=maximize)
    threshold = ranked[keep - 1]
    good = mine >= threshold if maximize else mine <= threshold
    if good:
        return CONTINUE, rung, f"top {keep} of {len(values)} at rung {rung}"
    return STOP, rung, f"not in the top {keep} of {len(values)} at rung {rung}"


class HyperbandStrategy(RandomStrategy):
    """Random proposals; the successive-halving work is done by ``asha_decision``."""

    name = "Hyperband"
