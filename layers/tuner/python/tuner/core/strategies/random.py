"""Random search: every coordinate uniform on the scaled axis (log, reverse-log, integer cells)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from tuner.core.space import config_key
from tuner.core.strategies.base import Observation, Strategy, trial_rng

_MAX_REDRAWS = 32


class RandomStrategy(Strategy):
    name = "Random"

    def propose(
        self,
        trial_number: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, str]:
        rng = trial_rng(self.seed, trial_number)
        seen = {config_key(o.params) for o in observations} | {config_key(p) for p in pending}
        config = self.space.from_unit(rng.random(self.space.dim))
        # In small discrete spaces avoid repeating a configuration while unseen ones remain.
        for _ in range(_MAX_REDRAWS):
            if config_key(config) not in seen:
                break
            config = self.space.from_unit(rng.random(self.space.dim))
        return config

    def needs_history(self) -> bool:
        # Only to avoid repeats, which a continuous range (of positive width) makes impossible.
        return not any(p.cardinality is None and p.high > p.low for p in self.space.params)
