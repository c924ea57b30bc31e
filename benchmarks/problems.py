"""Benchmark problems: every objective is minimised and takes the AMT configuration (strings).

Four groups (``GROUPS``, keyed by ``Problem.kind``):

* low-dimensional (kind ``synthetic``): synthetic functions (known optimum), mixed integer /
  categorical variants, and ``catcont5``, where the best learning rate depends on a categorical;
* high-dimensional (``high-dim``): 25 and 30 mixed parameters of which most are inert or weak,
  and 10-dimensional multimodal functions;
* noisy (``noisy``): existing problems observed with heteroscedastic noise; a run is scored on the
  noiseless value (``objective``) of the configuration it reports as best, while the optimiser
  sees ``observe`` (value plus noise whose level depends on the configuration);
* ML tasks (kind ``sklearn``): real scikit-learn tuning tasks whose objective is the 3-fold
  cross-validated error on datasets shipped with scikit-learn (their optimum is taken as the best
  value any run found, as in Bayesmark).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    kind: str  # "synthetic" | "sklearn"
    ranges: dict[str, Any]
    objective: Callable[[dict[str, str]], float]
    optimum: float | None = None  # None: best value found by any run
    meta: dict[str, Any] = field(default_factory=dict)
    # noisy problems: the standard deviation of the observation noise at a configuration
    noise_sd: Callable[[dict[str, str]], float] | None = None

    @property
    def group(self) -> str:
        return GROUPS[self.kind]

    def observe(self, cfg: dict[str, str], rng: np.random.Generator) -> float:
        """What the optimiser sees: the value, plus Gaussian noise for a noisy problem."""
        value = self.objective(cfg)
        if self.noise_sd is None:
            return value
        return value + self.noise_sd(cfg) * float(rng.standard_normal())


GROUPS = {"synthetic": "low-dim", "high-dim": "high-dim", "noisy": "noisy", "sklearn": "ML"}


def _cont(name: str, lo: float, hi: float, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": str(lo), "MaxValue": str(hi), "ScalingType": scaling}


# ---- synthetic functions (x: array) --------------------------------------------------------------
def branin(x: np.ndarray) -> float:
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x**2) / d))
        - math.exp(np.sum(np.cos(2 * math.pi * x)) / d)
        + 20
        + math.e
    )


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    t1 = math.sin(math.pi * w[0]) ** 2
    t2 = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    t3 = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(t1 + t2 + t3)


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _numeric(
    fn: Callable[[np.ndarray], float],
    names: list[str],
    decode: dict[str, Callable[[str], float]] | None = None,
):
    decode = decode or {}

    def objective(cfg: dict[str, str]) -> float:
        return fn(np.array([decode.get(n, float)(cfg[n]) for n in names]))

    return objective


def synthetic_problems() -> list[Problem]:
    out = []

    def cont_problem(name, fn, bounds, optimum):
        names = [f"x{i}" for i in range(len(bounds))]
        ranges = {
            "ContinuousParameterRanges": [_cont(n, lo, hi) for n, (lo, hi) in zip(names, bounds, strict=True)]
        }
        return Problem(name, "synthetic", ranges, _numeric(fn, names), optimum)

    out.append(cont_problem("branin", branin, [(-5, 10), (0, 15)], 0.397887))
    out.append(cont_problem("hartmann6", hartmann6, [(0, 1)] * 6, -3.32237))
    out.append(cont_problem("ackley5", ackley, [(-5, 10)] * 5, 0.0))
    out.append(cont_problem("levy5", levy, [(-10, 10)] * 5, 0.0))
    out.append(cont_problem("rosenbrock4", rosenbrock, [(-5, 10)] * 4, 0.0))

    # mixed variants -------------------------------------------------------------------------
    # Hartmann6: three continuous, two integers on a 0..10 grid (x = i / 10), one categorical
    # whose labels map to unordered positions. Optimum: best found by any run.
    h_names = [f"x{i}" for i in range(6)]
    h_levels = {"a": 0.6, "b": 0.0, "c": 0.8, "d": 0.2, "e": 0.4, "f": 1.0}
    h_ranges = {
        "ContinuousParameterRanges": [_cont(n, 0, 1) for n in h_names[:3]],
        "IntegerParameterRanges": [
            {"Name": n, "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"} for n in h_names[3:5]
        ],
        "CategoricalParameterRanges": [{"Name": "x5", "Values": list(h_levels)}],
    }
    h_dec = {"x3": lambda s: int(s) / 10, "x4": lambda s: int(s) / 10, "x5": lambda s: h_levels[s]}
    out.append(Problem("hartmann6_mixed", "synthetic", h_ranges, _numeric(hartmann6, h_names, h_dec)))
    # Ackley: three integer coordinates and two continuous ones; optimum 0 at the origin
    a_names = [f"x{i}" for i in range(5)]
    a_ranges = {
        "ContinuousParameterRanges": [_cont(n, -5, 10) for n in a_names[:2]],
        "IntegerParameterRanges": [
            {"Name": n, "MinValue": "-5", "MaxValue": "10", "ScalingType": "Linear"} for n in a_names[2:]
        ],
    }
    out.append(Problem("ackley5_mixed", "synthetic", a_ranges, _numeric(ackley, a_names), 0.0))
    # Levy: two continuous, two integers, one categorical (unordered labels); optimum 0 at x = 1
    l_names = [f"x{i}" for i in range(5)]
    l_levels = {"p": 7.0, "q": -5.0, "r": 1.0, "s": 4.0, "t": -2.0}
    l_ranges = {
        "ContinuousParameterRanges": [_cont(n, -10, 10) for n in l_names[:2]],
        "IntegerParameterRanges": [
            {"Name": n, "MinValue": "-10", "MaxValue": "10", "ScalingType": "Linear"} for n in l_names[2:4]
        ],
        "CategoricalParameterRanges": [{"Name": "x4", "Values": list(l_levels)}],
    }
    out.append(
        Problem(
            "levy5_mixed", "synthetic", l_ranges, _numeric(levy, l_names, {"x4": lambda s: l_levels[s]}), 0.0
        )
    )
    return out


# ---- the extremes: many parameters, interactions, 10-d multimodal, noise --------------------------
def _log10(s: str) -> float:
    return math.log10(float(s))


# catcont5: a training-run surrogate (a validation error, optimum 0) in which the categorical
# optimiser sets where the best learning rate, weight decay and warm-up lie and whether the
# momentum matters: a categorical x continuous interaction that no additive model captures.
_CC_BEST_LR = {"sgd": -1.0, "momentum": -1.7, "adam": -3.0, "rmsprop": -3.5}  # log10 of the best lr
_CC_CURVE = {"sgd": 0.06, "momentum": 0.08, "adam": 0.05, "rmsprop": 0.07}
_CC_BASE = {"sgd": 0.12, "momentum": 0.05, "adam": 0.0, "rmsprop": 0.03}


def _catcont_value(opt: str, lr: float, momentum: float, weight_decay: float, warmup: int) -> float:
    gap = math.log10(lr) - _CC_BEST_LR[opt]
    v = _CC_BASE[opt] + _CC_CURVE[opt] * gap**2 + 0.4 * max(0.0, gap - 1.0) ** 2  # diverges past +1 decade
    if opt == "momentum":
        v += 0.3 * (momentum - 0.9) ** 2
    wd_best, warm_best = (-4.0, 5) if opt == "adam" else (-5.0, 0)
    v += 0.02 * (math.log10(weight_decay) - wd_best) ** 2 + 0.0005 * (warmup - warm_best) ** 2
    return float(v)


def _catcont_ranges() -> dict[str, list[dict[str, Any]]]:
    return {
        "CategoricalParameterRanges": [{"Name": "optimizer", "Values": list(_CC_BEST_LR)}],
        "ContinuousParameterRanges": [
            _cont("lr", 1e-5, 1.0, "Logarithmic"),
            _cont("momentum", 0.0, 0.99),
            _cont("weight_decay", 1e-6, 1e-1, "Logarithmic"),
        ],
        "IntegerParameterRanges": _ints(("warmup", 0, 20, "Linear")),
    }


def _catcont(cfg: dict[str, str]) -> float:
    return _catcont_value(
        cfg["optimizer"], float(cfg["lr"]), float(cfg["momentum"]), float(cfg["weight_decay"]), int(cfg["warmup"])
    )


def _inert(prefix: str, n_cont: int, n_int: int, n_cat: int) -> dict[str, list[dict[str, Any]]]:
    """Parameters that the objective ignores (a mix of scalings, integer spans and level counts)."""
    cont = [
        _cont(f"{prefix}c{i}", 1e-4 if i % 2 else 0.0, 10.0 if i % 2 else 1.0, "Logarithmic" if i % 2 else "Linear")
        for i in range(n_cont)
    ]
    ints = _ints(*[(f"{prefix}i{i}", 1, 8 * (i + 1), "Linear") for i in range(n_int)])
    cats = [
        {"Name": f"{prefix}k{i}", "Values": [f"v{j}" for j in range(2 + i % 4)]} for i in range(n_cat)
    ]
    return {"ContinuousParameterRanges": cont, "IntegerParameterRanges": ints, "CategoricalParameterRanges": cats}


def _weak(prefix: str) -> tuple[dict[str, list[dict[str, Any]]], Callable[[dict[str, str]], float]]:
    """Six weak parameters (2 integers, 2 continuous, 2 categoricals): together they move the
    objective by at most about 0.3, each one's best value attainable (its term is then 0)."""
    ranges = {
        "IntegerParameterRanges": _ints((f"{prefix}n", 0, 10, "Linear"), (f"{prefix}size", 1, 64, "Logarithmic")),
        "ContinuousParameterRanges": [
            _cont(f"{prefix}frac", 0.0, 1.0),
            _cont(f"{prefix}eps", 1e-4, 1.0, "Logarithmic"),
        ],
        "CategoricalParameterRanges": [
            {"Name": f"{prefix}mode", "Values": ["a", "b", "c"]},
            {"Name": f"{prefix}flag", "Values": ["on", "off"]},
        ],
    }
    mode = {"a": 0.0, "b": 0.04, "c": 0.08}
    flag = {"on": 0.03, "off": 0.0}

    def value(cfg: dict[str, str]) -> float:
        return (
            0.08 * ((int(cfg[f"{prefix}n"]) - 7) / 10) ** 2
            + 0.06 * (math.log2(int(cfg[f"{prefix}size"])) - 3) ** 2 / 9
            + 0.05 * (float(cfg[f"{prefix}frac"]) - 0.3) ** 2
            + 0.05 * ((_log10(cfg[f"{prefix}eps"]) + 2) / 2) ** 2
            + mode[cfg[f"{prefix}mode"]]
            + flag[cfg[f"{prefix}flag"]]
        )

    return ranges, value


def _merge(*parts: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        for k, v in part.items():
            out.setdefault(k, []).extend(v)
    return {k: v for k, v in out.items() if v}


def _sparse25() -> Problem:
    """Hartmann6 on six active parameters of differing ranges and scalings (one logarithmic),
    six weak ones, thirteen inert ones: 25 parameters, optimum -3.32237 (attainable)."""
    active = {
        "ContinuousParameterRanges": [
            _cont("lr", 1e-5, 1e-1, "Logarithmic"),
            _cont("a1", 0.0, 1.0),
            _cont("a2", -2.0, 2.0),
            _cont("a3", 0.0, 100.0),
            _cont("a4", 0.0, 1.0),
            _cont("a5", 10.0, 20.0),
        ]
    }
    weak_ranges, weak = _weak("w_")

    def objective(cfg: dict[str, str]) -> float:
        u = np.array(
            [
                (_log10(cfg["lr"]) + 5) / 4,
                float(cfg["a1"]),
                (float(cfg["a2"]) + 2) / 4,
                float(cfg["a3"]) / 100,
                float(cfg["a4"]),
                (float(cfg["a5"]) - 10) / 10,
            ]
        )
        return hartmann6(np.clip(u, 0.0, 1.0)) + weak(cfg)

    ranges = _merge(active, weak_ranges, _inert("z_", 5, 4, 4))
    return Problem("sparse25_mixed", "high-dim", ranges, objective, -3.32237)


def _catcont30() -> Problem:
    """catcont5 among six weak and nineteen inert parameters: 30 parameters, optimum 0."""
    weak_ranges, weak = _weak("w_")

    def objective(cfg: dict[str, str]) -> float:
        return _catcont(cfg) + weak(cfg)

    ranges = _merge(_catcont_ranges(), weak_ranges, _inert("z_", 7, 6, 6))
    return Problem("catcont30_mixed", "high-dim", ranges, objective, 0.0)


def _noisy(base: Problem, sd: Callable[[dict[str, str]], float]) -> Problem:
    return Problem(f"{base.name}_noisy", "noisy", base.ranges, base.objective, base.optimum, noise_sd=sd)


def extreme_problems() -> list[Problem]:
    def cont_problem(name, kind, fn, bounds, optimum):
        names = [f"x{i}" for i in range(len(bounds))]
        ranges = {
            "ContinuousParameterRanges": [_cont(n, lo, hi) for n, (lo, hi) in zip(names, bounds, strict=True)]
        }
        return Problem(name, kind, ranges, _numeric(fn, names), optimum)

    catcont5 = Problem("catcont5", "synthetic", _catcont_ranges(), _catcont, 0.0)
    by_name = {p.name: p for p in synthetic_problems()}
    return [
        catcont5,
        _sparse25(),
        _catcont30(),
        cont_problem("ackley10", "high-dim", ackley, [(-5, 10)] * 10, 0.0),
        cont_problem("levy10", "high-dim", levy, [(-10, 10)] * 10, 0.0),
        # heteroscedastic: the noise grows along x0 (from 0.1 to 0.4; the function spans 0 .. -3.3)
        _noisy(by_name["hartmann6"], lambda c: 0.1 + 0.3 * float(c["x0"])),
        # worse configurations are noisier (as unstable training runs are)
        _noisy(by_name["levy5_mixed"], lambda c: 0.1 + 0.2 * by_name["levy5_mixed"].objective(c)),
        _noisy(catcont5, lambda c: 0.005 + 0.15 * _catcont(c)),
    ]


# ---- scikit-learn tuning tasks --------------------------------------------------------------------
_DATA: dict[str, Any] = {}


def _dataset(name: str):
    if name not in _DATA:
        from sklearn import datasets

        loader = {
            "breast_cancer": datasets.load_breast_cancer,
            "digits": datasets.load_digits,
            "wine": datasets.load_wine,
            "diabetes": datasets.load_diabetes,
        }[name]
        X, y = loader(return_X_y=True)
        _DATA[name] = (X, y)
    return _DATA[name]


def _cv_error(make_model: Callable[[dict[str, str]], Any], dataset: str, regression: bool = False):
    cache: dict[tuple, float] = {}

    def objective(cfg: dict[str, str]) -> float:
        key = tuple(sorted(cfg.items()))
        if key in cache:
            return cache[key]
        import warnings

        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

        X, y = _dataset(dataset)
        cv = (
            KFold(3, shuffle=True, random_state=0)
            if regression
            else StratifiedKFold(3, shuffle=True, random_state=0)
        )
        scoring = "neg_mean_squared_error" if regression else "accuracy"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = float(np.mean(cross_val_score(make_model(cfg), X, y, cv=cv, scoring=scoring)))
        val = -s / 1000.0 if regression else 1.0 - s  # MSE in thousands, or misclassification rate
        cache[key] = val
        return val

    return objective


def _svc(cfg):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), SVC(C=float(cfg["C"]), gamma=float(cfg["gamma"])))


def _rf(cfg):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=int(cfg["n_estimators"]),
        max_depth=int(cfg["max_depth"]),
        min_samples_split=int(cfg["min_samples_split"]),
        max_features=float(cfg["max_features"]),
        criterion=cfg["criterion"],
        random_state=0,
        n_jobs=1,
    )


def _sgd(cfg):
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        SGDClassifier(
            loss=cfg["loss"],
            penalty="elasticnet",
            alpha=float(cfg["alpha"]),
            l1_ratio=float(cfg["l1_ratio"]),
            eta0=float(cfg["eta0"]),
            learning_rate=cfg["learning_rate"],
            max_iter=15,
            tol=None,
            random_state=0,
        ),
    )


def _knn(cfg):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        KNeighborsClassifier(n_neighbors=int(cfg["n_neighbors"]), weights=cfg["weights"], p=int(cfg["p"])),
    )


def _tree_reg(cfg):
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor(
        max_depth=int(cfg["max_depth"]),
        min_samples_split=int(cfg["min_samples_split"]),
        min_samples_leaf=int(cfg["min_samples_leaf"]),
        max_features=float(cfg["max_features"]),
        criterion=cfg["criterion"],
        random_state=0,
    )


def _ints(*specs):
    return [{"Name": n, "MinValue": str(lo), "MaxValue": str(hi), "ScalingType": s} for n, lo, hi, s in specs]


def sklearn_problems() -> list[Problem]:
    return [
        Problem(
            "svc_breast_cancer",
            "sklearn",
            {
                "ContinuousParameterRanges": [
                    _cont("C", 1e-3, 1e3, "Logarithmic"),
                    _cont("gamma", 1e-5, 10, "Logarithmic"),
                ]
            },
            _cv_error(_svc, "breast_cancer"),
        ),
        Problem(
            "rf_wine",
            "sklearn",
            {
                "IntegerParameterRanges": _ints(
                    ("n_estimators", 5, 60, "Linear"),
                    ("max_depth", 1, 12, "Linear"),
                    ("min_samples_split", 2, 20, "Linear"),
                ),
                "ContinuousParameterRanges": [_cont("max_features", 0.05, 1.0)],
                "CategoricalParameterRanges": [{"Name": "criterion", "Values": ["gini", "entropy"]}],
            },
            _cv_error(_rf, "wine"),
        ),
        Problem(
            "sgd_digits",
            "sklearn",
            {
                "ContinuousParameterRanges": [
                    _cont("alpha", 1e-6, 1.0, "Logarithmic"),
                    _cont("l1_ratio", 0.0, 1.0),
                    _cont("eta0", 1e-4, 1.0, "Logarithmic"),
                ],
                "CategoricalParameterRanges": [
                    {"Name": "loss", "Values": ["hinge", "log_loss", "modified_huber"]},
                    {"Name": "learning_rate", "Values": ["optimal", "invscaling", "adaptive"]},
                ],
            },
            _cv_error(_sgd, "digits"),
        ),
        Problem(
            "knn_digits",
            "sklearn",
            {
                "IntegerParameterRanges": _ints(("n_neighbors", 1, 50, "Logarithmic"), ("p", 1, 2, "Linear")),
                "CategoricalParameterRanges": [{"Name": "weights", "Values": ["uniform", "distance"]}],
            },
            _cv_error(_knn, "digits"),
        ),
        Problem(
            "tree_diabetes",
            "sklearn",
            {
                "IntegerParameterRanges": _ints(
                    ("max_depth", 1, 20, "Linear"),
                    ("min_samples_split", 2, 100, "Logarithmic"),
                    ("min_samples_leaf", 1, 50, "Logarithmic"),
                ),
                "ContinuousParameterRanges": [_cont("max_features", 0.1, 1.0)],
                "CategoricalParameterRanges": [
                    {"Name": "criterion", "Values": ["squared_error", "friedman_mse", "absolute_error"]}
                ],
            },
            _cv_error(_tree_reg, "diabetes", regression=True),
        ),
    ]


def all_problems() -> list[Problem]:
    return synthetic_problems() + extreme_problems() + sklearn_problems()
