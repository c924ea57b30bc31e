"""The overhead line of ``tuner local`` (the tuning loop against its ideal, summed training time
spread over the parallel jobs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tuner.cli import loop_overhead


def describe(seconds: float | None, parallel: int = 2) -> dict:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "CreationTime": start,
        "HyperParameterTuningEndTime": None if seconds is None else start + timedelta(seconds=seconds),
        "HyperParameterTuningJobConfig": {"ResourceLimits": {"MaxParallelTrainingJobs": parallel}},
    }


def test_the_ratio_is_the_loop_over_the_training_time_per_parallel_slot():
    line = loop_overhead(describe(30.0), training_seconds=48.0)
    assert line is not None
    assert "ideal 24.0 s" in line and "overhead ratio 1.25x" in line


def test_no_line_without_an_end_or_any_training():
    assert loop_overhead(describe(None), training_seconds=48.0) is None
    assert loop_overhead(describe(30.0), training_seconds=0.0) is None
