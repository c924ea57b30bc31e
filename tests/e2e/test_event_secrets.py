"""The tuner's state-change events carry no secrets, offline and for the whole e2e suite.

``tuner.local.eventbridge`` records every PutEvents entry put on any bus during the package's
``local_tuner`` (``put_entries``), refuses a request EventBridge would refuse for its size, and can
refuse an entry the way EventBridge answers a throttled one (``entry_fault``). Here:

* a job whose definition carries an API key in ``Environment`` and a password among its
  ``StaticHyperParameters``: its events show the names, never the values; its first event is
  throttled once and still arrives (the publisher's retry, through the real wiring);
* after every other e2e test: no tuner event of the session carries a value of the
  ``Environment`` / ``StaticHyperParameters`` of any request the suite started (read back from
  the state machine's executions, so the check sees what really ran), every entry fit.
"""
from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import pytest
from tuner import constants
from tuner.local import eventbridge

from tests.builders import categorical, start_and_wait, tuning_request

pytestmark = pytest.mark.e2e

SECRET_ENV = "e2e-api-key-7c1f0b9e4d2a8f63"
SECRET_STATIC = "e2e-db-password-5a8d2c7f1e"
REDACTED = "*****"  # docs/events-security.md
MAPS = ("Environment", "StaticHyperParameters")
# Shorter values ("3", "true", "train.py"...) occur in events for other reasons (counters, tuned
# values, names); the secrets this suite plants are longer (docs/events-security.md: 8 characters).
DISTINCT = 8


def _tuner_entries() -> list[dict[str, Any]]:
    return [r for r in list(eventbridge.put_entries)
            if r["entry"].get("Source") == constants.TUNER_SOURCE
            and r["entry"].get("DetailType") == constants.TUNING_STATE_CHANGE]


def _of(job: str) -> list[dict[str, Any]]:
    return [r for r in _tuner_entries() if json.loads(r["entry"]["Detail"]).get("HyperParameterTuningJobName") == job]


def _definitions(document: dict[str, Any]) -> list[Any]:
    many = document.get("TrainingJobDefinitions")
    return [document.get("TrainingJobDefinition"), *(many if isinstance(many, list) else [])]


def test_a_job_with_secrets_publishes_its_events_without_them(local_tuner):
    # GIVEN a job with an API key in Environment and a password hyperparameter, and EventBridge
    # throttling the first entry of its first event once
    name = "evt-secrets"
    request = tuning_request(name, source="quick", strategy="Grid", ranges=categorical("2", "3"), max_jobs=2,
                             max_parallel=2, static={"db_password": SECRET_STATIC},
                             Environment={"TUNER_E2E_API_KEY": SECRET_ENV})
    lock, throttled = threading.Lock(), []

    def throttle_once(entry: dict[str, Any]) -> str | None:
        with lock:
            if throttled or entry.get("Source") != constants.TUNER_SOURCE or name not in entry.get("Detail", ""):
                return None
            throttled.append(entry)
            return "ThrottlingException"

    eventbridge.entry_fault = throttle_once
    try:
        # WHEN it runs
        describe = start_and_wait(local_tuner, request, timeout=300)
    finally:
        eventbridge.entry_fault = None
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    deadline = time.monotonic() + 10
    while not any(json.loads(r["entry"]["Detail"])["HyperParameterTuningJobStatus"] == "Completed"
                  and "EventId" in r["answer"] for r in _of(name)):
        assert time.monotonic() < deadline, "no Completed event was taken"
        time.sleep(0.2)
    # THEN the throttled entry was sent again and taken: both statuses arrived
    records = _of(name)
    assert throttled and [r["answer"].get("ErrorCode") for r in records][0] == "ThrottlingException"
    taken = [json.loads(r["entry"]["Detail"]) for r in records if "EventId" in r["answer"]]
    assert [d["HyperParameterTuningJobStatus"] for d in taken] == ["InProgress", "Completed"]
    # AND every event shows the names and no value, while describe (an authorised caller) has them
    for detail in taken:
        definition = detail["TrainingJobDefinition"]
        assert definition["Environment"] == {"TUNER_E2E_API_KEY": REDACTED}
        assert definition["StaticHyperParameters"]["db_password"] == REDACTED
        asked = request["TrainingJobDefinition"]["StaticHyperParameters"]
        assert set(definition["StaticHyperParameters"]) == set(asked)
    assert all(SECRET_ENV not in r["entry"]["Detail"] and SECRET_STATIC not in r["entry"]["Detail"]
               for r in records)
    assert describe["TrainingJobDefinition"]["Environment"] == {"TUNER_E2E_API_KEY": SECRET_ENV}


# ---- the whole suite -----------------------------------------------------------------------------
def _started_requests(lt) -> list[dict[str, Any]]:
    """The input of every execution of every state machine in moto: the requests the suite started."""
    sfn = lt.session.client("stepfunctions")
    out = []
    for machines in sfn.get_paginator("list_state_machines").paginate():
        for machine in machines["stateMachines"]:
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
                for execution in page["executions"]:
                    text = sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}"
                    try:
                        request = json.loads(text)
                    except ValueError:
                        continue
                    if isinstance(request, dict) and any(isinstance(d, dict) for d in _definitions(request)):
                        out.append(request)
    return out


def _values(request: dict[str, Any]) -> set[str]:
    """The request's values of the redacted maps, as text."""
    found = set()
    for definition in _definitions(request):
        for member in MAPS:
            mapping = definition.get(member) if isinstance(definition, dict) else None
            if isinstance(mapping, dict):
                found.update(v if isinstance(v, str) else json.dumps(v) for v in mapping.values())
    return found


def _public(request: dict[str, Any]) -> str:
    """The request's text without those values: what an event may show anyway."""
    shown = copy.deepcopy(request)
    for definition in _definitions(shown):
        for member in MAPS:
            if isinstance(definition, dict) and isinstance(definition.get(member), dict):
                definition[member] = dict.fromkeys(definition[member], "")
    return json.dumps(shown)


@pytest.mark.after_e2e
def test_no_event_of_the_e2e_suite_carries_a_secret(local_tuner):
    entries = _tuner_entries()
    requests = _started_requests(local_tuner)
    # GIVEN events were recorded, and the requests that ran did carry such values (not vacuous)
    assert entries, "no tuner state-change event was recorded during the e2e suite"
    assert requests, "no request was started during the e2e suite"
    env = {v for r in requests for d in _definitions(r) if isinstance(d, dict)
           for v in (d.get("Environment") or {}).values()}
    static = {v for r in requests for d in _definitions(r) if isinstance(d, dict)
              for v in (d.get("StaticHyperParameters") or {}).values()}
    assert env and static, "no started request had Environment and StaticHyperParameters values"
    public = "\n".join(_public(r) for r in requests)
    secrets = {v for r in requests for v in _values(r) if len(v) >= DISTINCT}
    assert secrets
    # THEN no event holds one (in its JSON form), every redacted map shows the marker, every entry fit
    leaks, shown = [], []
    for record in entries:
        text = record["entry"]["Detail"]
        detail = json.loads(text)
        for value in secrets:
            escaped = json.dumps(value)[1:-1]
            if escaped in text and escaped not in public:
                leaks.append(f"{detail.get('HyperParameterTuningJobName')}: {value[:12]}...")
        for definition in _definitions(detail):
            for member in MAPS:
                mapping = definition.get(member) if isinstance(definition, dict) else None
                if isinstance(mapping, dict) and any(v != REDACTED for v in mapping.values()):
                    shown.append(f"{detail.get('HyperParameterTuningJobName')}: {member}")
        assert record["size"] < 256 * 1024
    assert not leaks, f"{len(leaks)} events carry a request's secret value:\n" + "\n".join(sorted(set(leaks)))
    assert not shown, "events show values of redacted maps:\n" + "\n".join(sorted(set(shown)))
