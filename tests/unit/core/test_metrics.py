"""Metric parsing is bounded in time and memory, whatever the regexes and the logs are.

Time bounds here are generous ceilings (a hang would take minutes or hours), not benchmarks.
"""

from __future__ import annotations

import itertools
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tuner.core import metrics
from tuner.core.metrics import MAX_LINE_CHARS, MAX_SERIES, line_cap, parse_metrics, regex_problem, thin

LOSS = [{"Name": "loss", "Regex": r"loss: ([0-9\.]+)"}]
# SageMaker's documented example regexes (and the usual shapes): all must stay allowed.
SAFE = [
    r"loss: ([0-9\.]+)",
    r"Train_error=(.*?);",
    r"validation:accuracy=([-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)",
    r".*\[[0-9]+\].*#011validation-error:(\S+)",
    r"val_loss: ([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)",
    r"(\d{1,3}\.){3}\d{1,3}",
    r"epoch (\d+)",
    r"loss=([^,]+),",
]
EXPONENTIAL = [r"(a+)+$", r"(\d+\.)+x", r"(a|a)+$", r"(x|xy)*z", r"(.*a){20}", r"((\w+)\s?)*$"]


@pytest.mark.parametrize("regex", SAFE)
def test_the_usual_metric_regexes_are_allowed(regex):
    assert regex_problem(regex) is None


@pytest.mark.parametrize("regex", EXPONENTIAL)
def test_exponential_regexes_are_refused_with_the_construct_and_the_fix(regex):
    problem = regex_problem(regex)
    assert problem is not None and "backtrack exponentially" in problem
    assert "e.g." in problem  # says what to write instead


@pytest.mark.parametrize("regex", EXPONENTIAL)
def test_a_refused_regex_costs_nothing_and_explains_itself(regex):
    # GIVEN a line built to make the regex backtrack, and a valid objective beside it
    line = "a" * 5000 + "!" + " loss: 0.5"
    definitions = [*LOSS, {"Name": "bad", "Regex": regex}]
    t0 = time.monotonic()
    out = parse_metrics([line] * 100, definitions)
    assert time.monotonic() - t0 < 5
    assert out["bad"].final is None and out["bad"].values == []
    assert "MetricDefinitions 'bad'" in out["bad"].error and "refused" in out["bad"].error
    assert out["loss"].final == 0.5 and out["loss"].error is None  # the other metrics still parse


def test_a_regex_that_does_not_compile_is_an_error_not_a_crash():
    out = parse_metrics(["loss: 1"], [{"Name": "x", "Regex": "(("}])
    assert "does not compile" in out["x"].error


@pytest.mark.parametrize(
    ("regex", "cap"),
    [
        (r"loss: ([0-9\.]+)", MAX_LINE_CHARS),
        (r".*loss=(.*)", 14_142),
        (r".*a.*(b)", 584),
        (r".*a.*b.*(c)", 118),
    ],
)
def test_line_cap_follows_the_worst_case_cost(regex, cap):
    assert line_cap(regex) == cap


@pytest.mark.parametrize(
    ("regex", "line"),
    [
        (r".*a.*(b)", "a" * 100_000),
        (r".*a.*b.*(c)", "ab" * 50_000),
        (r".*loss.*=.*([0-9.]+)x", "loss=" * 20_000),
    ],
)
def test_polynomial_backtracking_is_bounded_per_line(regex, line):
    # .*a.*b on 16,384 characters takes about 15 minutes of backtracking without the cap
    t0 = time.monotonic()
    out = parse_metrics([line] * 3, [{"Name": "m", "Regex": regex}])
    assert time.monotonic() - t0 < 10
    assert out["m"].truncated == 3 and out["m"].error is None


def test_an_enormous_line_is_cut_and_costs_little():
    line = "loss: 1.5 " + "x" * 50_000_000 + " loss: 9"
    t0 = time.monotonic()
    out = parse_metrics([line], LOSS)
    assert time.monotonic() - t0 < 5
    assert out["loss"].values == [1.5] and out["loss"].truncated == 1


def test_progress_bar_lines_are_split_at_carriage_returns_and_the_last_value_wins():
    bar = "\r".join(f"{i}/500 [====] - loss: {1 / i:.4f}" + " " * 40 for i in range(1, 501))
    assert len(bar) > MAX_LINE_CHARS
    out = parse_metrics([bar], LOSS)
    assert out["loss"].count == 500 and out["loss"].final == pytest.approx(1 / 500, abs=1e-4)


def test_nan_inf_and_garbage_are_rejected_and_counted():
    lines = ["loss: nan", "loss: inf", "loss: 1e999", "loss: ...", "loss: 1.2.3", "loss: 0.25", "loss: ."]
    out = parse_metrics(lines, [{"Name": "loss", "Regex": r"loss: (\S+)"}])
    assert out["loss"].values == [0.25] and out["loss"].final == 0.25 and out["loss"].rejected == 6


def test_no_value_gives_no_final():
    out = parse_metrics(["training ...", "done"], LOSS)
    assert out["loss"].final is None and out["loss"].count == 0 and out["loss"].error is None


def _endless(closed: list[bool]):
    try:
        for i in itertools.count():
            yield f"step {i} loss: {i}"
    finally:
        closed.append(True)


def test_millions_of_lines_stop_at_the_line_budget_with_a_failure_reason():
    # GIVEN a job that never stops logging WHEN its metrics are parsed at the default budget
    closed: list[bool] = []
    out = parse_metrics(_endless(closed), LOSS)
    # THEN parsing stopped after MAX_LINES, closed the stream, and says why and what to do
    series = out["loss"]
    assert closed == [True]
    assert series.count == metrics.MAX_LINES
    assert series.final is None
    assert f"more than {metrics.MAX_LINES:,} log lines" in series.error
    assert "log metrics less often" in series.error


def test_the_time_budget_stops_parsing_with_a_failure_reason():
    ticks = itertools.count()
    closed: list[bool] = []
    out = parse_metrics(_endless(closed), LOSS, max_seconds=10.0, clock=lambda: float(next(ticks)))
    assert closed == [True]
    assert out["loss"].count <= 11 and out["loss"].final is None
    assert "took more than 10 s" in out["loss"].error


def test_memory_stays_bounded_however_many_values_are_printed():
    tracemalloc.start()
    try:
        out = parse_metrics((f"loss: {i}" for i in range(100_000)), LOSS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    series = out["loss"]
    assert series.count == 100_000 and series.final == 99_999.0
    assert len(series.values) <= 2 * MAX_SERIES + 1
    assert series.values[0] == 0.0 and series.values[-1] == 99_999.0
    assert peak < 1_500_000  # the 100,000 values as a list of floats would take ~3.2 MB
    assert len(thin(series.values)) <= MAX_SERIES


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=3000),
    st.integers(min_value=1, max_value=50),
)
def test_the_streaming_sample_is_an_ordered_bounded_subsequence_ending_with_the_last(values, limit):
    sample = metrics._Sample(limit)
    for x in values:
        sample.add(x)
    kept = sample.values()
    assert len(kept) <= 2 * limit + 1
    if values:
        assert kept[0] == values[0] and kept[-1] == values[-1]
        it = iter(values)
        assert all(any(k == v for v in it) for k in kept)  # a subsequence, in order
    if len(values) < 2 * limit:
        assert kept == values


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=1, max_value=1200))
def test_thin_keeps_at_most_limit_points_in_order_with_the_last_once(n, limit):
    values = [float(i) for i in range(n)]
    kept = thin(values, limit)
    assert len(kept) <= limit
    assert kept == sorted(set(kept))  # in order, no point twice
    if n:
        assert kept[-1] == values[-1]  # the final value
    if n and limit > 1:
        assert kept[0] == values[0]
    if n <= limit:
        assert kept == values
