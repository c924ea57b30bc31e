"""Grid's order (core.strategies.grid): lexicographic in the ranges' order unless the job gives a
RandomSeed, then a permutation of that seed; ``seed_for`` gives Grid no seed of its own."""

from __future__ import annotations

import pytest
from tuner.core.optimizer import Optimizer
from tuner.core.space import SearchSpace
from tuner.core.strategies import make_strategy, seed_for

RANGES = {
    "CategoricalParameterRanges": [
        {"Name": "depth", "Values": ["3", "6", "9"]},
        {"Name": "booster", "Values": ["gbtree", "dart"]},
    ]
}
LEXICOGRAPHIC = [
    {"depth": d, "booster": b} for d in ("3", "6", "9") for b in ("gbtree", "dart")
]  # the first range varies slowest, each range's values in the order given


def proposals(seed: int | None) -> list[dict[str, str]]:
    grid = make_strategy("Grid", SearchSpace.from_ranges(RANGES), maximize=True, seed=seed)
    return [grid.propose(n, [], []) for n in range(1, 7)]


def test_without_a_random_seed_the_order_is_lexicographic():
    assert proposals(None) == LEXICOGRAPHIC


def test_a_random_seed_gives_its_own_permutation_reproducibly():
    shuffled = proposals(42)
    assert shuffled == proposals(42) and shuffled != LEXICOGRAPHIC
    assert sorted(map(str, shuffled)) == sorted(map(str, LEXICOGRAPHIC))  # every combination once
    assert proposals(43) != shuffled


@pytest.mark.parametrize(
    ("strategy", "random_seed", "expected"),
    [
        ("Grid", None, None),  # no seed of its own: lexicographic
        ("Grid", 5, 5),
        ("Random", None, 1234),  # the seed fixed per job
        ("Random", 5, 5),
        ("Bayesian", None, 1234),
        ("Hyperband", 0, 0),
    ],
)
def test_seed_for(strategy, random_seed, expected):
    assert seed_for(strategy, random_seed, 1234) == expected


def test_the_optimizer_keeps_the_same_order():
    opt = Optimizer(RANGES, strategy="Grid")
    assert opt.ask(6) == LEXICOGRAPHIC
