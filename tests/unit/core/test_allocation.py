"""Several training job definitions (``core.allocation``): which definition the next trial uses."""
from __future__ import annotations

from tuner.core.allocation import choose_definition


def test_allocation_covers_every_definition_then_favours_the_best():
    names = ["a", "b", "c"]
    assert choose_definition(1, names, {}, {}, False, 1) == "a"
    assert choose_definition(2, names, {"a": 1}, {}, False, 1) == "b"
    counts = {"a": 3, "b": 3, "c": 3}
    best = {"a": 5.0, "b": 0.1, "c": 2.0}
    picks = [choose_definition(n, names, counts, best, False, 1) for n in range(10, 210)]
    assert picks.count("b") > picks.count("c") > picks.count("a") > 0
    assert picks == [choose_definition(n, names, counts, best, False, 1) for n in range(10, 210)]
