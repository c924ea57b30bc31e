"""The monitor reads only new log lines, keeps its place on each running trial, and fans out.

The service runs on fakes, with the real ``CloudWatchLogSource`` over a CloudWatch Logs client that
pages and hands out tokens as AWS does and counts every call (``tests/logs_client.py``).
"""
from __future__ import annotations

import copy
import logging

import pytest
from tuner.aws.logs import CloudWatchLogSource
from tuner.core.metrics import ParseState, parse_metrics, resume_metrics

from tests.builders import LOSS, tuning_request
from tests.fakes import FakeAws
from tests.logs_client import FakeLogsClient

EPOCH = 1_700_000_000


def _setup(jobs: int = 1, trials: int = 5, *, page_events: int = 100, **request) -> tuple[FakeAws, FakeLogsClient]:
    client = FakeLogsClient(page_events=page_events)
    aws = FakeAws(logs=CloudWatchLogSource(client))  # type: ignore[arg-type]
    for j in range(jobs):
        name = f"job{j}"
        kw = {"max_jobs": trials + 1, "max_parallel": trials, "early_stopping": "Auto", **request}
        aws.service.create_job(tuning_request(name, **kw), f"arn:aws:states:us-east-1:123456789012:execution:T:{name}")
        for lap in range(1, trials + 1):
            aws.service.next_trial(name, lap, 0, f"token-{name}-{lap}")
    return aws, client


def _running(aws: FakeAws) -> list:
    return [t for job in aws.store.list_jobs() for t in aws.store.list_trials(job.name) if not t.recorded]


def _stream(trial, epoch: int = EPOCH) -> str:
    return f"{trial.training_job_name}/algo-1-{epoch}"


def _epochs(start: int, stop: int, loss=lambda i: 1.0 / (i + 1)) -> list[str]:
    return [f"epoch {i} loss: {loss(i):.6f}" for i in range(start, stop)]


def _stored_series(trial) -> list[float]:
    parse = ParseState.from_dict(trial.log_cursor["parse"])
    return resume_metrics([], LOSS, parse).series["loss"].values


def _full_parse(client: FakeLogsClient, trial) -> list[float]:
    streams = sorted(s for s in client.streams if s.startswith(f"{trial.training_job_name}/algo-1-"))
    return parse_metrics([m for s in streams for m in client.streams[s]], LOSS)["loss"].values


def test_the_stored_series_equals_a_parse_of_the_whole_log_sweep_after_sweep() -> None:
    aws, client = _setup(trials=4)
    trials = _running(aws)
    for t in trials:
        client.put(_stream(t), *_epochs(0, 250))  # 3 pages
    aws.service.sweep()
    for t in trials:
        client.put(_stream(t), *_epochs(250, 260), "noise", "loss: nan")
    aws.service.sweep()
    for t in trials:
        stored = aws.store.get_trial(t.job, t.number)
        assert stored.log_cursor["job"] == t.training_job_name
        assert stored.log_cursor["parse"]["lines"] == 262
        assert _stored_series(stored) == _full_parse(client, t)


def test_logs_calls_per_sweep_follow_the_new_pages_across_100_running_trials() -> None:
    aws, client = _setup(jobs=10, trials=10, page_events=100)
    trials = _running(aws)
    assert len(trials) == 100
    for t in trials:
        client.put(_stream(t), *_epochs(0, 2_000))  # 20 pages of history each
    aws.service.sweep()  # the first sweep catches up: every page once
    assert client.calls == {"DescribeLogStreams": 100, "GetLogEvents": 100 * 21}
    client.reset_counts()
    for t in trials:
        client.put(_stream(t), *_epochs(2_000, 2_050))  # half a page each
    aws.service.sweep()
    # per trial: the streams, the new page, the end; none of the 20 pages of history
    assert client.calls == {"DescribeLogStreams": 100, "GetLogEvents": 200}
    assert client.events_returned == 100 * 50
    client.reset_counts()
    aws.service.sweep()  # nothing new
    assert client.calls == {"DescribeLogStreams": 100, "GetLogEvents": 100}
    for t in trials:
        assert _stored_series(aws.store.get_trial(t.job, t.number)) == _full_parse(client, t)


def test_a_sweep_that_finds_nothing_new_writes_nothing() -> None:
    aws, client = _setup(trials=3)
    for t in _running(aws):
        client.put(_stream(t), *_epochs(0, 5))
    aws.service.sweep()
    before = {t.number: copy.deepcopy(t.log_cursor) for t in _running(aws)}
    writes = []
    update = aws.store.update_trial
    aws.store.update_trial = lambda *a, **kw: writes.append(kw) or update(*a, **kw)  # type: ignore[method-assign]
    aws.service.sweep()
    assert writes == []
    assert {t.number: t.log_cursor for t in _running(aws)} == before


def test_a_restarted_host_s_new_stream_is_picked_up() -> None:
    aws, client = _setup(trials=1)
    (t,) = _running(aws)
    client.put(_stream(t), *_epochs(0, 3))
    aws.service.sweep()
    client.put(_stream(t, EPOCH + 600), *_epochs(3, 6))  # the host restarted: a new stream
    client.put(f"{t.training_job_name}/algo-2-{EPOCH}", "loss: 99")  # another host: not the objective's
    aws.service.sweep()
    stored = aws.store.get_trial(t.job, t.number)
    assert _stored_series(stored) == _full_parse(client, t) == [round(1.0 / (i + 1), 6) for i in range(6)]
    assert set(stored.log_cursor["streams"]) == {_stream(t), _stream(t, EPOCH + 600)}


def test_overlapping_and_repeated_sweeps_are_harmless() -> None:
    """A sweep that started from an older cursor (an overlapping run, or ``open_trials`` lagging)
    re-reads a few lines and writes a consistent cursor; it never moves a cursor back."""
    aws, client = _setup(trials=3)
    trials = _running(aws)
    for t in trials:
        client.put(_stream(t), *_epochs(0, 150))
    stale = copy.deepcopy(aws.store.open_trials("job0"))  # cursors before any sweep
    aws.service.sweep()
    ahead = {t.number: aws.store.get_trial("job0", t.number).log_cursor for t in trials}
    fresh_open = aws.store.open_trials
    aws.store.open_trials = lambda name: copy.deepcopy(stale)  # type: ignore[method-assign]
    aws.service.sweep()  # reads everything again from the head, gets no further: writes nothing
    assert {t.number: aws.store.get_trial("job0", t.number).log_cursor for t in trials} == ahead
    for t in trials:
        client.put(_stream(t), *_epochs(150, 170))
    aws.service.sweep()  # still stale, but now further than the stored cursor: a consistent pair
    aws.store.open_trials = fresh_open  # type: ignore[method-assign]
    aws.service.sweep()
    aws.service.sweep()
    for t in trials:
        stored = aws.store.get_trial("job0", t.number)
        assert stored.log_cursor["parse"]["lines"] == 170
        assert _stored_series(stored) == _full_parse(client, t)


def test_the_median_rule_stops_a_trial_worse_than_the_median() -> None:
    aws, client = _setup(trials=5)
    trials = sorted(_running(aws), key=lambda t: t.number)
    for t in trials[:4]:
        client.put(_stream(t), *_epochs(0, 6))
    client.put(_stream(trials[4]), *_epochs(0, 6, loss=lambda i: 5.0))
    actions = aws.service.sweep()["Actions"]
    assert [a["TrainingJobName"] for a in actions] == [trials[4].training_job_name]
    assert aws.backend.stopped == [trials[4].training_job_name]
    assert aws.store.get_trial("job0", 5).stopped_by.startswith("EarlyStopping")


def test_a_trial_recorded_since_open_trials_listed_it_is_neither_stopped_nor_written() -> None:
    aws, client = _setup(trials=5)
    trials = sorted(_running(aws), key=lambda t: t.number)
    for t in trials[:4]:
        client.put(_stream(t), *_epochs(0, 6))
    client.put(_stream(trials[4]), *_epochs(0, 6, loss=lambda i: 5.0))
    listed = aws.store.open_trials
    bad = aws.store.get_trial("job0", 5)

    def lagging(name: str) -> list:
        out = listed(name)
        aws.store.update_trial("job0", 5, only_unrecorded=True, recorded=True, status="Completed")  # meanwhile
        return out

    aws.store.open_trials = lagging  # type: ignore[method-assign]
    assert aws.service.sweep()["Actions"] == []
    assert aws.backend.stopped == []
    assert aws.store.get_trial("job0", 5).log_cursor == bad.log_cursor == {}


def test_the_per_sweep_budget_is_logged_and_the_next_sweep_goes_on(caplog) -> None:
    aws, client = _setup(trials=1)
    aws.service.monitor.sweep_lines = 50
    (t,) = _running(aws)
    client.put(_stream(t), *_epochs(0, 120))
    lines = []
    with caplog.at_level(logging.WARNING, logger="tuner.service.monitor"):
        for _ in range(3):
            aws.service.sweep()
            lines.append(aws.store.get_trial(t.job, t.number).log_cursor["parse"]["lines"])
    assert lines == [50, 100, 120]
    paused = [r.getMessage() for r in caplog.records if "the next sweep reads on" in r.getMessage()]
    assert len(paused) == 2 and t.training_job_name in paused[0] and "50" in paused[0]
    assert _stored_series(aws.store.get_trial(t.job, t.number)) == _full_parse(client, t)


def test_a_retry_s_new_training_job_starts_from_its_own_head() -> None:
    aws, client = _setup(trials=1)
    (t,) = _running(aws)
    client.put(_stream(t), *_epochs(0, 4))
    old = {"job": "an-earlier-attempt", "streams": {_stream(t): ["f/0/0/4", 0, 4]},
           "parse": ParseState(lines=4).to_dict()}
    aws.store.update_trial(t.job, t.number, only_unrecorded=True, log_cursor=old)
    aws.service.sweep()
    stored = aws.store.get_trial(t.job, t.number)
    assert stored.log_cursor["job"] == t.training_job_name
    assert _stored_series(stored) == _full_parse(client, t)


def test_trials_not_read_within_the_window_are_judged_on_their_stored_series(caplog) -> None:
    aws, client = _setup(trials=3)
    for t in _running(aws):
        client.put(_stream(t), *_epochs(0, 3))
    aws.service.sweep()
    for t in _running(aws):
        client.put(_stream(t), *_epochs(3, 6))
    ticks = iter(range(0, 100_000, 200))
    aws.service.monitor.clock = lambda: float(next(ticks))  # every look at the clock: 200 s later
    client.reset_counts()
    with caplog.at_level(logging.WARNING, logger="tuner.service.monitor"):
        aws.service.sweep()
    assert client.calls == {}  # the window (120 s) ended before any read began
    assert any("3 of 3 running trials not read" in r.getMessage() for r in caplog.records)
    assert all(t.log_cursor["parse"]["lines"] == 3 for t in _running(aws))


def test_a_failing_read_leaves_the_other_trials_read(caplog) -> None:
    aws, client = _setup(trials=3)
    trials = sorted(_running(aws), key=lambda t: t.number)
    for t in trials:
        client.put(_stream(t), *_epochs(0, 3))
    source = aws.service.monitor.ports.logs
    original = source.lines_after

    def flaky(job, position, **kw):
        if job == trials[1].training_job_name:
            raise RuntimeError("throttled for good")
        return original(job, position, **kw)

    source.lines_after = flaky
    with caplog.at_level(logging.ERROR, logger="tuner.service.monitor"):
        aws.service.sweep()
    assert "reading the logs of " + trials[1].training_job_name in caplog.text
    assert [bool(aws.store.get_trial("job0", t.number).log_cursor) for t in trials] == [True, False, True]


@pytest.mark.parametrize("bad", [{"concurrency": 0}, {"sweep_lines": 0}, {"read_window": 0}])
def test_the_monitor_s_bounds_must_be_positive(bad) -> None:
    from tuner.service.monitor import Monitor

    aws = FakeAws()
    with pytest.raises(ValueError, match="must be positive"):
        Monitor(aws.service.ports, aws.service.recorder, aws.service.limits, aws.service.lifecycle, **bad)
