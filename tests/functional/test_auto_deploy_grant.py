"""AutoDeploy on a deployment that does not grant it: refused when the family is registered or
retuned, with how to redeploy, never an IAM refusal nobody sees when the retune ends."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from tuner import client as client_module
from tuner import constants, families_cli, wiring
from tuner.aws.families import auto_deploy_granted
from tuner.errors import ValidationError
from tuner.service.families import FamilyService

from tests.functional.test_families_service import (
    REGION,
    FamilyEnv,
    family_envs,
    family_spec,
    finish,
)

AUTO_DEPLOY = {"AutoDeploy": {"EndpointName": "churn-live"}}


@pytest.fixture
def services() -> Iterator[tuple[FamilyEnv, FamilyEnv]]:
    """(a service of a deployment that grants AutoDeploy, one of a deployment that does not),
    over the same table, state machine and SageMaker."""
    with family_envs(True, False) as (granted, refused):
        yield granted, refused


def executions(svc: FamilyEnv) -> list[str]:
    return [e["name"] for e in svc.sfn.list_executions(stateMachineArn=svc.state_machine_arn)["executions"]]


def test_registering_a_family_with_auto_deploy_is_refused_with_how_to_redeploy(services):
    _, refused = services
    # WHEN a family with AutoDeploy is registered on a deployment without the grant
    with pytest.raises(ValidationError) as err:
        refused.register(family_spec(**AUTO_DEPLOY))
    # THEN the refusal names the member, the stack output, and the redeploy command
    message = str(err.value)
    assert err.value.field == "AutoDeploy"
    assert constants.OUTPUT_RETUNE_AUTO_DEPLOY in message
    assert """-c 'tuner:retune={"autoDeploy": true}'""" in message
    assert "retune_auto_deploy=True" in message and "docs/retuning.md" in message
    # AND nothing was stored; replacing an existing family is refused the same way
    assert refused.families.get("churn") is None
    refused.register(family_spec())
    with pytest.raises(ValidationError, match="AutoDeploy"):
        refused.register(family_spec(**AUTO_DEPLOY), replace=True)
    assert "AutoDeploy" not in refused.describe("churn")["Family"]


def test_a_family_without_auto_deploy_needs_no_grant(services):
    _, refused = services
    refused.register(family_spec())
    job = refused.retune("churn")["HyperParameterTuningJobName"]
    assert executions(refused) == [job]


def test_a_family_registered_before_the_grant_was_withdrawn_is_refused_at_retune(services):
    granted, refused = services
    granted.register(family_spec(**AUTO_DEPLOY))
    # WHEN the deployment no longer grants AutoDeploy (redeployed without it) and a retune is asked
    with pytest.raises(ValidationError, match="tuner:retune"):
        refused.retune("churn")
    # THEN no tuning job started and the family is not locked
    assert executions(refused) == []
    assert refused.families.get("churn")["running"] is None
    # AND a retune asked while another runs (to be deferred) is refused too, not recorded
    started = granted.retune("churn")["HyperParameterTuningJobName"]
    with pytest.raises(ValidationError, match="AutoDeploy"):
        refused.retune("churn", "event", defer_if_busy=True)
    assert refused.families.get("churn")["pending"] is None
    assert executions(refused) == [started]


def test_a_job_ending_on_a_deployment_without_the_grant_says_why_it_did_not_deploy(services):
    granted, refused = services
    granted.register(family_spec(**AUTO_DEPLOY))
    job = granted.retune("churn")["HyperParameterTuningJobName"]
    finish(granted, job, value=0.5)
    # WHEN the job's end reaches the retune Lambda of a deployment without the grant
    out: dict[str, Any] = refused.on_tuning_job_state_change(
        {"HyperParameterTuningJobName": job, "HyperParameterTuningJobStatus": "Completed"}
    )
    # THEN the lock is released, nothing is deployed, and the reason says how to fix it
    assert out["Released"] is True
    assert out["Deploy"]["Deployed"] is False and "tuner:retune" in out["Deploy"]["Reason"]
    with pytest.raises(ClientError):
        refused.sagemaker.describe_endpoint(EndpointName="churn-live")
    assert "DeployedBest" not in refused.describe("churn")
    # AND with the grant, the same job deploys
    assert granted.deploy_if_better("churn", job)["Deployed"] is True


@pytest.mark.parametrize(
    "setting, expected",
    [("true", True), ("True", True), (" true\n", True), ("false", False), ("", False), (None, False), ("yes", False)],
)
def test_the_setting_is_granted_only_when_it_says_true(setting, expected):
    assert auto_deploy_granted(setting) is expected


@pytest.mark.parametrize("value, expected", [("true", True), ("false", False), (None, False)])
def test_the_retune_lambda_reads_the_setting_from_its_environment(monkeypatch, value, expected):
    monkeypatch.setenv(constants.ENV_TABLE_NAME, "tuner")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    if value is None:
        monkeypatch.delenv(constants.ENV_RETUNE_AUTO_DEPLOY, raising=False)
    else:
        monkeypatch.setenv(constants.ENV_RETUNE_AUTO_DEPLOY, value)
    wiring.reset()
    try:
        with mock_aws():
            svc: FamilyService = wiring.family_service()
            assert svc.auto_deploy_granted is expected
    finally:
        wiring.reset()


def test_the_cli_reads_the_setting_from_the_stack_outputs(monkeypatch):
    built: list[dict[str, Any]] = []
    stack: dict[str, str] = {}

    class FakeClient:
        region_name, session = REGION, None

        def __init__(self, **_: Any) -> None:
            self.outputs = dict(stack)

    monkeypatch.setattr(client_module, "TunerClient", FakeClient)
    monkeypatch.setattr(wiring, "build_family_service", lambda *a, **kw: built.append(kw) or kw)
    args = argparse.Namespace(region=REGION, stack_name="SageMakerTuner")
    base = {constants.OUTPUT_TABLE_NAME: "t", constants.OUTPUT_STATE_MACHINE_ARN: "arn"}
    for outputs, expected in (
        ({**base, constants.OUTPUT_RETUNE_AUTO_DEPLOY: "true"}, True),
        ({**base, constants.OUTPUT_RETUNE_AUTO_DEPLOY: "false"}, False),
        (base, False),  # a stack from before the output: not granted
    ):
        stack.clear()
        stack.update(outputs)
        families_cli.service(args)
        assert built[-1]["auto_deploy"] is expected
