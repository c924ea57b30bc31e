"""``TrainingJobEarlyStoppingType: Auto``: the median stopping rule (pure).

AMT's rule: after each intermediate objective value of a running training job, compute for every
earlier training job of the tuning job the running average of its objective up to the same step,
take the median of those averages, and stop the current job if its value is worse than the
median. A "step" is the index of an objective value in the job's logs (one per epoch when the
script prints the objective every epoch).

Rebuild specifics:

* "earlier" = a trial with a smaller trial number (it was started earlier) that emitted at least as
  many values; finished and running trials both count.
* At least ``MIN_COMPARABLE`` (3) earlier trials must have reached the step, otherwise the job
  continues: the median of one or two curves is noise.
* The monitor evaluates the rule at the latest step it can read (it runs periodically, not at every
  print). Evaluating only the latest step is what a per-print evaluation would do at that moment.
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence

MIN_COMPARABLE = 3


def running_average(series: Sequence[float], step: int) -> float:
    """Mean of the first ``step`` values (``step`` >= 1, ``len(series) >= step``)."""
    return sum(series[:step]) / step


def median_rule(
    current: Sequence[float],
    earlier: Sequence[Sequence[float]],
    maximize: bool,
    min_comparable: int = MIN_COMPARABLE,
) -> tuple[bool, float | None]:
    """(stop?, the median compared against) for a job whose objective series is ``current``.

    ``earlier``: the objective series of the earlier trials. Returns ``(False, None)`` when too few
    earlier trials reached the current step.
    """
    step = len(current)
    if step == 0:
        return False, None
    averages = [running_average(s, step) for s in earlier if len(s) >= step]
    if len(averages) < min_comparable:
        return False, None
    median = statistics.median(averages)
    value = current[-1]
    worse = value < median if maximize else value > median
    return worse, median
