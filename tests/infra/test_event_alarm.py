"""A lost state-change event raises an alarm: the stack counts the ERROR line the code writes.

The line comes from ``Lifecycle.publish`` itself (run here over a publisher EventBridge refuses),
the token, namespace and metric name from ``tuner.core.tuner_events``; the functions that need a
metric filter from ``stacks.functions`` (those that publish).
"""
from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from tuner import constants
from tuner.aws.events import EventPublisher
from tuner.core import tuner_events
from tuner.core.records import JobRecord

from stacks.functions import FUNCTIONS
from tests.builders import tuning_request
from tests.fakes import FakeAws


def _logged_line(caplog: pytest.LogCaptureFixture) -> str:
    """What a publishing function logs when EventBridge keeps refusing its event."""

    class Throttled:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}]}

    aws = FakeAws()
    aws.service.ports.events = EventPublisher(Throttled(), sleep=lambda _: None)
    aws.store.create_job(JobRecord(name="lost", request=tuning_request("lost")))
    with caplog.at_level(logging.ERROR, logger="tuner"):
        aws.service.lifecycle.publish("lost")
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The Lambda runtime's text format: [LEVEL] time request-id message (the traceback follows)
    return f"[ERROR]\t2026-01-01T00:00:00.000Z\t0000-req\t{record.getMessage()}"


def _terms(pattern: str) -> list[str]:
    """The terms of a CloudWatch Logs term pattern (quoted or bare; all must occur)."""
    return [q or bare for q, bare in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', pattern)]


def _function_names(synth) -> dict[str, str]:
    """Logical id of each function's log group -> its LAMBDAS name (by the function's description)."""
    by_description = {d: n for n, d in constants.LAMBDAS.items()}
    out = {}
    for fn in synth.resources("AWS::Lambda::Function").values():
        props = fn["Properties"]
        out[props["LoggingConfig"]["LogGroup"]["Ref"]] = by_description[props["Description"]]
    return out


def test_every_publishing_function_counts_the_line_it_logs(synth, caplog):
    line = _logged_line(caplog)
    filters = synth.resources("AWS::Logs::MetricFilter")
    counted = {}
    for f in filters.values():
        props = f["Properties"]
        [transform] = props["MetricTransformations"]
        if (transform["MetricNamespace"], transform["MetricName"]) != (
            tuner_events.METRIC_NAMESPACE, tuner_events.METRIC_NOT_PUBLISHED
        ):
            continue
        terms = _terms(props["FilterPattern"])
        assert terms and all(t in line for t in terms), (props["FilterPattern"], line)
        assert transform["MetricValue"] == "1"
        counted[_function_names(synth)[props["LogGroupName"]["Ref"]]] = terms
    publishing = {name for name, spec in FUNCTIONS.items() if spec.grants.publish_events}
    assert publishing and set(counted) == publishing
    # AND a line without the token (another ERROR) is not counted
    assert not all(t in "[ERROR]\tsomething else failed" for t in next(iter(counted.values())))


def test_an_alarm_fires_on_one_lost_event(synth):
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == tuner_events.METRIC_NOT_PUBLISHED]
    assert len(alarms) == 1
    [alarm] = alarms
    assert alarm["Namespace"] == tuner_events.METRIC_NAMESPACE
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert "Dimensions" not in alarm  # the metric filters publish none
