"""Round-trip tables for the GP's encoding of every range type and scaling."""

from __future__ import annotations

import numpy as np
import pytest
from tuner.core.bayes.encoding import Encoding
from tuner.core.space import SearchSpace

CASES = [
    # (range key, spec, values that must round-trip exactly)
    (
        "ContinuousParameterRanges",
        {"MinValue": "0.5", "MaxValue": "2.5", "ScalingType": "Linear"},
        ["0.5", "1.25", "2.5"],
    ),
    (
        "ContinuousParameterRanges",
        {"MinValue": "1e-5", "MaxValue": "1", "ScalingType": "Logarithmic"},
        ["1e-05", "0.001", "1.0"],
    ),
    (
        "ContinuousParameterRanges",
        {"MinValue": "0", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
        ["0.0", "0.9", "0.999"],
    ),
    (
        "ContinuousParameterRanges",
        {"MinValue": "1e-4", "MaxValue": "10", "ScalingType": "Auto"},
        ["0.0001", "0.5", "10.0"],
    ),
    (
        "ContinuousParameterRanges",
        {"MinValue": "-3", "MaxValue": "3", "ScalingType": "Auto"},
        ["-3.0", "0.0", "3.0"],
    ),
    (
        "IntegerParameterRanges",
        {"MinValue": "1", "MaxValue": "10", "ScalingType": "Linear"},
        ["1", "5", "10"],
    ),
    (
        "IntegerParameterRanges",
        {"MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"},
        ["1", "2", "37", "999", "1000"],
    ),
    ("IntegerParameterRanges", {"MinValue": "-5", "MaxValue": "5", "ScalingType": "Auto"}, ["-5", "0", "5"]),
    ("IntegerParameterRanges", {"MinValue": "7", "MaxValue": "7", "ScalingType": "Linear"}, ["7"]),
    ("CategoricalParameterRanges", {"Values": ["relu", "tanh", "gelu"]}, ["relu", "tanh", "gelu"]),
    ("CategoricalParameterRanges", {"Values": ["only"]}, ["only"]),
]
IDS = [f"{k.split('Param')[0]}-{s.get('ScalingType', 'cat')}-{i}" for i, (k, s, _) in enumerate(CASES)]


def _enc(key, spec) -> Encoding:
    return Encoding.from_space(SearchSpace.from_ranges({key: [{"Name": "p", **spec}]}))


@pytest.mark.parametrize(("key", "spec", "values"), CASES, ids=IDS)
def test_value_round_trips(key, spec, values):
    enc = _enc(key, spec)
    for v in values:
        z = enc.param_vector({"p": v})
        assert z is not None and np.all((0 <= z) & (z <= max(1, enc.n_cells.max())))
        assert (
            float(enc.config(z)["p"]) == pytest.approx(float(v))
            if key != "CategoricalParameterRanges"
            else enc.config(z)["p"] == v
        )


@pytest.mark.parametrize(("key", "spec", "values"), CASES, ids=IDS)
def test_random_points_decode_in_range_and_type(key, spec, values):
    enc = _enc(key, spec)
    p = enc.space.params[0]
    Z = enc.from_unit_cube(np.random.default_rng(0).random((300, 1)))
    assert np.array_equal(enc.snap(Z), Z)  # snapping is idempotent
    for z in Z:
        s = enc.config(z)["p"]
        assert p.parse(s) is not None  # raises when out of range or of the wrong type
        if key == "IntegerParameterRanges":
            assert s == str(int(s))
        # the encoded point is exactly what its configuration encodes to
        assert np.allclose(enc.param_vector({"p": s}), z)


@pytest.mark.parametrize("scaling", ["Linear", "Logarithmic"])
def test_integer_snap_matches_space(scaling):
    enc = _enc("IntegerParameterRanges", {"MinValue": "1", "MaxValue": "50", "ScalingType": scaling})
    p = enc.space.params[0]
    u = np.linspace(0, 1, 1001)
    snapped = enc.snap(u[:, None])[:, 0]
    assert np.allclose(snapped, [p.to_unit(p.from_unit(x)) for x in u])


def test_features_one_hot_blocks():
    space = SearchSpace.from_ranges(
        {
            "ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"}],
            "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y", "z"]}],
        }
    )
    enc = Encoding.from_space(space)
    F = enc.features(np.array([[0.25, 2.0], [0.5, 0.0]]))
    assert F.tolist() == [[0.25, 0, 0, 1], [0.5, 1, 0, 0]]
    assert enc.col_param.tolist() == [0, 1, 1, 1]
    assert enc.col_scale.tolist() == [1.0, 0.5, 0.5, 0.5]


def test_unknown_values_are_skipped():
    enc = _enc("CategoricalParameterRanges", {"Values": ["a", "b"]})
    assert enc.param_vector({"p": "c"}) is None
    assert enc.param_vector({}) is None
