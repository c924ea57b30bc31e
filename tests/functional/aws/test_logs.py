"""CloudWatchLogSource: a training job's streams (found by prefix, paged), each read from the head
with GetLogEvents until its forward token repeats; lazily, stream by stream."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber
from tuner.aws import logs as logs_module
from tuner.aws.logs import CloudWatchLogSource

GROUP = "/aws/sagemaker/TrainingJobs"
JOB = "job-001-abc"


def _streams(names: list[str], next_token: str | None = None, prefix: str = f"{JOB}/", **sent: str) -> tuple:
    response: dict[str, Any] = {"logStreams": [{"logStreamName": n} for n in names]}
    if next_token:
        response["nextToken"] = next_token
    return "describe_log_streams", response, {"logGroupName": GROUP, "logStreamNamePrefix": prefix, **sent}


def _page(stream: str, messages: list[str], forward: str, sent_token: str | None = None) -> tuple:
    response = {
        "events": [
            {"timestamp": 1_700_000_000_000 + i, "message": m, "ingestionTime": 1} for i, m in enumerate(messages)
        ],
        "nextForwardToken": forward,
        "nextBackwardToken": "b/0",
    }
    expected: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": stream, "startFromHead": True}
    if sent_token is not None:
        expected["nextToken"] = sent_token
    return "get_log_events", response, expected


def _queue(stub: Stubber, *calls: tuple) -> None:
    for method, response, expected in calls:
        stub.add_response(method, response, expected)


def test_every_stream_is_read_in_order_and_each_stream_to_its_end(stubbed) -> None:
    client, stub = stubbed("logs")
    a, b = f"{JOB}/algo-1-1700000000", f"{JOB}/algo-2-1700000000"
    _queue(
        stub,
        _streams([b, a]),  # whatever order the listing has: stream name order
        _page(a, ["a1", "a2"], "f/a1"),
        _page(a, ["a3"], "f/a2", sent_token="f/a1"),
        _page(a, [], "f/a2", sent_token="f/a2"),  # the token sent comes back: the end of the stream
        _page(b, ["b1"], "f/b1"),
        _page(b, [], "f/b1", sent_token="f/b1"),
    )
    assert list(CloudWatchLogSource(client).lines(JOB, host=None)) == ["a1", "a2", "a3", "b1"]


def test_the_stream_listing_is_paged(stubbed) -> None:
    client, stub = stubbed("logs")
    a, b = f"{JOB}/algo-1-1", f"{JOB}/algo-2-1"
    _queue(
        stub,
        _streams([a], next_token="s/1"),
        _streams([b], nextToken="s/1"),
        _page(a, ["a"], "f/a"),
        _page(a, [], "f/a", sent_token="f/a"),
        _page(b, ["b"], "f/b"),
        _page(b, [], "f/b", sent_token="f/b"),
    )
    assert list(CloudWatchLogSource(client).lines(JOB, host=None)) == ["a", "b"]


def test_empty_pages_before_the_end_do_not_end_the_stream(stubbed) -> None:
    """GetLogEvents pages by time: an empty page with a new token is not the end."""
    client, stub = stubbed("logs")
    s = f"{JOB}/algo-1-1"
    _queue(
        stub,
        _streams([s]),
        _page(s, [], "f/1"),
        _page(s, [], "f/2", sent_token="f/1"),
        _page(s, ["late"], "f/3", sent_token="f/2"),
        _page(s, [], "f/3", sent_token="f/3"),
    )
    assert list(CloudWatchLogSource(client).lines(JOB)) == ["late"]


def test_a_stream_of_endless_empty_pages_is_given_up(stubbed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs_module, "MAX_EMPTY_PAGES", 3)
    client, stub = stubbed("logs")
    s = f"{JOB}/algo-1-1"
    _queue(
        stub,
        _streams([s]),
        _page(s, ["x"], "f/1"),
        _page(s, [], "f/2", sent_token="f/1"),
        _page(s, [], "f/3", sent_token="f/2"),
        _page(s, [], "f/4", sent_token="f/3"),  # the third empty page in a row: no fourth request
    )
    assert list(CloudWatchLogSource(client).lines(JOB)) == ["x"]


def test_a_page_without_a_forward_token_ends_the_stream(stubbed) -> None:
    client, stub = stubbed("logs")
    s = f"{JOB}/algo-1-1"
    _queue(stub, _streams([s]))
    stub.add_response(
        "get_log_events",
        {"events": [{"timestamp": 1, "message": "only", "ingestionTime": 1}]},
        {"logGroupName": GROUP, "logStreamName": s, "startFromHead": True},
    )
    assert list(CloudWatchLogSource(client).lines(JOB)) == ["only"]


def test_a_missing_log_group_is_no_lines(stubbed) -> None:
    """No training job has logged yet in this account and region: the group does not exist."""
    client, stub = stubbed("logs")
    stub.add_client_error(
        "describe_log_streams",
        "ResourceNotFoundException",
        "The specified log group does not exist.",
        expected_params={"logGroupName": GROUP, "logStreamNamePrefix": f"{JOB}/"},
    )
    assert list(CloudWatchLogSource(client).lines(JOB)) == []


def test_a_job_without_streams_is_no_lines(stubbed) -> None:
    client, stub = stubbed("logs")
    _queue(stub, _streams([]))
    assert list(CloudWatchLogSource(client).lines(JOB)) == []


def test_the_group_and_the_prefix_are_those_given(stubbed) -> None:
    """The prefix ends with "/": job "j-1" does not read the streams of job "j-10"."""
    client, stub = stubbed("logs")
    stub.add_response(
        "describe_log_streams", {"logStreams": []}, {"logGroupName": "/custom/group", "logStreamNamePrefix": "j-1/"}
    )
    assert list(CloudWatchLogSource(client, group="/custom/group").lines("j-1")) == []


def test_other_errors_of_the_listing_are_raised(stubbed) -> None:
    client, stub = stubbed("logs")
    stub.add_client_error("describe_log_streams", "AccessDeniedException", "no", http_status_code=403)
    with pytest.raises(client.exceptions.ClientError) as info:
        list(CloudWatchLogSource(client).lines(JOB))
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"


def test_pages_are_fetched_only_as_lines_are_consumed(stubbed) -> None:
    """Closing the generator (parse_metrics does past a budget) stops the paging."""
    client, stub = stubbed("logs")
    s = f"{JOB}/algo-1-1"
    _queue(stub, _streams([s]), _page(s, ["first", "second"], "f/1"))
    lines = CloudWatchLogSource(client).lines(JOB)
    assert next(lines) == "first"
    lines.close()  # no second GetLogEvents: the stubber would have none to give
