"""Events that cannot be forged (docs/security.md), through the offline deployment with IAM
enforced: the tuner's events travel on its own bus, whose policy (from the template) denies
``events:PutEvents`` to everyone but the tuner's publishing roles and the listed retune senders.

An outsider here is a role created in moto's IAM whose identity policy allows ``events:PutEvents``
on every bus; the IAM twin evaluates its calls (``acting_as``) against that policy and the bus's.
"""
from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from tuner import constants
from tuner.local import eventbridge
from tuner.wiring import build_family_service

from tests.builders import SCRIPTS, continuous, tuning_request

pytestmark = pytest.mark.e2e

FAMILY = "forgery"


@pytest.fixture(scope="module")
def outsider(local_tuner):
    """A principal of the same account allowed, by its own policy, to put events on any bus."""
    iam = local_tuner.session.client("iam")
    role = iam.create_role(
        RoleName="e2e-outsider",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]
    iam.put_role_policy(RoleName="e2e-outsider", PolicyName="PutAnyEvent", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}))
    return role["Arn"]


@pytest.fixture(scope="module")
def family(local_tuner):
    lt = local_tuner
    families = build_family_service(
        lt.deployment.table_name, lt.deployment.state_machine_arn, region=lt.region, session=lt.session
    )
    base = lt.prepare(tuning_request("base", source="quick", ranges=continuous(0, 10), max_jobs=2), SCRIPTS)
    del base["HyperParameterTuningJobName"]
    families.register({"FamilyName": FAMILY, "BaseRequest": base})
    return families


def retune_requested(bus: str, **detail) -> dict:
    return {"Source": constants.TUNER_SOURCE, "DetailType": constants.RETUNE_REQUESTED,
            "Detail": json.dumps({"Family": FAMILY, **detail}), "EventBusName": bus}


def test_an_outsider_cannot_put_events_on_the_tuner_bus_and_the_default_bus_reaches_nothing(
    local_tuner, outsider, family
):
    lt = local_tuner
    bus = lt.deployment.outputs[constants.OUTPUT_EVENT_BUS_NAME]
    events = lt.session.client("events")
    before = family.describe(FAMILY)
    # WHEN an outsider, whose own policy allows PutEvents everywhere, sends "Retune Requested" to the
    # tuner's bus, and a forged state change of a family job
    with lt.iam.expect_denials() as denials, lt.iam.acting_as("outsider", outsider):
        for entry in (
            retune_requested(bus),
            {"Source": constants.TUNER_SOURCE, "DetailType": constants.TUNING_STATE_CHANGE, "EventBusName": bus,
             "Detail": json.dumps({"HyperParameterTuningJobName": f"{FAMILY}-x",
                                   "HyperParameterTuningJobStatus": "Completed"})},
        ):
            with pytest.raises(ClientError) as err:
                events.put_events(Entries=[entry])
            # THEN the bus policy's explicit Deny refuses it
            assert err.value.response["Error"]["Code"] == "AccessDeniedException"
            assert "explicit deny in a resource-based policy" in err.value.response["Error"]["Message"]
        # AND the same events on the default bus (where source "tuner" is anyone's) are taken...
        for entry in (retune_requested("default"),):
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    assert {(d.principal.name, d.access.action, d.by_resource_policy) for d in denials} == {
        ("outsider", "events:PutEvents", True)}
    # ...but no rule of the tuner listens there: nothing is retuned
    eventbridge.wait_deliveries(30)
    time.sleep(0.5)
    assert family.describe(FAMILY) == before and "RunningTuningJob" not in before


def test_a_tuner_role_may_put_events_on_its_bus_and_a_retune_follows(local_tuner, family):
    """The other side of the policy: a principal it names gets through, and the tuner's rules on
    its bus deliver (here a tuner function's role stands for a listed retune sender)."""
    lt = local_tuner
    bus = lt.deployment.outputs[constants.OUTPUT_EVENT_BUS_NAME]
    with lt.iam.acting_as("finalize", lt.iam_principals()["finalize"]):  # a role that publishes
        answer = lt.session.client("events").put_events(Entries=[retune_requested(bus)])
    assert answer["FailedEntryCount"] == 0
    deadline = time.monotonic() + 30
    while "RunningTuningJob" not in family.describe(FAMILY):
        assert time.monotonic() < deadline, eventbridge.delivery_errors()
        time.sleep(0.2)
    job = family.describe(FAMILY)["RunningTuningJob"]["HyperParameterTuningJobName"]
    assert lt.wait(job, timeout=120)["HyperParameterTuningJobStatus"] == "Completed"
    # a retune that asks for new code is refused, whoever sends it
    with pytest.raises(Exception, match="sagemaker_submit_directory"):
        family.retune(FAMILY, "event", {"StaticHyperParameters": {"sagemaker_submit_directory": "s3://x/y.tar.gz"}})
