"""Strategy registry. Heavy engines (Bayesian, Hyperband) are imported lazily on first use."""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from tuner.core.space import SearchSpace
from tuner.core.strategies.base import Observation, Strategy, trial_rng
from tuner.errors import ValidationError

# name -> "module:Class"; imported on demand so a cold start pays only for what it uses.
_REGISTRY: dict[str, str] = {
    "Random": "tuner.core.strategies.random:RandomStrategy",
    "Grid": "tuner.core.strategies.grid:GridStrategy",
    "Bayesian": "tuner.core.bayes.strategy:BayesianStrategy",
    "Hyperband": "tuner.core.strategies.hyperband:HyperbandStrategy",
}


def register(name: str, target: str) -> None:
    """Register a strategy class as ``"module:Class"``."""
    _REGISTRY[name] = target


def registered() -> list[str]:
    """The names of every registered strategy."""
    return sorted(_REGISTRY)


def strategy_class(name: str) -> type[Strategy]:
    try:
        module, cls = _REGISTRY[name].split(":")
    except KeyError:
        raise ValidationError(f"unknown strategy {name!r}; use one of {sorted(_REGISTRY)}", "Strategy") from None
    found: type[Strategy] = getattr(importlib.import_module(module), cls)
    return found


def seed_for(name: str, random_seed: int | None, fallback: int) -> int | None:
    """The seed strategy ``name`` is built with: the job's ``RandomSeed`` when given; otherwise
    ``fallback`` (a seed fixed per job or optimiser), or None for a strategy that is deterministic
    without a seed (``Strategy.seeded_without_random_seed``: Grid's lexicographic order)."""
    if random_seed is not None:
        return int(random_seed)
    return fallback if strategy_class(name).seeded_without_random_seed else None


def make_strategy(
    name: str,
    space: SearchSpace,
    *,
    maximize: bool,
    seed: int | None = None,
    config: Mapping[str, Any] | None = None,
) -> Strategy:
    return strategy_class(name)(space, maximize=maximize, seed=seed, config=config)


__all__ = ["Observation", "Strategy", "make_strategy", "register", "seed_for", "strategy_class", "trial_rng"]
