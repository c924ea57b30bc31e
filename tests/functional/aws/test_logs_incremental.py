"""CloudWatchLogSource.lines_after: only the lines a caller has not seen, with one position per stream.

On a CloudWatch Logs client that pages, hands out per-stream tokens and repeats the token at the
end as AWS does (``tests/logs_client.py``), then on moto (the offline twin's CloudWatch Logs).
"""
from __future__ import annotations

import json
import time

import boto3
import pytest
from tuner.aws.logs import CloudWatchLogSource
from tuner.constants import TRAINING_LOG_GROUP

from tests.logs_client import FakeLogsClient

JOB = "job-001-abc"
S1 = f"{JOB}/algo-1-1700000000"


def _lines(prefix: str, start: int, stop: int) -> list[str]:
    return [f"{prefix} {i}" for i in range(start, stop)]


def _source(page_events: int = 4) -> tuple[FakeLogsClient, CloudWatchLogSource]:
    client = FakeLogsClient(page_events=page_events)
    return client, CloudWatchLogSource(client)


def test_each_read_returns_exactly_the_new_lines_across_pages_and_reads() -> None:
    client, source = _source(page_events=4)
    client.put(S1, *_lines("a", 0, 10))  # 3 pages
    position: dict = {}
    assert list(source.lines_after(JOB, position)) == _lines("a", 0, 10)
    assert list(source.lines_after(JOB, position)) == []  # nothing new
    client.put(S1, *_lines("a", 10, 19))
    assert list(source.lines_after(JOB, position)) == _lines("a", 10, 19)
    assert position[S1][2] == 19  # events handed over in all


def test_calls_follow_the_new_pages_not_the_history() -> None:
    client, source = _source(page_events=100)
    client.put(S1, *_lines("x", 0, 5_000))  # 50 pages of history
    position: dict = {}
    list(source.lines_after(JOB, position))
    assert client.calls == {"DescribeLogStreams": 1, "GetLogEvents": 51}  # 50 pages and the end
    client.reset_counts()
    list(source.lines_after(JOB, position))  # nothing new: one call confirms the end
    assert client.calls == {"DescribeLogStreams": 1, "GetLogEvents": 1}
    client.reset_counts()
    client.put(S1, *_lines("y", 0, 150))  # two new pages
    assert list(source.lines_after(JOB, position)) == _lines("y", 0, 150)
    assert client.calls == {"DescribeLogStreams": 1, "GetLogEvents": 3}
    assert client.events_returned == 150


def test_a_read_stopped_in_the_middle_of_a_page_goes_on_from_the_next_line() -> None:
    """The position moves before each line is handed over, so a consumer that stops (closes the
    generator) mid-page resumes at the next line: the page is fetched again and its head skipped."""
    client, source = _source(page_events=4)
    client.put(S1, *_lines("a", 0, 10))
    position: dict = {}
    taken = []
    reader = iter(source.lines_after(JOB, position))
    for _ in range(6):  # all of page 1, half of page 2
        taken.append(next(reader))
    reader.close()  # type: ignore[attr-defined]
    assert position[S1][1:] == [2, 6]  # 2 events of the current page, 6 of the stream
    taken += list(source.lines_after(JOB, json.loads(json.dumps(position))))  # stored as JSON between reads
    assert taken == _lines("a", 0, 10)


def test_a_read_stopped_at_the_end_of_a_page_fetches_no_page_again() -> None:
    client, source = _source(page_events=4)
    client.put(S1, *_lines("a", 0, 8))
    position: dict = {}
    reader = iter(source.lines_after(JOB, position))
    assert [next(reader) for _ in range(4)] == _lines("a", 0, 4)
    reader.close()  # type: ignore[attr-defined]
    assert position[S1][1:] == [0, 4]  # the next page's head
    client.reset_counts()
    assert list(source.lines_after(JOB, position)) == _lines("a", 4, 8)
    assert client.events_returned == 4 and client.calls["GetLogEvents"] == 2


def test_a_restarted_host_s_new_stream_is_read_from_its_head_after_the_old_one() -> None:
    client, source = _source(page_events=4)
    client.put(S1, *_lines("first", 0, 5))
    position: dict = {}
    assert list(source.lines_after(JOB, position)) == _lines("first", 0, 5)
    restarted = f"{JOB}/algo-1-1700000500"
    client.put(restarted, *_lines("second", 0, 3))
    client.put(f"{JOB}/algo-2-1700000000", "another host")  # not the primary host: not read
    assert list(source.lines_after(JOB, position)) == _lines("second", 0, 3)
    client.put(restarted, "second 3")
    assert list(source.lines_after(JOB, position)) == ["second 3"]
    assert set(position) == {S1, restarted}


def test_each_stream_is_paged_with_its_own_token() -> None:
    """The fake refuses another stream's token, so reading every host proves no token crosses over."""
    client, source = _source(page_events=2)
    client.put(S1, *_lines("one", 0, 3))
    client.put(f"{JOB}/algo-2-1700000000", *_lines("two", 0, 3))
    position: dict = {}
    assert list(source.lines_after(JOB, position, host=None)) == _lines("one", 0, 3) + _lines("two", 0, 3)
    client.put(f"{JOB}/algo-2-1700000000", "two 3")
    assert list(source.lines_after(JOB, position, host=None)) == ["two 3"]


def test_an_expired_token_reads_the_stream_again_and_skips_what_was_read() -> None:
    client, source = _source(page_events=4)
    client.put(S1, *_lines("a", 0, 7))
    position: dict = {}
    list(source.lines_after(JOB, position))
    client.expire()  # every token handed out is refused now
    client.put(S1, "a 7", "a 8")
    assert list(source.lines_after(JOB, position)) == ["a 7", "a 8"]
    assert list(source.lines_after(JOB, position)) == []  # and the new token works


def test_a_stream_that_disappeared_is_skipped() -> None:
    client, source = _source()
    client.put(S1, "a")
    position: dict = {}
    list(source.lines_after(JOB, position))
    source.hosts = lambda job: {"algo-1": [S1, f"{JOB}/algo-1-1700009999"]}  # type: ignore[method-assign]
    assert list(source.lines_after(JOB, position)) == []  # the second stream is gone: no lines, no error


@pytest.mark.usefixtures("aws")
def test_on_moto_the_offline_twin_s_logs_read_incrementally_equal_one_full_read() -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
    source = CloudWatchLogSource(logs)
    streams = [S1, f"{JOB}/algo-2-1700000000"]
    for s in streams:
        logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=s)
    position: dict = {}
    read: list[str] = []
    t = int(time.time() * 1000) - 60_000  # CloudWatch Logs refuses events older than 14 days
    for batch in range(4):
        for s in streams:
            events = [{"timestamp": t + i, "message": f"{s[-12:]} {batch}.{i}"} for i in range(3)]
            logs.put_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=s, logEvents=events)
        t += 10
        read += list(source.lines_after(JOB, position))
    assert list(source.lines_after(JOB, position)) == []
    assert read == list(source.lines(JOB))
    assert len(read) == 12
