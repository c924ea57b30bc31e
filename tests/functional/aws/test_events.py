"""EventPublisher: the tuner's "Hyperparameter Tuning Job State Change" event, exactly as
PutEvents receives it (rules and the retune Lambda match on Source and DetailType)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tuner.aws.events import ATTEMPTS, EventPublisher

JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/job"
DETAIL = {
    "HyperParameterTuningJobName": "job",
    "HyperParameterTuningJobStatus": "Completed",
    "CreationTime": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),  # not JSON: written with str()
}
DETAIL_JSON = (
    '{"HyperParameterTuningJobName": "job", "HyperParameterTuningJobStatus": "Completed", '
    '"CreationTime": "2024-01-02 03:04:05+00:00"}'
)


def _entry(bus: str) -> dict[str, object]:
    return {
        "Source": "tuner",
        "DetailType": "Hyperparameter Tuning Job State Change",
        "Detail": DETAIL_JSON,
        "Resources": [JOB_ARN],
        "EventBusName": bus,
    }


@pytest.mark.parametrize("bus", [None, "tuner-bus"])
def test_the_state_change_is_one_put_events_entry(stubbed, bus: str | None) -> None:
    client, stub = stubbed("events")
    stub.add_response(
        "put_events",
        {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]},
        {"Entries": [_entry(bus or "default")]},
    )
    publisher = EventPublisher(client) if bus is None else EventPublisher(client, bus)
    assert publisher.tuning_job_state_change(DETAIL, [JOB_ARN]) is None


def test_an_error_of_put_events_is_raised(stubbed) -> None:
    client, stub = stubbed("events")
    stub.add_client_error("put_events", "AccessDeniedException", "no", http_status_code=400)
    with pytest.raises(client.exceptions.ClientError):
        EventPublisher(client).tuning_job_state_change(DETAIL, [JOB_ARN])


def test_a_rejected_entry_is_not_silently_dropped(stubbed) -> None:
    """PutEvents answers 200 with ``FailedEntryCount`` and a per-entry ``ErrorCode`` when it does
    not take an entry (throttling, an internal failure). The adapter retries it (see
    test_events_retry.py) and then raises, so the caller (``Lifecycle.publish``) logs the lost event
    instead of dropping it silently."""
    client, stub = stubbed("events")
    for _ in range(ATTEMPTS):
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 1,
             "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}]},
            {"Entries": [_entry("default")]},
        )
    with pytest.raises(Exception, match="ThrottlingException"):
        EventPublisher(client, sleep=lambda _: None).tuning_job_state_change(DETAIL, [JOB_ARN])
