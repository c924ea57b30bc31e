"""Search space (``core.space``): every range type and scaling maps into [0, 1] and back, in range and typed."""
from __future__ import annotations

import math

import numpy as np
import pytest
from tuner.core.space import SearchSpace, param_from_range
from tuner.errors import ValidationError

CASES = [
    # kind, spec, value, expected unit (None = only round-trip checked)
    ("Continuous", {"Name": "a", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"}, "2.5", 0.25),
    (
        "Continuous",
        {"Name": "a", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        "0.03162277660168379",
        0.5,
    ),
    (
        "Continuous",
        {"Name": "a", "MinValue": "0", "MaxValue": "0.99", "ScalingType": "ReverseLogarithmic"},
        "0.9",
        None,
    ),
    # Auto -> log
    ("Continuous", {"Name": "a", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Auto"}, "0.01", 0.5),
    ("Continuous", {"Name": "a", "MinValue": "1", "MaxValue": "5", "ScalingType": "Auto"}, "3", 0.5),  # Auto -> linear
    ("Integer", {"Name": "i", "MinValue": "1", "MaxValue": "4", "ScalingType": "Linear"}, "1", 0.125),
    ("Integer", {"Name": "i", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"}, "31", None),
    ("Categorical", {"Name": "c", "Values": ["x", "y", "z", "w"]}, "z", 0.625),
]


@pytest.mark.parametrize("kind,spec,value,unit", CASES)
def test_round_trip(kind, spec, value, unit):
    p = param_from_range(kind, spec, "ParameterRanges")
    u = p.to_unit(value)
    assert 0.0 <= u <= 1.0
    if unit is not None:
        assert u == pytest.approx(unit, abs=1e-9)
    back = p.format(p.from_unit(u))
    if kind == "Continuous":
        assert float(back) == pytest.approx(float(value), rel=1e-9)
    else:
        assert back == value


@pytest.mark.parametrize("kind,spec,value,unit", CASES)
def test_every_unit_point_maps_into_range_with_the_right_type(kind, spec, value, unit):
    p = param_from_range(kind, spec, "ParameterRanges")
    for u in np.linspace(0, 1, 101):
        text = p.format(p.from_unit(u))
        assert isinstance(text, str)
        parsed = p.parse(text)  # raises when out of range or mistyped
        if kind == "Integer":
            assert isinstance(parsed, int)


def test_integer_cells_are_equally_likely_under_linear_scaling():
    p = param_from_range("Integer", {"Name": "i", "MinValue": "3", "MaxValue": "10"}, "r")
    u = np.random.default_rng(0).random(80_000)
    counts = np.bincount([p.from_unit(x) for x in u])[3:]
    assert len(counts) == 8 and counts.min() / counts.max() > 0.95


def test_reverse_log_concentrates_near_one():
    spec = {"Name": "m", "MinValue": "0", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}
    p = param_from_range("Continuous", spec, "r")
    assert p.from_unit(0.5) > 0.9
    assert math.isclose(p.from_unit(0.0), 0.0) and math.isclose(p.from_unit(1.0), 0.999)


@pytest.mark.parametrize(
    "kind,spec,needle",
    [
        ("Continuous", {"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}, "> 0"),
        ("Continuous", {"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}, "< 1"),
        ("Integer", {"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}, "continuous"),
        ("Continuous", {"Name": "a", "MinValue": "2", "MaxValue": "1"}, "swap"),
        ("Continuous", {"Name": "a", "MinValue": "x", "MaxValue": "1"}, "not a number"),
        ("Integer", {"Name": "a", "MinValue": "1.5", "MaxValue": "3"}, "whole"),
        ("Categorical", {"Name": "a", "Values": []}, "1 to 30"),
    ],
)
def test_invalid_ranges_name_the_field_and_the_fix(kind, spec, needle):
    with pytest.raises(ValidationError) as err:
        param_from_range(kind, spec, "ParameterRanges.X")
    assert "ParameterRanges.X[a]" in str(err.value) and needle in str(err.value)


def test_grid_enumerates_every_combination_once():
    space = SearchSpace.from_ranges(
        {"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2"]}, {"Name": "b", "Values": ["x", "y", "z"]}]}
    )
    grid = space.grid()
    assert len(grid) == space.grid_size() == 6
    assert len({tuple(sorted(g.items())) for g in grid}) == 6
