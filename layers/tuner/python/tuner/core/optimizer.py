"""The public ask/tell API (``from tuner import Optimizer``), for notebooks, benchmarks and the
Lambda proposer. No boto3, no AWS credentials.

    opt = Optimizer(parameter_ranges={"ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "1e-5", "MaxValue": "1e-1", "ScalingType": "Logarithmic"}]},
        objective_type="Minimize", strategy="Bayesian", random_seed=0)
    for params in opt.ask(4):
        opt.tell(params, train(params))          # None or NaN: the job produced no metric

    opt = Optimizer.from_bounds({"lr": (1e-4, 1e-1, "log"), "depth": range(3, 11), "booster": ["gbtree", "dart"]})

docs/optimizer.md has the ranges format, strings in and out, pending trials and warm start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tuner.core.objective import MAXIMIZE, OBJECTIVE_TYPES, maximizes
from tuner.core.space import CATEGORICAL, RANGE_KEYS, SearchSpace, config_key
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
        self.space = SearchSpace.from_ranges(_checked_ranges(parameter_ranges))
        if strategy == "Grid":
            numeric = [p for p in self.space if p.kind != CATEGORICAL]
            if numeric:
                raise ValidationError(
                    f"Grid search takes categorical ranges only; {numeric[0].name!r} is {numeric[0].kind.lower()}: "
                    "list its values as a CategoricalParameterRange or use another strategy",
                    "ParameterRanges",
                )
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

    @classmethod
    def from_bounds(cls, bounds: Mapping[str, Any], **kwargs: Any) -> Optimizer:
        """An optimizer over compact bounds, for notebooks (``ranges_from_bounds``); ``kwargs`` as
        for the constructor."""
        return cls(ranges_from_bounds(bounds), **kwargs)

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

    def pick(self) -> tuple[dict[str, str], float, float] | None:
        """The Bayesian model's pick: (configuration, its observed value, the model's noise share)
        of the observation with the best posterior mean, which on a noisy objective may differ
        from ``best`` (a lucky draw). None for another strategy or fewer than two values."""
        from tuner.core.bayes.strategy import BayesianStrategy

        if not isinstance(self.strategy, BayesianStrategy):
            return None
        chosen = self.strategy.posterior_pick(self.observations)
        if chosen is None:
            return None
        o = self.observations[chosen.index]
        return dict(o.params), float(o.value), chosen.noise_share  # type: ignore[arg-type]


_SCALES = {"linear": "Linear", "log": "Logarithmic", "reverse-log": "ReverseLogarithmic", "auto": "Auto"}
_SHAPE = (
    '{"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1e-4", "MaxValue": "0.1", "ScalingType": '
    '"Logarithmic"}], "IntegerParameterRanges": [...], "CategoricalParameterRanges": [{"Name": "booster", '
    '"Values": ["gbtree", "dart"]}]}'
)


def _checked_ranges(ranges: Any) -> Mapping[str, Any]:
    """AMT's ``ParameterRanges``, or a clear error showing that shape (and ``from_bounds``)."""
    if not isinstance(ranges, Mapping):
        raise ValidationError(f"parameter_ranges must be AMT's ParameterRanges, e.g. {_SHAPE}", "ParameterRanges")
    unknown = [k for k in ranges if k not in RANGE_KEYS]
    if unknown:
        compact = all(isinstance(v, (tuple, list, range)) and not (
            v and isinstance(v, list) and isinstance(v[0], Mapping)) for v in ranges.values())
        hint = (
            "; for bounds such as {'x': (0.0, 10.0)} use Optimizer.from_bounds(...)" if compact
            else f"; the keys are {', '.join(RANGE_KEYS)}"
        )
        raise ValidationError(
            f"parameter_ranges has unknown key(s) {', '.join(repr(k) for k in unknown)}{hint} (shape: {_SHAPE})",
            "ParameterRanges",
        )
    if not any(ranges.get(k) for k in RANGE_KEYS):
        raise ValidationError(f"parameter_ranges holds no range; give at least one, e.g. {_SHAPE}", "ParameterRanges")
    return ranges


def ranges_from_bounds(bounds: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """AMT's ``ParameterRanges`` from compact bounds, by the form of each value:

    * ``(low, high)`` of floats: continuous, linear; ``(low, high, "log")`` (or ``"reverse-log"``,
      ``"linear"``, ``"auto"``): with that scaling;
    * ``(low, high)`` of ints, or ``range(a, b)`` (step 1): integer, ``low..high`` inclusive (``b - 1``
      for a range), a third item a scaling as above;
    * a list of values: categorical (each value as a string).
    """
    if not isinstance(bounds, Mapping) or not bounds:
        raise ValidationError("from_bounds takes {name: bounds}, e.g. {'lr': (1e-4, 1e-1, 'log'), "
                              "'depth': range(3, 11), 'booster': ['gbtree', 'dart']}", "bounds")
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in RANGE_KEYS}
    for name, spec in bounds.items():
        if isinstance(spec, range):
            if spec.step != 1 or len(spec) == 0:
                raise ValidationError(f"{name!r}: a range must have step 1 and at least one value", name)
            spec = (spec.start, spec.stop - 1)
        if isinstance(spec, list):
            if not spec:
                raise ValidationError(f"{name!r}: a categorical list needs at least one value", name)
            out["CategoricalParameterRanges"].append({"Name": name, "Values": [str(v) for v in spec]})
            continue
        if not isinstance(spec, tuple) or len(spec) not in (2, 3) or isinstance(spec[0], str):
            raise ValidationError(
                f"{name!r}: give (low, high), (low, high, 'log'), range(a, b) or a list of values; got {spec!r}", name
            )
        low, high = spec[0], spec[1]
        scale = _SCALES.get(str(spec[2]).lower()) if len(spec) == 3 else "Linear"
        if scale is None:
            raise ValidationError(f"{name!r}: scaling {spec[2]!r} is not one of {', '.join(_SCALES)}", name)
        integral = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high))
        key = "IntegerParameterRanges" if integral else "ContinuousParameterRanges"
        out[key].append({"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scale})
    return {k: v for k, v in out.items() if v}
