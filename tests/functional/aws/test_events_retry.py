"""EventPublisher sends again what PutEvents did not take, and only that.

PutEvents answers 200 with ``FailedEntryCount`` and one answer per entry, in order; an answer with
an ``ErrorCode`` is an entry not taken. The PutEvents API reference (botocore's model documents
``PutEventsResultEntry.ErrorCode``) names ``InternalFailure`` and ``ThrottlingException`` retryable,
the others (``AccessDeniedException``, ``InvalidArgument``, ``MalformedDetail``, ...) not. Every
request below is checked by the Stubber against the expected entries and botocore's input shape.
"""
from __future__ import annotations

import json
import re

import botocore.session
import pytest
from tuner.aws.events import ATTEMPTS, BACKOFF_SECONDS, RETRYABLE_ENTRY_ERRORS, EventPublisher
from tuner.core.tuner_events import MAX_ENTRY_BYTES
from tuner.errors import TuningError

JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/job"


def _entry(i: int) -> dict[str, object]:
    return {"Source": "tuner", "DetailType": "Hyperparameter Tuning Job State Change",
            "Detail": json.dumps({"HyperParameterTuningJobName": f"job-{i}"}), "Resources": [JOB_ARN],
            "EventBusName": "tuner-bus"}


def _answer(*codes: str | None) -> dict[str, object]:
    entries = [{"ErrorCode": c, "ErrorMessage": f"{c} happened"} if c else {"EventId": f"e-{n}"}
               for n, c in enumerate(codes)]
    return {"FailedEntryCount": sum(1 for c in codes if c), "Entries": entries}


def test_the_retryable_codes_are_those_the_api_reference_names():
    model = botocore.session.get_session().get_service_model("events")
    doc = model.shape_for("PutEventsResultEntry").members["ErrorCode"].documentation
    retryable, non_retryable = doc.split("Non-retryable", 1)
    named = set(re.findall(r"<code>\s*(?:<a [^>]*>)?\s*(\w+)", retryable))
    assert named == RETRYABLE_ENTRY_ERRORS
    assert not RETRYABLE_ENTRY_ERRORS & set(re.findall(r"<code>\s*(?:<a [^>]*>)?\s*(\w+)", non_retryable))


def test_a_throttled_entry_is_sent_again_after_a_short_wait(stubbed):
    client, stub = stubbed("events")
    stub.add_response("put_events", _answer("ThrottlingException"), {"Entries": [_entry(1)]})
    stub.add_response("put_events", _answer(None), {"Entries": [_entry(1)]})
    sleeps: list[float] = []
    EventPublisher(client, "tuner-bus", sleep=sleeps.append).put([_entry(1)])
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= BACKOFF_SECONDS


def test_only_the_failed_entries_are_sent_again(stubbed):
    # GIVEN three entries: the first taken, the second throttled, the third an internal failure
    client, stub = stubbed("events")
    stub.add_response("put_events", _answer(None, "ThrottlingException", "InternalFailure"),
                      {"Entries": [_entry(1), _entry(2), _entry(3)]})
    # THEN the retry carries the second and the third only, in order; then the third only
    stub.add_response("put_events", _answer(None, "InternalFailure"), {"Entries": [_entry(2), _entry(3)]})
    stub.add_response("put_events", _answer(None), {"Entries": [_entry(3)]})
    EventPublisher(client, "tuner-bus", sleep=lambda _: None).put([_entry(1), _entry(2), _entry(3)])


def test_a_non_retryable_code_is_not_retried_and_is_raised(stubbed):
    client, stub = stubbed("events")
    stub.add_response("put_events", _answer("ThrottlingException", "AccessDeniedException"),
                      {"Entries": [_entry(1), _entry(2)]})
    stub.add_response("put_events", _answer(None), {"Entries": [_entry(1)]})  # the throttled one only
    with pytest.raises(TuningError, match="AccessDeniedException") as raised:
        EventPublisher(client, "tuner-bus", sleep=lambda _: None).put([_entry(1), _entry(2)])
    assert "ThrottlingException" not in str(raised.value)


def test_it_gives_up_after_the_last_attempt_with_a_growing_backoff(stubbed):
    client, stub = stubbed("events")
    for _ in range(ATTEMPTS):
        stub.add_response("put_events", _answer("InternalFailure"), {"Entries": [_entry(1)]})
    sleeps: list[float] = []
    with pytest.raises(TuningError, match=f"after up to {ATTEMPTS} attempts: InternalFailure"):
        EventPublisher(client, "tuner-bus", sleep=sleeps.append).put([_entry(1)])
    assert len(sleeps) == ATTEMPTS - 1
    assert all(0 <= s <= BACKOFF_SECONDS * 2**n for n, s in enumerate(sleeps))
    assert sum(BACKOFF_SECONDS * 2**n for n in range(ATTEMPTS - 1)) <= 1.0  # short: a Lambda waits it out


def test_an_entry_too_large_is_never_sent(stubbed):
    client, _ = stubbed("events")  # no response queued: a call would fail the test
    entry = _entry(1)
    entry["Detail"] = json.dumps({"pad": "x" * MAX_ENTRY_BYTES})
    with pytest.raises(TuningError, match="less than 262144"):
        EventPublisher(client, "tuner-bus").put([entry])
