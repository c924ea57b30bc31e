"""Which training job definition a trial uses, with ``TrainingJobDefinitions`` (pure).

AMT lets the strategy choose among the definitions (algorithms). This rebuild allocates trials by
results, reproducibly (a function of ``RandomSeed``, the trial number and the history):

1. the first ``D`` trials cover every definition once (in the request's order, skipping
   definitions that already have a trial);
2. afterwards each definition gets a score from its best objective value: the definitions are
   ranked (best first) and trial *n* picks a definition with probability proportional to
   ``EXPLORE + 2 ** -rank``: the leader gets most trials, every other definition keeps a share
   (``EXPLORE`` = 0.1 plus its rank weight), so a definition that starts badly can still recover;
   a definition with no objective value yet ranks last.

Rank-based weights need no common scale between the definitions' metrics, only the common
direction (AMT requires every definition to share the objective ``Type``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from tuner.core.strategies.base import trial_rng

EXPLORE = 0.1
_SALT = 7919  # a stream of randomness separate from the strategies'


def choose_definition(
    trial_number: int,
    names: Sequence[str | None],
    counts: Mapping[str | None, int],
    best: Mapping[str | None, float | None],
    maximize: bool,
    seed: int | None,
) -> str | None:
    """The definition name for trial ``trial_number``.

    ``counts``: trials (any status, pending included) per definition so far; ``best``: the best
    objective value per definition (None when none yet).
    """
    if len(names) == 1:
        return names[0]
    for name in names:
        if counts.get(name, 0) == 0:
            return name
    values = {n: v for n in names if (v := best.get(n)) is not None}
    scored = sorted((n for n in names if n in values), key=values.__getitem__, reverse=maximize)
    unscored = [n for n in names if best.get(n) is None]
    order = scored + unscored
    weights = [EXPLORE + 2.0 ** -i for i in range(len(order))]
    total = sum(weights)
    u = trial_rng(seed, trial_number, _SALT).random() * total
    for name, w in zip(order, weights, strict=True):
        u -= w
        if u <= 0:
            return name
    return order[-1]
