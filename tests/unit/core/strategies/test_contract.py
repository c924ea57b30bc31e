"""One contract over every registered strategy (``core.strategies``: Random, Grid, Bayesian,
Hyperband, and whatever is registered next):

* a proposal is a point of the search space: every parameter and no other, SageMaker strings,
  integers integral, categoricals among the values, numbers within their bounds;
* reproducible: the same seed, history and pending trials give the same proposal, from any
  instance, inside a batch or alone (what a retried Lambda invocation relies on);
* no repeats where the strategy promises it: Grid runs every combination once (trial n is the
  n-th); the others never propose a configuration already observed or pending while unseen ones
  remain, whatever the trial number;
* ``needs_history()`` is honest: a strategy that says it does not read the history proposes the
  same whatever the history, and one that says it does is steered by it.

A newly registered strategy must be described in ``SPACES`` (the spaces it accepts), ``CONFIGS``
and ``NO_REPEATS`` before the contract runs over it.
"""

from __future__ import annotations

import math

import pytest
from tuner.core.space import CATEGORICAL, CONTINUOUS, INTEGER, SearchSpace, config_key
from tuner.core.strategies import Observation, make_strategy, registered

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
RANGES = {"mixed": MIXED, "categorical": CATEGORICAL_ONLY, "small-int": SMALL_INT}
DISCRETE = ("categorical", "small-int")  # small enough to run out of unseen configurations

# What each registered strategy accepts and is configured with (as the service passes
# ``StrategyConfig``), and whether it promises never to repeat an observed or pending point.
SPACES = {
    "Random": ("mixed", "categorical", "small-int"),
    "Grid": ("categorical",),  # categorical ranges only (AMT)
    "Bayesian": ("mixed", "categorical", "small-int"),
    "Hyperband": ("mixed", "categorical", "small-int"),
}
CONFIGS = {
    "Bayesian": {"initial_design_size": 4},
    "Hyperband": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
}
NO_REPEATS = {"Random", "Bayesian", "Hyperband"}  # Grid: trial n is the n-th combination, once


CASES = [
    pytest.param(name, label, id=f"{name}-{label}")
    for name in registered()
    for label in SPACES.get(name, ())
]


def strategy(name: str, label: str, seed: int | None = 7):
    space = SearchSpace.from_ranges(RANGES[label])
    return make_strategy(name, space, maximize=False, seed=seed, config=CONFIGS.get(name))


def objective(cfg: dict[str, str]) -> float | None:
    score = 0.0
    for _k, v in sorted(cfg.items()):
        try:
            score += math.sin(3 * float(v)) if abs(float(v)) < 1e3 else math.log(float(v))
        except ValueError:
            score += len(v) * 0.1 + (ord(v[0]) % 5) * 0.2
    return None if score > 2.5 else score  # some trials "fail"


def run(name: str, label: str, seed: int, rounds: int = 3, batch: int = 4):
    """``rounds`` batches of ``batch`` proposals, each batch observed before the next."""
    strat = strategy(name, label, seed)
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
    return strat, obs, batches


def test_the_contract_covers_every_registered_strategy():
    assert {"Random", "Grid", "Bayesian", "Hyperband"} <= set(registered())
    missing = set(registered()) - set(SPACES)
    assert not missing, f"describe {sorted(missing)} in SPACES, CONFIGS and NO_REPEATS"


# ---- inside the search space ---------------------------------------------------------------------
@pytest.mark.parametrize(("name", "label"), CASES)
def test_proposals_are_points_of_the_search_space(name, label):
    strat, obs, _ = run(name, label, seed=3)
    space = strat.space
    assert obs
    for o in obs:
        assert set(o.params) == set(space.names)
        for p in space.params:
            s = o.params[p.name]
            assert isinstance(s, str)
            value = p.parse(s)  # raises when out of range / not an integer / unknown category
            if p.kind == INTEGER:
                assert s == str(int(s))
            if p.kind == CATEGORICAL:
                assert s in p.values
            if p.kind == CONTINUOUS:
                assert p.low <= value <= p.high


# ---- reproducible --------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "label"), CASES)
def test_same_seed_same_history_same_proposals(name, label):
    assert run(name, label, seed=7)[2] == run(name, label, seed=7)[2]


@pytest.mark.parametrize(("name", "label"), CASES)
def test_a_proposal_depends_only_on_seed_trial_history_and_pending(name, label):
    # GIVEN a history WHEN a batch is proposed THEN each item equals a fresh single proposal that
    # sees the earlier items as pending (what a retried Lambda invocation would do)
    strat, obs, _ = run(name, label, seed=5, rounds=2)
    first = len(obs) + 1
    n = 3 if strat.max_trials() is None else min(3, strat.max_trials() - len(obs))
    batch = strat.propose_batch(first, n, obs)
    fresh = strategy(name, label, seed=5)
    for i in range(n):
        assert fresh.propose(first + i, obs, batch[:i]) == batch[i]
        assert fresh.propose(first + i, obs, batch[:i]) == batch[i]  # asking twice changes nothing


# ---- no repeats ----------------------------------------------------------------------------------
def size(space: SearchSpace) -> float:
    """How many configurations the space holds (inf with a continuous range)."""
    cells = [p.cardinality for p in space.params]
    return math.inf if None in cells else math.prod(cells)


@pytest.mark.parametrize(("name", "label"), CASES)
def test_no_duplicates_within_a_batch_or_across_the_history(name, label):
    # 12 trials: the small-int space (6 points) runs out of unseen points in the second batch
    strat, obs, batches = run(name, label, seed=3)
    before = 0
    for b in batches:
        if before + len(b) <= size(strat.space):
            assert len({config_key(c) for c in b}) == len(b)
        before += len(b)
    keys = [config_key(o.params) for o in obs]
    if len(keys) <= size(strat.space):
        assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("name", "label"), [c for c in CASES if c.values[0] in NO_REPEATS and c.values[1] in DISCRETE]
)
def test_pending_points_are_not_proposed_again_at_any_trial_number(name, label):
    # GIVEN half of a small discrete space pending (proposed, not finished) and a few observed
    strat = strategy(name, label)
    taken = strat.propose_batch(1, int(size(strat.space)) // 2, [])
    observed = [Observation(c, objective(c), i + 1) for i, c in enumerate(taken[:2])]
    pending = taken[2:]
    seen = {config_key(c) for c in taken}
    # WHEN later trials are proposed, whatever their number
    for n in range(len(taken) + 1, len(taken) + 8):
        proposal = strat.propose(n, observed, pending)
        # THEN none of them repeats a pending or observed configuration
        assert config_key(proposal) not in seen, (n, proposal)


@pytest.mark.parametrize(
    ("name", "label"), [c for c in CASES if c.values[0] in NO_REPEATS and c.values[1] == "small-int"]
)
def test_a_small_discrete_space_is_exhausted_without_repeats(name, label):
    _, obs, _ = run(name, label, seed=1, rounds=2, batch=3)
    assert sorted(int(o.params["k"]) for o in obs) == [1, 2, 3, 4, 5, 6]


def test_grid_runs_every_combination_once_in_trial_order():
    strat = strategy("Grid", "categorical")
    size = strat.max_trials()
    assert size == strat.space.grid_size() == 12
    combos = [strat.propose(n, [], []) for n in range(1, size + 1)]
    assert len({config_key(c) for c in combos}) == size
    with pytest.raises(IndexError):
        strat.propose(size + 1, [], [])


# ---- needs_history -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "label"), CASES)
def test_needs_history_says_whether_the_history_changes_a_proposal(name, label):
    strat, obs, batches = run(name, label, seed=11, rounds=2)
    n = len(obs) + 1
    if strat.max_trials() is not None and n > strat.max_trials():
        n = strat.max_trials()
    alone = strat.propose(n, [], [])
    if not strat.needs_history():
        # THEN it proposes from the trial number alone: the service skips reading the trials
        assert strat.propose(n, obs, batches[-1]) == alone
    elif name in NO_REPEATS:
        # THEN the history steers it: the point it would propose alone, pending, is not proposed
        assert strat.propose(n, [], [alone]) != alone


@pytest.mark.parametrize(
    ("name", "ranges", "needs"),
    [
        ("Random", {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}, False),
        ("Random", {"IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "4"}]}, True),
        ("Random", {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "1"}]}, True),
        ("Hyperband", {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}, False),
        ("Hyperband", {"CategoricalParameterRanges": [{"Name": "k", "Values": ["a", "b"]}]}, True),
        ("Grid", {"CategoricalParameterRanges": [{"Name": "k", "Values": ["a", "b"]}]}, False),
        ("Bayesian", {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}, True),
    ],
)
def test_strategies_say_whether_they_read_the_history(name, ranges, needs):
    """Random (and Hyperband, which proposes as Random does) reads it only to avoid repeats, which a
    continuous range of positive width rules out."""
    space = SearchSpace.from_ranges(ranges)
    assert make_strategy(name, space, maximize=True, seed=1, config=CONFIGS.get(name)).needs_history() is needs
