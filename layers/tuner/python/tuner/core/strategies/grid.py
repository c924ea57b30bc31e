"""Grid search (AMT semantics): categorical ranges only, every combination exactly once.

The order of combinations is lexicographic in the ranges' order (the first range varies slowest,
each range's values in the order given) unless the job gives a ``RandomSeed``: then it is a
permutation derived from that seed. Either way a job is reproducible. AMT documents grid search as
the one strategy that does not draw at random and no order (docs/parity.md). Trial *n* takes
combination *n - 1* of that order.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tuner.core.strategies.base import Observation, Strategy


class GridStrategy(Strategy):
    name = "Grid"
    seeded_without_random_seed = False  # the seed is the job's RandomSeed or None (lexicographic)

    def _order(self) -> list[dict[str, str]]:
        combos = self.space.grid()
        if self.seed is not None:
            perm = np.random.default_rng(int(self.seed)).permutation(len(combos))
            combos = [combos[i] for i in perm]
        return combos

    def propose(
        self,
        trial_number: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, str]:
        combos = self._order()
        if not 1 <= trial_number <= len(combos):
            raise IndexError(f"trial {trial_number} is beyond the grid's {len(combos)} combinations")
        return dict(combos[trial_number - 1])

    def max_trials(self) -> int | None:
        return self.space.grid_size()

    def needs_history(self) -> bool:
        return False  # trial n is the n-th combination
