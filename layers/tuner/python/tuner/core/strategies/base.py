"""The strategy interface every search strategy implements.

Strategies are stateless: each call rebuilds what it needs from the trial history, and each
trial's randomness is derived from the job's ``RandomSeed`` and the trial number, so a Lambda
can propose trial *n* on any invocation (and a retried invocation proposes the same thing).

numpy is imported by ``trial_rng`` when a trial is proposed, not with this module: the functions
that never propose (``tests/unit/test_lean_imports.py``) import it for ``Observation`` and run
without the scientific layer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuner.core.space import SearchSpace

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Observation:
    """A finished (or running) trial as the strategy sees it.

    ``value`` is the objective in the job's own direction (the strategy knows ``maximize``);
    None means the trial produced no objective (failed, or no metric emitted).
    ``step_values`` is the intermediate objective series, when the strategy wants it.
    """

    params: Mapping[str, str]
    value: float | None
    trial_number: int = 0
    step_values: Sequence[float] = field(default_factory=tuple)


def trial_rng(seed: int | None, trial_number: int, salt: int = 0) -> np.random.Generator:
    """A generator that depends only on (RandomSeed, trial number): reproducible per trial."""
    import numpy as np

    entropy = [0 if seed is None else int(seed) + 1, int(trial_number), int(salt)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


class Strategy(ABC):
    """Proposes the next configuration from the history and the pending trials."""

    name = "base"
    #: Whether proposals draw on a seed when the job gives no ``RandomSeed``. True: the service
    #: gives a seed fixed per job (a retried step proposes the same). False: the strategy is
    #: deterministic without one and gets None (Grid's lexicographic order). See ``seed_for``.
    seeded_without_random_seed = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        maximize: bool,
        seed: int | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.space = space
        self.maximize = maximize
        self.seed = seed
        self.config = dict(config or {})

    @abstractmethod
    def propose(
        self,
        trial_number: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, str]:
        """The configuration for trial ``trial_number`` (1-based), as SageMaker strings."""

    def propose_batch(
        self,
        first_trial_number: int,
        n: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, str]] = (),
    ) -> list[dict[str, str]]:
        """``n`` proposals; each later one sees the earlier ones as pending."""
        out: list[dict[str, str]] = []
        for i in range(n):
            out.append(self.propose(first_trial_number + i, observations, [*pending, *out]))
        return out

    def max_trials(self) -> int | None:
        """How many distinct proposals exist (Grid), or None when unbounded."""
        return None

    def needs_history(self) -> bool:
        """Whether ``propose`` reads the observations and pending trials at all.

        When it does not, the service proposes from the trial number alone and skips reading the
        tuning job's trials (at 10,000 trials that read dominates a step).
        """
        return True
