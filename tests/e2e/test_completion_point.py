"""Where a completion criterion ends a tuning job, as `tuner local` reports it: identical seeded runs
with one job at a time stop at the same count; with N in parallel the overshoot (jobs already
running when the criterion was met) is at most N - 1, and the summary says so."""
from __future__ import annotations

import re

import pytest
from tuner.cli import completion_lines
from tuner.cli_common import completion_point
from tuner.core.completion import REASON_NOT_IMPROVING

from tests.builders import continuous, start_and_wait, tuning_request

# Five full offline runs (~1 min): marked slow, run with `pytest -m slow tests/e2e/test_completion_point.py`
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NOT_IMPROVING = {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}


def run(lt, name: str, parallel: int) -> tuple[dict, str | None, tuple[int, int] | None, list[str]]:
    request = tuning_request(
        name, source="quick", max_jobs=30, max_parallel=parallel, seed=11, ranges=continuous(0, 10),
        completion=NOT_IMPROVING,
    )
    describe = start_and_wait(lt, request, timeout=600)
    record, trials = lt.service.queries.job(name)
    point = completion_point(NOT_IMPROVING, trials, maximize=False)
    lines = completion_lines(describe, record.completion_reason, trials, False)
    return describe, record.completion_reason, point, lines


def test_identical_seeded_runs_one_at_a_time_stop_at_the_same_count(local_tuner):
    first = run(local_tuner, "overshoot-one-a", 1)
    second = run(local_tuner, "overshoot-one-b", 1)
    for describe, reason, point, _ in (first, second):
        assert describe["HyperParameterTuningJobStatus"] == "Completed"
        assert reason is not None and reason.startswith(REASON_NOT_IMPROVING)
        assert point is not None
        met_at, ran = point
        assert ran == met_at < 30  # nothing else was running when the criterion was met
    assert first[2] == second[2]
    assert sum(first[0]["TrainingJobStatusCounters"].values()) == sum(second[0]["TrainingJobStatusCounters"].values())


def test_with_n_in_parallel_the_overshoot_is_at_most_n_minus_1_and_reported(local_tuner):
    describe, reason, point, lines = run(local_tuner, "overshoot-three", 3)
    assert reason is not None and point is not None
    met_at, ran = point
    assert 0 <= ran - met_at <= 2
    assert lines[0] == f"Completion reason: {reason}"
    m = re.fullmatch(r"Met after (\d+) finished training jobs; (\d+) ran in all: overshoot (\d+) .*= 2\)", lines[1])
    assert m is not None, lines
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (met_at, ran, ran - met_at)
    assert sum(describe["TrainingJobStatusCounters"].values()) == ran + sum(
        1 for t in local_tuner.service.queries.job("overshoot-three")[1] if not t.started and t.status == "Stopped")
