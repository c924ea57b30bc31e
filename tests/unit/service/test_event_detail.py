"""The tuner's state-change event carries no secrets and always fits one PutEvents entry
(``tuner.core.tuner_events``, applied by ``Queries.state_change_detail``; docs/events-security.md).

The event is taken where it leaves the tuner: ``Lifecycle.publish`` through the real
``EventPublisher`` over a client that records each ``PutEvents`` entry, so the sizes checked here
are those of the ``Detail`` string EventBridge would receive, counted by the user guide's rule
("Calculating Amazon EventBridge PutEvents event entry size"), written out again below.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from tuner import shapes
from tuner.aws.events import EventPublisher
from tuner.core import tuner_events
from tuner.core.records import COMPLETED, FAILED, JobRecord
from tuner.core.results import to_json
from tuner.core.tuner_events import DETAIL_TRUNCATED, DROP_ORDER, MAX_ENTRY_BYTES, REDACTED

from tests.builders import continuous, training_definition, tuning_request
from tests.fakes import FakeAws

SECRET_ENV = "sk-live-4f9a8c2e1b7d6a5f3e0c9b8a"
SECRET_STATIC = "correct-horse-battery-staple"


class RecordingEvents:
    """An EventBridge client that takes every entry and keeps it."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def documented_size(entry: dict[str, Any]) -> int:
    """The user guide's getSize(PutEventsRequestEntry), line for line."""
    size = 0
    if entry.get("Time") is not None:
        size += 14
    size += len(entry["Source"].encode("utf-8"))
    size += len(entry["DetailType"].encode("utf-8"))
    if entry.get("Detail") is not None:
        size += len(entry["Detail"].encode("utf-8"))
    for resource in entry.get("Resources") or []:
        if resource is not None:
            size += len(resource.encode("utf-8"))
    return size


def _aws() -> tuple[FakeAws, RecordingEvents]:
    client = RecordingEvents()
    aws = FakeAws()
    aws.service.ports.events = EventPublisher(client)
    return aws, client


def _stored(aws: FakeAws, request: dict[str, Any], *, status: str = COMPLETED, trials: int = 2,
            **fields: Any) -> str:
    """A job stored as the create step stores it, with ``trials`` scored trials (no create use case:
    the event is built from the record alone)."""
    name = request["HyperParameterTuningJobName"]
    aws.store.create_job(JobRecord(name=name, request=request, status=status,
                                   ended="2026-01-01T12:00:00+00:00", **fields))
    for number in range(1, trials + 1):
        aws.store.add_trial(name, number, 1.0 / number)
    return name


def _published(aws: FakeAws, client: RecordingEvents, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the PutEvents entry, its detail) of the job's state-change event."""
    before = len(client.entries)
    aws.service.lifecycle.publish(name)
    [entry] = client.entries[before:]
    return entry, json.loads(entry["Detail"])


def _definition(i: int, **kw: Any) -> dict[str, Any]:
    return training_definition(source="quick", name=f"d{i}", objective=("Minimize", "loss"),
                               ranges=continuous(0, 10), **kw)


# ---- which members are redacted: derived from botocore's model -------------------------------------
def _maps(shape: Any, path: str = "", seen: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(container path, member) of every map member in ``shape``."""
    if shape.name in seen:
        return []
    seen = (*seen, shape.name)
    found: list[tuple[str, str]] = []
    if shape.type_name == "structure":
        for member, inner in shape.members.items():
            if inner.type_name == "map":
                found.append((path, member))
            found += _maps(inner, f"{path}.{member}".lstrip("."), seen)
    elif shape.type_name == "list":
        found += _maps(shape.member, f"{path}[]", seen)
    return found


def test_the_redacted_maps_are_every_free_form_map_of_describe_but_the_tuned_values():
    # GIVEN every map (user-written key -> value) in botocore's DescribeHyperParameterTuningJob output
    output = shapes.service_model().operation_model("DescribeHyperParameterTuningJob").output_shape
    maps = set(_maps(output))
    tuned = {(p, m) for p, m in maps if m == "TunedHyperParameters"}  # chosen by the tuner, the event's news
    assert tuned == {("BestTrainingJob", "TunedHyperParameters"), ("OverallBestTrainingJob", "TunedHyperParameters")}
    # THEN the event redacts every other one, in the single definition and in each of the list
    redacted = {(p, m) for p in (tuner_events.DEFINITION, f"{tuner_events.DEFINITIONS}[]")
                for m in tuner_events.REDACTED_MAPS}
    assert maps - tuned == redacted


# ---- no secrets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("several", [False, True], ids=["TrainingJobDefinition", "TrainingJobDefinitions"])
def test_the_event_keeps_the_names_and_hides_every_value(several: bool):
    # GIVEN a request whose definitions carry an API key in Environment and a password hyperparameter
    secrets = {"static": {"db_password": SECRET_STATIC}, "Environment": {"API_KEY": SECRET_ENV, "MODE": "x"}}
    if several:
        request = tuning_request("sec", definitions=[_definition(1, **secrets), _definition(2, **secrets)])
    else:
        request = tuning_request("sec", **secrets)
    aws, client = _aws()
    name = _stored(aws, request)
    # WHEN its state-change event is published
    entry, detail = _published(aws, client, name)
    # THEN the names are there, no value is (not even "3", the quick script's epochs)
    definitions = detail["TrainingJobDefinitions"] if several else [detail["TrainingJobDefinition"]]
    asked = request["TrainingJobDefinitions"] if several else [request["TrainingJobDefinition"]]
    for shown, given in zip(definitions, asked, strict=True):
        for member in ("StaticHyperParameters", "Environment"):
            assert shown[member] == dict.fromkeys(given[member], REDACTED)
        assert shown["AlgorithmSpecification"] == given["AlgorithmSpecification"]  # the rest as described
    assert SECRET_ENV not in entry["Detail"] and SECRET_STATIC not in entry["Detail"]
    # AND the detail still has describe's shape; describe itself still answers with the values
    shapes.assert_valid_output("DescribeHyperParameterTuningJob", _as_response(detail))
    described = aws.service.describe(name)
    key = "TrainingJobDefinitions" if several else "TrainingJobDefinition"
    first = described[key][0] if several else described[key]
    assert first["Environment"]["API_KEY"] == SECRET_ENV


def _as_response(detail: dict[str, Any]) -> dict[str, Any]:
    """docs/events.md "Consuming it": timestamps parsed, the one extra member dropped."""
    out = {k: v for k, v in detail.items() if k != "TuningJobCompletionReason"}
    for key in ("CreationTime", "LastModifiedTime", "HyperParameterTuningEndTime"):
        if key in out:
            out[key] = datetime.fromisoformat(out[key])
    for best in ("BestTrainingJob", "OverallBestTrainingJob"):
        for key in ("CreationTime", "TrainingStartTime", "TrainingEndTime"):
            if key in out.get(best, {}):
                out[best][key] = datetime.fromisoformat(out[best][key])
    return out


def test_tuned_hyperparameters_and_the_config_stay():
    aws, client = _aws()
    name = _stored(aws, tuning_request("tuned", static={"token": SECRET_STATIC}))
    _, detail = _published(aws, client, name)
    described = aws.service.describe(name)
    assert detail["BestTrainingJob"]["TunedHyperParameters"] == described["BestTrainingJob"]["TunedHyperParameters"]
    assert detail["HyperParameterTuningJobConfig"] == json.loads(json.dumps(described["HyperParameterTuningJobConfig"]))


def test_a_failure_reason_quoting_a_value_is_scrubbed_and_short_values_are_left():
    # GIVEN a failed job whose reason quotes the secret and the epochs ("3", too short to be a secret)
    aws, client = _aws()
    reason = f"AlgorithmError: KeyError: '{SECRET_ENV}' after 3 epochs"
    name = _stored(aws, tuning_request("failed", Environment={"API_KEY": SECRET_ENV}), status=FAILED,
                   failure_reason=reason, completion_reason=f"stopped on {SECRET_ENV}")
    # WHEN its event is published
    _, detail = _published(aws, client, name)
    # THEN the reasons keep their text but not the value
    assert detail["FailureReason"] == f"AlgorithmError: KeyError: '{REDACTED}' after 3 epochs"
    assert detail["TuningJobCompletionReason"] == f"stopped on {REDACTED}"
    assert aws.service.describe(name)["FailureReason"] == reason


def test_a_request_that_is_not_valid_shows_no_value_either():
    """A request that does not parse is described as it is; the event still hides the maps."""
    aws, client = _aws()
    request = tuning_request("odd", Environment={"API_KEY": SECRET_ENV})
    request["TrainingJobDefinition"]["StaticHyperParameters"] = [SECRET_STATIC]  # not a map
    name = _stored(aws, request, trials=0)
    entry, detail = _published(aws, client, name)
    assert detail["TrainingJobDefinition"]["StaticHyperParameters"] == REDACTED
    assert SECRET_ENV not in entry["Detail"] and SECRET_STATIC not in entry["Detail"]


# ---- always fits ----------------------------------------------------------------------------------
def test_the_entry_size_is_the_user_guides():
    entry = {"Source": "tuner", "DetailType": "x", "Detail": '{"a": "\u00e9"}', "Resources": ["r1", "r2"],
             "Time": datetime(2026, 1, 1, tzinfo=UTC), "EventBusName": "not-counted"}
    # 5 + 1 + 11 (the "e acute" is 2 bytes in UTF-8) + 2 + 2 + 14 for Time
    assert tuner_events.entry_size(entry) == documented_size(entry) == 35
    del entry["Time"]
    assert tuner_events.entry_size(entry) == 21


def test_a_300_kb_request_of_secret_values_publishes_a_small_event():
    # GIVEN two definitions, each with 96 static hyperparameters of 2,500 characters and 48
    # environment variables of 512: over 500 KB of values, the most SageMaker's shape allows
    big_static = {f"k{i:03d}": f"{i:03d}" + "v" * 2497 for i in range(96)}
    env = {f"E{i:02d}": f"{i:02d}" + "s" * 510 for i in range(48)}
    request = tuning_request("big", definitions=[_definition(1, static=big_static, Environment=env),
                                                 _definition(2, static=big_static, Environment=env)])
    assert len(json.dumps(request)) > 300 * 1024
    aws, client = _aws()
    name = _stored(aws, request)
    # WHEN its event is published
    entry, detail = _published(aws, client, name)
    # THEN redaction alone makes it fit: nothing dropped, no value sent
    assert documented_size(entry) < MAX_ENTRY_BYTES
    assert DETAIL_TRUNCATED not in detail and len(detail["TrainingJobDefinitions"]) == 2
    assert "v" * 100 not in entry["Detail"] and "s" * 100 not in entry["Detail"]


def test_a_request_too_large_even_redacted_is_truncated_in_order_and_marked():
    # GIVEN ten definitions whose names, keys and metric definitions (nothing secret) pass 256 KB
    metrics = [{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}] + [
        {"Name": f"m{i:02d}" + "n" * 200, "Regex": f"m{i:02d}: ([0-9.]+)" + "x" * 450} for i in range(39)
    ]
    keys = {f"k{i:03d}" + "K" * 250: SECRET_STATIC for i in range(96)}
    request = tuning_request("huge", definitions=[
        _definition(i, static=keys, metric_definitions=metrics) for i in range(10)])
    aws, client = _aws()
    name = _stored(aws, request, completion_reason="TargetObjectiveMetricValue reached")
    described = json.loads(to_json(aws.service.describe(name)))
    assert documented_size({"Source": "tuner", "DetailType": "d",
                            "Detail": json.dumps(tuner_events.redact(described))}) > MAX_ENTRY_BYTES
    # WHEN its event is published
    entry, detail = _published(aws, client, name)
    # THEN it fits, says so, and lost only the first members of DROP_ORDER it needed to
    assert documented_size(entry) < MAX_ENTRY_BYTES
    assert detail[DETAIL_TRUNCATED] is True
    assert "TrainingJobDefinitions" not in detail
    assert detail["HyperParameterTuningJobConfig"] == described["HyperParameterTuningJobConfig"]
    for kept in ("HyperParameterTuningJobName", "HyperParameterTuningJobArn", "HyperParameterTuningJobStatus",
                 "TrainingJobStatusCounters", "ObjectiveStatusCounters", "BestTrainingJob", "CreationTime",
                 "HyperParameterTuningEndTime"):
        assert detail[kept] == described[kept], kept
    assert detail["TuningJobCompletionReason"] == "TargetObjectiveMetricValue reached"
    assert entry["Resources"] == [described["HyperParameterTuningJobArn"]]
    assert SECRET_STATIC not in entry["Detail"]


def _padded(n: int) -> dict[str, Any]:
    return {"HyperParameterTuningJobName": "j", "HyperParameterTuningJobArn": "arn",
            "TrainingJobDefinitions": [{"DefinitionName": "x" * n}]}


def test_the_bound_is_strict_less_than_256_kb():
    base = tuner_events.entry_size(tuner_events.entry(_padded(0), ["arn"]))
    under, at = _padded(MAX_ENTRY_BYTES - base - 1), _padded(MAX_ENTRY_BYTES - base)
    assert tuner_events.entry_size(tuner_events.entry(under, ["arn"])) == MAX_ENTRY_BYTES - 1
    assert tuner_events.fit(under, ["arn"]) == under
    fitted = tuner_events.fit(at, ["arn"])
    assert fitted[DETAIL_TRUNCATED] is True and "TrainingJobDefinitions" not in fitted


@pytest.mark.parametrize("big", DROP_ORDER)
def test_members_are_dropped_first_to_last_until_it_fits(big: str):
    # GIVEN a detail with every droppable member, one of them alone too large
    detail = {"HyperParameterTuningJobName": "j", "HyperParameterTuningJobArn": "arn",
              "HyperParameterTuningJobStatus": "Completed", "BestTrainingJob": {"TrainingJobName": "t"}}
    detail.update({member: {"pad": "y" * 10} for member in DROP_ORDER})
    detail[big] = {"pad": "y" * MAX_ENTRY_BYTES}
    # WHEN it is fitted
    fitted = tuner_events.fit(detail, ["arn"])
    # THEN exactly the members up to the large one are gone (in DROP_ORDER), the rest and the core stay
    upto = DROP_ORDER.index(big) + 1
    assert [m for m in DROP_ORDER if m not in fitted] == list(DROP_ORDER[:upto])
    assert all(fitted[m] == detail[m] for m in DROP_ORDER[upto:])
    assert fitted["BestTrainingJob"] == detail["BestTrainingJob"] and fitted[DETAIL_TRUNCATED] is True


def test_a_detail_that_cannot_fit_is_refused_not_sent():
    detail = {"HyperParameterTuningJobName": "j", "FailureReason": "z" * MAX_ENTRY_BYTES}
    with pytest.raises(ValueError, match="less than 262144"):
        tuner_events.fit(detail, ["arn"])


# ---- a lost event is an ERROR line the alarm counts ------------------------------------------------
def test_a_lost_event_is_logged_at_error_with_the_alarm_token(caplog: pytest.LogCaptureFixture):
    class Refusing:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "AccessDeniedException", "ErrorMessage": "no"}]}

    aws, _ = _aws()
    aws.service.ports.events = EventPublisher(Refusing(), sleep=lambda _: None)
    name = _stored(aws, tuning_request("lost"))
    with caplog.at_level(logging.ERROR, logger="tuner"):
        aws.service.lifecycle.publish(name)  # never raises: an event is a notification
    [record] = [r for r in caplog.records if tuner_events.NOT_PUBLISHED in r.getMessage()]
    assert record.levelno == logging.ERROR and name in record.getMessage()
    assert "AccessDeniedException" in record.getMessage()
