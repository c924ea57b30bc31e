"""A family's AutoDeploy needs grants the stack gives only when asked; the stack says which it did.

The retune Lambda's environment (``TUNER_RETUNE_AUTO_DEPLOY``) and the stack output
(``RetuneAutoDeploy``) carry the setting, so that the family service refuses a family it could not
deploy (docs/retuning.md). Both templates come from ``app.py``: the session's default synthesis, and
``python app.py`` with ``-c 'tuner:retune={"autoDeploy": true}'`` (the offline retuning example's
context), where the grant is added after the stack was built.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from tuner import constants
from tuner.aws.families import auto_deploy_granted

from .conftest import Synth
from .test_events_and_iam import actions, function_logical_id, role_statements

AUTO_DEPLOY_ACTIONS = {
    "sagemaker:DescribeTrainingJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "iam:PassRole",
}


@pytest.fixture(scope="module")
def granted() -> Synth:
    """The template ``python app.py -c 'tuner:retune={"autoDeploy": true}'`` synthesizes."""
    from tuner.local.deploy import synthesize

    outdir = synthesize(context={"tuner:retune": json.dumps({"autoDeploy": True})})
    template = json.loads((outdir / f"{constants.DEFAULT_STACK_NAME}.template.json").read_text())
    return Synth(template=Template.from_json(template), json=template, outdir=outdir, stack=None)


def setting(synth: Synth) -> tuple[str, str]:
    """(the retune function's environment value, the stack output's value)."""
    env = synth.json["Resources"][function_logical_id(synth, "retune")]["Properties"]["Environment"]["Variables"]
    return env[constants.ENV_RETUNE_AUTO_DEPLOY], synth.json["Outputs"][constants.OUTPUT_RETUNE_AUTO_DEPLOY]["Value"]


def retune_actions(synth: Synth) -> set[str]:
    return {a for s in role_statements(synth, "retune") for a in actions(s)}


def test_by_default_the_stack_says_auto_deploy_is_not_granted_and_does_not_grant_it(synth):
    assert setting(synth) == ("false", "false")
    assert not auto_deploy_granted(setting(synth)[1])
    assert not retune_actions(synth) & AUTO_DEPLOY_ACTIONS


def test_with_the_auto_deploy_context_the_stack_says_so_and_grants_it(granted):
    """The grant comes from ``enable_auto_deploy`` after the stack (and its outputs) exist: the
    setting is resolved at synthesis, so environment, output and policy agree."""
    assert setting(granted) == ("true", "true")
    assert auto_deploy_granted(setting(granted)[1])
    assert AUTO_DEPLOY_ACTIONS <= retune_actions(granted)


def test_only_the_retune_function_carries_the_setting(synth):
    carriers = [
        name
        for name in constants.LAMBDAS
        if constants.ENV_RETUNE_AUTO_DEPLOY
        in synth.json["Resources"][function_logical_id(synth, name)]["Properties"]["Environment"]["Variables"]
    ]
    assert carriers == ["retune"]
