"""One contract over every strategy (Random, Grid, Bayesian): reproducible, no duplicates within a
batch, values in range and of the right type, stateless (a proposal does not depend on whether it
was made inside a batch)."""

from __future__ import annotations

import math

import pytest
from tuner.core.space import CATEGORICAL, INTEGER, SearchSpace, config_key
from tuner.core.strategies import Observation, make_strategy

MIXED = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "1e-5", "MaxValue": "1e-1", "ScalingType": "Logarithmic"},
        {"Name": "momentum", "MinValue": "0.5", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
        {"Name": "dropout", "MinValue": "0", "MaxValue": "0.5", "ScalingType": "Linear"},
    ],
    "IntegerParameterRanges": [
        {"Name": "layers", "MinValue": "1", "MaxValue": "8", "ScalingType": "Linear"},
        {"Name": "units", "MinValue": "16", "MaxValue": "1024", "ScalingType": "Logarithmic"},
    ],
    "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "tanh", "gelu"]}],
}
CATEGORICAL_ONLY = {
    "CategoricalParameterRanges": [
        {"Name": "a", "Values": ["1", "2", "3"]},
        {"Name": "b", "Values": ["x", "y"]},
        {"Name": "c", "Values": ["p", "q"]},
    ]
}
SMALL_INT = {"IntegerParameterRanges": [{"Name": "k", "MinValue": "1", "MaxValue": "6"}]}

STRATEGIES = [
    ("Random", MIXED),
    ("Bayesian", MIXED),
    ("Grid", CATEGORICAL_ONLY),
    ("Bayesian", CATEGORICAL_ONLY),
    ("Bayesian", SMALL_INT),
]
IDS = ["Random-mixed", "Bayesian-mixed", "Grid-categorical", "Bayesian-categorical", "Bayesian-small-int"]


def objective(cfg: dict[str, str]) -> float | None:
    score = 0.0
    for _k, v in sorted(cfg.items()):
        try:
            score += math.sin(3 * float(v)) if abs(float(v)) < 1e3 else math.log(float(v))
        except ValueError:
            score += len(v) * 0.1 + (ord(v[0]) % 5) * 0.2
    return None if score > 2.5 else score  # some trials "fail"


def run(name, ranges, seed, rounds=3, batch=4):
    space = SearchSpace.from_ranges(ranges)
    strat = make_strategy(name, space, maximize=False, seed=seed, config={"initial_design_size": 4})
    obs: list[Observation] = []
    batches = []
    limit = strat.max_trials()
    for _r in range(rounds):
        first = len(obs) + 1
        n = batch if limit is None else min(batch, limit - len(obs))
        if n <= 0:
            break
        b = strat.propose_batch(first, n, obs)
        batches.append(b)
        obs += [Observation(c, objective(c), first + i) for i, c in enumerate(b)]
    return space, strat, obs, batches


@pytest.mark.parametrize(("name", "ranges"), STRATEGIES, ids=IDS)
def test_same_seed_same_proposals(name, ranges):
    assert run(name, ranges, seed=7)[3] == run(name, ranges, seed=7)[3]


@pytest.mark.parametrize(("name", "ranges"), STRATEGIES, ids=IDS)
def test_no_duplicates_and_values_in_range(name, ranges):
    space, _, obs, batches = run(name, ranges, seed=3)
    for b in batches:
        assert len({config_key(c) for c in b}) == len(b)
    keys = [config_key(o.params) for o in obs]
    if ranges is not SMALL_INT:  # large enough never to repeat in 12 trials
        assert len(set(keys)) == len(keys)
    for o in obs:
        assert set(o.params) == set(space.names)
        for p in space.params:
            s = o.params[p.name]
            assert isinstance(s, str)
            p.parse(s)  # raises when out of range / not an integer / unknown category
            if p.kind == INTEGER:
                assert s == str(int(s))
            if p.kind == CATEGORICAL:
                assert s in p.values


@pytest.mark.parametrize(("name", "ranges"), STRATEGIES, ids=IDS)
def test_proposal_is_stateless(name, ranges):
    # GIVEN a history WHEN a batch is proposed THEN each item equals a fresh single proposal
    # that sees the earlier items as pending (what a retried Lambda invocation would do)
    space, strat, obs, _ = run(name, ranges, seed=5, rounds=2)
    first = len(obs) + 1
    n = 3 if strat.max_trials() is None else min(3, strat.max_trials() - len(obs))
    batch = strat.propose_batch(first, n, obs)
    fresh = make_strategy(name, space, maximize=False, seed=5, config={"initial_design_size": 4})
    for i in range(n):
        assert fresh.propose(first + i, obs, batch[:i]) == batch[i]


def test_bayesian_small_discrete_space_is_exhausted_without_repeats():
    space, _, obs, _ = run("Bayesian", SMALL_INT, seed=1, rounds=2, batch=3)
    assert sorted(int(o.params["k"]) for o in obs) == [1, 2, 3, 4, 5, 6]
