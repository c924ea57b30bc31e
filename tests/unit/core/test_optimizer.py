"""The ask/tell API (``core.optimizer``, ``from tuner import Optimizer``)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from tuner.core.optimizer import Optimizer
from tuner.errors import ValidationError

RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "x1", "MinValue": "-5", "MaxValue": "10", "ScalingType": "Linear"},
        {"Name": "x2", "MinValue": "0", "MaxValue": "15", "ScalingType": "Linear"},
    ]
}


def branin(p: dict[str, str]) -> float:
    x1, x2 = float(p["x1"]), float(p["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _run(strategy: str, seed: int, rounds: int = 6) -> float:
    from tuner import Optimizer

    opt = Optimizer(RANGES, "Minimize", strategy, random_seed=seed)
    for _ in range(rounds):
        for p in opt.ask(4):
            opt.tell(p, branin(p))
    return opt.best[1]


def test_bayesian_beats_random_on_branin():
    bo = [_run("Bayesian", s) for s in range(3)]
    rs = [_run("Random", s) for s in range(3)]
    assert sum(bo) / 3 < 0.8  # optimum 0.397887; random search averages about 2 here
    assert sum(bo) < sum(rs)


def test_pending_and_failed_trials():
    from tuner import Optimizer

    opt = Optimizer(RANGES, "Maximize", "Bayesian", random_seed=0, strategy_config={"initial_design_size": 3})
    first = opt.ask(3)
    assert len(opt.pending) == 3
    opt.tell(first[0], None)
    opt.tell(first[1], float("nan"))
    opt.tell(first[2], 1.0)
    assert not opt.pending and [o.value for o in opt.observations] == [None, None, 1.0]
    more = opt.ask(2)  # still works with one valid value (design continues)
    assert len(more) == 2 and more[0] != more[1]
    assert opt.best == (first[2], 1.0)


def test_warm_start_observations_are_used():
    from tuner import Optimizer

    opt = Optimizer(RANGES, "Minimize", "Bayesian", random_seed=0, strategy_config={"initial_design_size": 5})
    parent = Optimizer(RANGES, "Minimize", "Random", random_seed=1)
    for p in parent.ask(10):
        opt.tell(p, branin(p))  # never asked by opt: warm-start observations
    (p,) = opt.ask(1)  # 10 known trials >= design size: the GP proposes right away
    assert branin(p) < max(branin(o.params) for o in opt.observations)


def test_grid_stops_at_the_number_of_combinations():
    from tuner import Optimizer

    opt = Optimizer(
        {"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2", "3"]}]}, strategy="Grid"
    )
    assert len(opt.ask(5)) == 3 and opt.ask(1) == []


def test_invalid_input_is_rejected():
    from tuner import Optimizer

    with pytest.raises(ValidationError):
        Optimizer(RANGES, objective_type="Largest")
    opt = Optimizer(RANGES, random_seed=0)
    with pytest.raises(ValidationError):
        opt.tell({"x1": "100", "x2": "1"}, 1.0)


def test_importable_and_usable_without_boto3():
    code = (
        "import sys; sys.modules['boto3'] = None; sys.modules['botocore'] = None\n"
        "from tuner import Optimizer\n"
        f"o = Optimizer({RANGES!r}, 'Minimize', 'Bayesian', random_seed=0)\n"
        "for _ in range(3):\n"
        "    [o.tell(p, float(p['x1'])) for p in o.ask(3)]\n"
        "print(len(o.observations))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "9"


def test_failed_trials_steer_proposals_away():
    # GIVEN an objective that rises with x1 but fails (no metric) for x1 > 4
    # WHEN the engine has seen failures THEN later proposals mostly stay out of the failing region
    # (ignoring failures, the GP would extrapolate the slope and keep proposing x1 near 10)
    from tuner import Optimizer

    opt = Optimizer(RANGES, "Maximize", "Bayesian", random_seed=3)
    later = []
    for r in range(6):
        for p in opt.ask(4):
            x1 = float(p["x1"])
            opt.tell(p, None if x1 > 4 else x1 - 0.1 * abs(float(p["x2"]) - 7))
            if r >= 3:
                later.append(x1)
    assert sum(x > 5 for x in later) <= 2


# ---- wrong input is refused when the optimizer is built, saying what shape is expected ----------
@pytest.mark.parametrize(
    ("ranges", "says"),
    [
        ({"x": (0.0, 10.0)}, "Optimizer.from_bounds"),
        ({"ContinousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}, "ContinuousParameterRanges"),
        ({}, "holds no range"),
        ([("x", 0, 1)], "must be AMT's ParameterRanges"),
    ],
)
def test_a_wrong_ranges_argument_is_refused_at_construction(ranges, says):
    with pytest.raises(ValidationError, match=says):
        Optimizer(ranges)


def test_grid_with_a_numeric_range_is_refused_not_empty():
    ranges = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
    with pytest.raises(ValidationError, match="Grid search takes categorical ranges only; 'x' is continuous"):
        Optimizer(ranges, strategy="Grid")


def test_from_bounds_builds_amts_ranges_by_the_form_of_each_value():
    from tuner.core.optimizer import ranges_from_bounds

    ranges = ranges_from_bounds(
        {"lr": (1e-4, 1e-1, "log"), "depth": range(3, 11), "n": (1, 5), "x": (0.0, 1.0), "b": ["gbtree", "dart"]}
    )
    assert ranges == {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
            {"Name": "x", "MinValue": "0.0", "MaxValue": "1.0", "ScalingType": "Linear"},
        ],
        "IntegerParameterRanges": [
            {"Name": "depth", "MinValue": "3", "MaxValue": "10", "ScalingType": "Linear"},
            {"Name": "n", "MinValue": "1", "MaxValue": "5", "ScalingType": "Linear"},
        ],
        "CategoricalParameterRanges": [{"Name": "b", "Values": ["gbtree", "dart"]}],
    }
    opt = Optimizer.from_bounds({"lr": (1e-4, 1e-1, "log"), "depth": range(3, 11)}, objective_type="Minimize",
                                random_seed=0)
    (params,) = opt.ask()
    assert 1e-4 <= float(params["lr"]) <= 1e-1 and 3 <= int(params["depth"]) <= 10


@pytest.mark.parametrize(
    ("bounds", "says"),
    [({"x": (1.0,)}, "give \\(low, high\\)"), ({"x": (0.0, 1.0, "cubic")}, "scaling 'cubic'"),
     ({"x": range(0, 10, 2)}, "step 1"), ({"x": []}, "at least one value"), ({}, "from_bounds takes")],
)
def test_from_bounds_refuses_what_it_cannot_read(bounds, says):
    with pytest.raises(ValidationError, match=says):
        Optimizer.from_bounds(bounds)


def test_pick_is_the_models_best_posterior_mean_and_none_for_other_strategies():
    opt = Optimizer.from_bounds({"x": (0.0, 10.0)}, objective_type="Minimize", random_seed=1)
    assert opt.pick() is None  # nothing told
    for x, v in (("1.0", 4.1), ("1.0", 3.9), ("3.0", 0.2), ("3.0", 0.4), ("8.0", 2.6), ("8.0", -0.5)):
        opt.tell({"x": x}, v)  # x = 8 once drew -0.5 (lucky); its other run says 2.6
    params, value, share = opt.pick()
    assert params == {"x": "3.0"} and value in (0.2, 0.4) and 0 < share < 1
    assert opt.best == ({"x": "8.0"}, -0.5)  # what AMT would report
    assert Optimizer.from_bounds({"x": (0.0, 10.0)}, strategy="Random").pick() is None
