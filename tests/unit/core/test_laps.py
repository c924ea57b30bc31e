"""A tuning job's fan-out into laps (``core.laps.lap_plan``): enough laps for every trial, P at a time,
no idle round."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tuner.constants import DEFAULT_LAP_TRIALS
from tuner.core.laps import LAP_STARTS_PER_SECOND, lap_plan


@given(
    max_jobs=st.integers(1, 10_000), max_parallel=st.integers(1, 100), lap_trials=st.integers(1, 2_000)
)
def test_laps_hold_every_trial_with_at_most_one_partial_round(max_jobs, max_parallel, lap_trials):
    plan = lap_plan(max_jobs, max_parallel, lap_trials)
    laps, parallel = len(plan["Laps"]), plan["MaxParallel"]
    assert plan["Laps"] == list(range(1, laps + 1))  # lap numbers are the claim keys' prefix
    assert parallel == min(max_parallel, max_jobs)
    assert plan["LapTrials"] == lap_trials
    assert laps % parallel == 0  # whole rounds: parallelism never dips before the last round
    assert laps * lap_trials >= max_jobs  # the job never runs out of laps
    assert (laps - parallel) * lap_trials < max_jobs  # and never schedules a round it cannot use
    # the first P laps start spread over J seconds, about LAP_STARTS_PER_SECOND a second
    jitter = plan["StartJitter"]
    assert jitter * LAP_STARTS_PER_SECOND <= parallel < (jitter + 1) * LAP_STARTS_PER_SECOND


@pytest.mark.parametrize(
    ("max_jobs", "max_parallel", "laps"),
    [(10_000, 100, 100), (10_000, 1, 10), (10_000, 3, 12), (20, 2, 2), (3, 10, 3), (1, 1, 1)],
)
def test_the_largest_jobs_fit_in_a_few_laps(max_jobs, max_parallel, laps):
    plan = lap_plan(max_jobs, max_parallel)
    assert len(plan["Laps"]) == laps
    # the busiest lap runs at most LapTrials trials: ~10 history events each, far below 25,000
    assert math.ceil(max_jobs / laps) <= DEFAULT_LAP_TRIALS


def test_a_lap_holds_at_least_one_trial():
    with pytest.raises(ValueError, match="lap_trials must be at least 1"):
        lap_plan(10, 2, 0)
