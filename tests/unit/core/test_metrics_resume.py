"""resume_metrics: parsing a job's lines piece by piece gives exactly what one parse_metrics gives."""
from __future__ import annotations

import json
import random

import pytest
from tuner.core.metrics import ParseState, parse_metrics, resume_metrics

DEFS = [
    {"Name": "loss", "Regex": r"loss: ([0-9eE.+-]+)"},
    {"Name": "acc", "Regex": r"acc=([0-9.]+)"},
]


def _log(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.5:
            out.append(f"epoch {i} loss: {rng.uniform(0, 2):.5f} acc={rng.random():.3f}")
        elif kind < 0.6:
            out.append("loss: nan")  # rejected
        elif kind < 0.7:
            out.append(f"progress\rloss: {i}\rloss: {i + 0.5}")  # segments
        else:
            out.append(f"noise {i}")
    return out


def _pieces(lines: list[str], cuts: list[int]) -> list[list[str]]:
    bounds = [0, *sorted(cuts), len(lines)]
    return [lines[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@pytest.mark.parametrize("seed", range(6))
def test_pieces_give_the_series_of_one_parse_thinned_alike(seed: int) -> None:
    lines = _log(3_000, seed)
    whole = parse_metrics(lines, DEFS, series_limit=50)  # thinned: the sample state must carry over
    rng = random.Random(seed)
    state = None
    for piece in _pieces(lines, rng.sample(range(1, len(lines)), 12)):
        resumed = resume_metrics(piece, DEFS, state, series_limit=50)
        state = ParseState.from_dict(json.loads(json.dumps(resumed.state.to_dict())))  # stored as JSON
        assert resumed.taken == len(piece)
    assert resumed.series == whole
    assert state is not None and state.lines == len(lines)


def test_a_paused_piece_takes_no_line_it_does_not_match() -> None:
    lines = _log(1_000, 7)
    source = iter(lines)
    state, pieces = None, 0
    while True:
        resumed = resume_metrics(source, DEFS, state, pause_lines=300)
        state, pieces = resumed.state, pieces + 1
        if resumed.paused is None:
            break
        assert "300" in resumed.paused
    # resume_metrics closes what it is given: an iterator that is not a generator goes on
    assert pieces == 4 and state.lines == 1_000
    assert resume_metrics([], DEFS, state).series == parse_metrics(lines, DEFS)


def test_a_pause_by_time_is_not_an_error() -> None:
    ticks = iter(range(10_000))
    resumed = resume_metrics(_log(100), DEFS, None, pause_seconds=5, clock=lambda: float(next(ticks)))
    assert resumed.paused is not None and "5 s" in resumed.paused
    assert 0 < resumed.taken < 100
    assert all(s.error is None for s in resumed.series.values())


def test_the_per_job_line_budget_counts_over_every_piece() -> None:
    lines = _log(100)
    first = resume_metrics(lines[:60], DEFS, None, max_lines=80)
    assert first.state.error is None
    second = resume_metrics(lines[60:], DEFS, first.state, max_lines=80)
    assert second.series == parse_metrics(lines, DEFS, max_lines=80)
    assert "more than 80 log lines" in second.series["loss"].error
    # the error is final: a later piece reads nothing
    later = iter(["loss: 1"])
    third = resume_metrics(later, DEFS, second.state, max_lines=80)
    assert third.taken == 0 and third.series["loss"].error == second.series["loss"].error


def test_the_per_job_time_budget_counts_over_every_piece() -> None:
    clock = iter(range(0, 1_000_000, 1))
    first = resume_metrics(_log(40), DEFS, None, max_seconds=100, clock=lambda: float(next(clock)))
    assert first.state.error is None and first.state.seconds > 0
    second = resume_metrics(_log(200), DEFS, first.state, max_seconds=100, clock=lambda: float(next(clock)))
    assert "took more than 100 s" in (second.state.error or "")


def test_a_metric_new_to_the_state_starts_empty_and_a_dropped_one_is_forgotten() -> None:
    first = resume_metrics(["loss: 1 acc=0.5"], DEFS[:1])
    second = resume_metrics(["loss: 2 acc=0.6"], DEFS[1:], first.state)
    assert second.series["acc"].values == [0.6]
    assert set(second.state.metrics) == {"acc"}


def test_a_refused_regex_keeps_its_error_in_every_piece() -> None:
    defs = [{"Name": "bad", "Regex": r"(\d+\.)+x"}]
    resumed = resume_metrics(["1.2.x"], defs, resume_metrics(["1.x"], defs).state)
    assert resumed.series["bad"].error and "refused" in resumed.series["bad"].error
    assert resumed.state.lines == 2
