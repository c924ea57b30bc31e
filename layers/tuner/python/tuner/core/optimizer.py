"""The public ask/tell API (``from tuner import Optimizer``), for notebooks, benchmarks and the
Lambda proposer. No boto3, no AWS credentials.

    opt = Optimizer(parameter_ranges={"ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "1e-5", "MaxValue": "1e-1", "ScalingType": "Logarithmic"}]},
        objective_type="Minimize", strategy="Bayesian", random_seed=0)
    for params in opt.ask(4):
        opt.tell(params, train(params))          # None or NaN: the job produced no metric
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tuner.core.objective import MAXIMIZE, OBJECTIVE_TYPES, maximizes
from tuner.core.space import SearchSpace, config_key
from tuner.core.strategies import Observation, make_strategy, seed_for
from tuner.errors import ValidationError


class Optimizer:
    """Ask for configurations (``dict[str, str]``, as SageMaker passes them), tell their results.

    Asked but not yet told configurations are *pending*: later asks account for them.
    Telling a configuration that was never asked (e.g. from a parent tuning job) adds it as a
    warm-start observation.
    """

    def __init__(
        self,
        parameter_ranges: Mapping[str, Any],
        objective_type: str = MAXIMIZE,
        strategy: str = "Bayesian",
        random_seed: int | None = None,
        strategy_config: Mapping[str, Any] | None = None,
    ) -> None:
        if objective_type not in OBJECTIVE_TYPES:
            raise ValidationError(f"objective_type {objective_type!r} must be Maximize or Minimize", "Type")
        if random_seed is not None and int(random_seed) < 0:
            raise ValidationError("random_seed must be >= 0", "RandomSeed")
        self.space = SearchSpace.from_ranges(parameter_ranges)
        self.maximize = maximizes(objective_type)
        # Without a RandomSeed every optimiser differs (AMT; Grid keeps its lexicographic order);
        # with one it is reproducible.
        self.random_seed = (
            int(random_seed) if random_seed is not None else int(np.random.default_rng().integers(2**31))
        )
        self.strategy = make_strategy(
            strategy,
            self.space,
            maximize=self.maximize,
            seed=seed_for(strategy, random_seed, self.random_seed),
            config=strategy_config,
        )
        self.observations: list[Observation] = []
        self.pending: dict[tuple[tuple[str, str], ...], tuple[int, dict[str, str]]] = {}
        self._next_trial = 1

    def ask(self, n: int = 1) -> list[dict[str, str]]:
        """``n`` new configurations, each accounting for the pending ones."""
        if n < 1:
            raise ValidationError("n must be >= 1", "n")
        limit = self.strategy.max_trials()
        if limit is not None:
            n = min(n, limit - self._next_trial + 1)
            if n <= 0:
                return []
        batch = self.strategy.propose_batch(
            self._next_trial, n, list(self.observations), [c for _, c in self.pending.values()]
        )
        for i, cfg in enumerate(batch):
            self.pending[config_key(cfg)] = (self._next_trial + i, dict(cfg))
        self._next_trial += len(batch)
        return [dict(c) for c in batch]

    def tell(self, params: Mapping[str, str], value: float | None) -> None:
        """Record a result; ``value`` in the objective's own direction, None/NaN = no metric."""
        params = {k: str(v) for k, v in params.items()}
        if not self.space.contains(params):
            raise ValidationError(f"{params} is not a configuration of this search space", "params")
        v = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        if v is not None and not math.isfinite(v):
            v = None
        trial, _ = self.pending.pop(config_key(params), (0, params))
        self.observations.append(Observation(params=params, value=v, trial_number=trial))

    @property
    def best(self) -> tuple[dict[str, str], float] | None:
        """The best (configuration, value) told so far, or None."""
        done = [(float(o.value), o) for o in self.observations if o.value is not None]
        if not done:
            return None
        value, o = (max if self.maximize else min)(done, key=lambda vo: vo[0])
        return dict(o.params), value
