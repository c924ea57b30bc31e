"""The optimisers compared, behind one ask/tell interface over AMT configurations.

Each adapter: ``ask(n) -> list[dict[str, str]]`` (a batch, evaluated "in parallel"),
``tell(configs, values)``. Objectives are minimised.
"""

from __future__ import annotations

import math
from typing import Any

from tuner.core.space import CATEGORICAL, CONTINUOUS, INTEGER, SearchSpace


class Ours:
    def __init__(self, ranges: dict[str, Any], seed: int, strategy: str = "Bayesian") -> None:
        from tuner import Optimizer

        self.opt = Optimizer(ranges, "Minimize", strategy, random_seed=seed)

    def ask(self, n: int) -> list[dict[str, str]]:
        return self.opt.ask(n)

    def tell(self, configs, values) -> None:
        for c, v in zip(configs, values, strict=False):
            self.opt.tell(c, v)


class Random(Ours):
    def __init__(self, ranges, seed):
        super().__init__(ranges, seed, "Random")


def _optuna_distributions(space: SearchSpace):
    import optuna

    dists = {}
    for p in space.params:
        if p.kind == CATEGORICAL:
            dists[p.name] = optuna.distributions.CategoricalDistribution(list(p.values))
        elif p.kind == INTEGER:
            dists[p.name] = optuna.distributions.IntDistribution(
                int(p.low), int(p.high), log=p.scaling == "Logarithmic"
            )
        else:  # Optuna has no reverse-log; the benchmark problems do not use it
            dists[p.name] = optuna.distributions.FloatDistribution(
                p.low, p.high, log=p.scaling == "Logarithmic"
            )
    return dists


class _Optuna:
    def __init__(self, ranges, seed, sampler) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = SearchSpace.from_ranges(ranges)
        self.dists = _optuna_distributions(self.space)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.trials: dict[tuple, list] = {}

    def ask(self, n):
        out = []
        for _ in range(n):
            t = self.study.ask(self.dists)
            cfg = {p.name: p.format(t.params[p.name]) for p in self.space.params}
            self.trials.setdefault(tuple(sorted(cfg.items())), []).append(t)
            out.append(cfg)
        return out

    def tell(self, configs, values):
        import optuna

        for c, v in zip(configs, values, strict=False):
            t = self.trials[tuple(sorted(c.items()))].pop(0)
            if v is None or not math.isfinite(v):
                self.study.tell(t, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(t, v)


class OptunaTPE(_Optuna):
    def __init__(self, ranges, seed):
        import optuna

        super().__init__(
            ranges, seed, optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
        )


class OptunaGP(_Optuna):
    def __init__(self, ranges, seed):
        import optuna

        super().__init__(ranges, seed, optuna.samplers.GPSampler(seed=seed))


class SkoptGP:
    def __init__(self, ranges, seed) -> None:
        from skopt import Optimizer
        from skopt.space import Categorical, Integer, Real

        self.space = SearchSpace.from_ranges(ranges)
        dims = []
        for p in self.space.params:
            if p.kind == CATEGORICAL:
                dims.append(Categorical(list(p.values), name=p.name))
            elif p.kind == INTEGER:
                dims.append(
                    Integer(
                        int(p.low),
                        int(p.high),
                        prior="log-uniform" if p.scaling == "Logarithmic" else "uniform",
                        name=p.name,
                    )
                )
            else:
                assert p.kind == CONTINUOUS
                dims.append(
                    Real(
                        p.low,
                        p.high,
                        prior="log-uniform" if p.scaling == "Logarithmic" else "uniform",
                        name=p.name,
                    )
                )
        self.opt = Optimizer(
            dims,
            base_estimator="GP",
            acq_func="gp_hedge",
            n_initial_points=10,
            random_state=seed,
            acq_optimizer="auto",
        )
        self.worst = None

    def ask(self, n):
        xs = self.opt.ask(n_points=n, strategy="cl_min") if n > 1 else [self.opt.ask()]
        return [{p.name: p.format(x) for p, x in zip(self.space.params, row, strict=False)} for row in xs]

    def tell(self, configs, values):
        xs, ys = [], []
        for c, v in zip(configs, values, strict=False):
            row = []
            for p in self.space.params:
                s = c[p.name]
                row.append(s if p.kind == CATEGORICAL else int(s) if p.kind == INTEGER else float(s))
            xs.append(row)
            ys.append(v if v is not None and math.isfinite(v) else 1e6)
        self.opt.tell(xs, ys)


OPTIMIZERS = {
    "ours": Ours,
    "random": Random,
    "optuna_tpe": OptunaTPE,
    "optuna_gp": OptunaGP,
    "skopt_gp": SkoptGP,
}
