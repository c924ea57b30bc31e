"""Retuning rules and the retune Lambda's permissions (stacks/retuning.py)."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from tuner import constants

from .test_events_and_iam import actions, function_logical_id, rendered, resources, role_statements


def rules_targeting(template_json: dict, function_id: str) -> list[dict]:
    return [
        r["Properties"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r["Properties"].get("Targets", []))
    ]


def test_the_retune_lambda_is_the_target_of_the_custom_and_job_ended_rules(synth):
    rules = rules_targeting(synth.json, function_logical_id(synth, "retune"))
    patterns = sorted((r["EventPattern"] for r in rules), key=lambda p: p["detail-type"][0])
    assert patterns == [
        {
            "source": ["tuner"],
            "detail-type": ["Hyperparameter Tuning Job State Change"],
            "detail": {"HyperParameterTuningJobStatus": ["Completed", "Failed", "Stopped"]},
        },
        {"source": ["tuner"], "detail-type": ["Retune Requested"]},
    ]
    for rule in rules:
        [target] = rule["Targets"]
        assert "Input" not in target and "InputTransformer" not in target  # the whole event
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4 and "DeadLetterConfig" in target


def test_the_retune_lambda_starts_the_tuner_state_machine_and_only_that(synth):
    [machine] = synth.resources("AWS::StepFunctions::StateMachine")
    statements = role_statements(synth, "retune")
    start = [s for s in statements if "states:StartExecution" in actions(s)]
    assert start and all(resources(s) == [{"Ref": machine}] for s in start)
    describe = [s for s in statements if "states:DescribeExecution" in actions(s)]
    assert [rendered(r) for s in describe for r in resources(s)][0].endswith(
        ":execution:{" + json.dumps({"Fn::GetAtt": [machine, "Name"]}, sort_keys=True) + "}:*"
    )
    env = synth.json["Resources"][function_logical_id(synth, "retune")]["Properties"]["Environment"][
        "Variables"
    ]
    assert env[constants.ENV_STATE_MACHINE_ARN] == {"Ref": machine}
    # by default the retune Lambda cannot deploy models or pass roles
    assert not [
        a for s in statements for a in actions(s) if a.startswith("sagemaker:") or a == "iam:PassRole"
    ]


def test_no_function_the_state_machine_runs_knows_its_arn(synth):
    """The state machine references the functions it runs: their environment naming it would be a
    cycle. The functions that start its executions (retune, front_door) know it."""
    from stacks.functions import FUNCTIONS

    [machine] = [r for r in synth.json["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    runs = json.dumps(machine["Properties"]["DefinitionString"])
    starters = {name for name, spec in FUNCTIONS.items() if spec.grants.start_executions}
    assert starters == {"retune", "front_door"}
    for name in constants.LAMBDAS:
        logical = function_logical_id(synth, name)
        env = synth.json["Resources"][logical]["Properties"]["Environment"]["Variables"]
        if f'"{logical}"' in runs:
            assert name not in starters and constants.ENV_STATE_MACHINE_ARN not in env, name
        assert (constants.ENV_STATE_MACHINE_ARN in env) == (name in starters), name


@pytest.fixture(scope="module")
def configured():
    """A tuner with data triggers, schedules and auto-deploy (no cdk-nag: the session synth runs it)."""
    from stacks.tuner_construct import TunerConstruct

    app = cdk.App(context={"tuner:local": "true"})
    stack = cdk.Stack(
        app, "Configured", synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
    )
    tuner = TunerConstruct(
        stack,
        "Tuner",
        allowed_execution_role_arns=["arn:aws:iam::123456789012:role/ModelRole"],
        retune_data_triggers=[
            {"family": "churn", "bucket": "churn-data", "prefix": "train/"},
            {"family": "fraud", "bucket": "fraud-data"},
        ],
        retune_schedules=[{"family": "churn", "expression": "cron(0 3 * * ? *)"}],
        retune_auto_deploy=True,
    )
    tuner.retuning.add_schedule("fraud", "rate(7 days)")
    template = Template.from_stack(stack)
    return template, template.to_json()


def test_data_triggers_match_object_created_under_the_prefix_and_carry_the_family(configured):
    template, _ = configured
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": ["churn-data"]}, "object": {"key": [{"prefix": "train/"}]}},
            },
            "Targets": [
                Match.object_like(
                    {
                        "InputTransformer": {
                            "InputPathsMap": {
                                "detail-bucket-name": "$.detail.bucket.name",
                                "detail-object-key": "$.detail.object.key",
                            },
                            "InputTemplate": '{"Family":"churn","Trigger":"data",'
                            '"Bucket":<detail-bucket-name>,"Key":<detail-object-key>}',
                        },
                        "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 4}),
                    }
                )
            ],
        },
    )
    # no prefix: the whole bucket
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": ["fraud-data"]}},
            },
        },
    )


def test_schedules_carry_the_family(configured):
    template, _ = configured
    for family, expression in (("churn", "cron(0 3 * * ? *)"), ("fraud", "rate(7 days)")):
        template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "ScheduleExpression": expression,
                "Targets": [
                    Match.object_like(
                        {
                            "Input": json.dumps(
                                {"Family": family, "Trigger": "schedule"}, separators=(",", ":")
                            )
                        }
                    )
                ],
            },
        )


def test_auto_deploy_grants_model_and_endpoint_actions_and_passes_only_allowed_roles(configured):
    _, json_ = configured
    statements = [
        s
        for r in json_["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and "Retune" in str(r["Properties"]["Roles"])
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    deploy = [s for s in statements if "sagemaker:CreateEndpoint" in actions(s)]
    assert len(deploy) == 1
    assert sorted(rendered(r).rsplit(":", 1)[1] for r in resources(deploy[0])) == [
        "endpoint-config/*",
        "endpoint/*",
        "model/*",
    ]
    [pass_role] = [s for s in statements if "iam:PassRole" in actions(s)]
    assert resources(pass_role) == ["arn:aws:iam::123456789012:role/ModelRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # the best job is read only among this deployment's jobs (its tag, as the tuner's own grants)
    [read] = [s for s in statements if s.get("Sid") == "ReadBestTrainingJob"]
    [table] = [k for k, r in json_["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"]
    assert read["Condition"] == {"StringEquals": {f"aws:ResourceTag/{constants.DEPLOYMENT_TAG}": {"Ref": table}}}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"retune_schedules": [{"family": "f", "expression": "every day"}]}, "rate"),
        ({"retune_data_triggers": [{"family": "bad_name", "bucket": "b"}]}, "family"),
    ],
)
def test_bad_trigger_props_fail_the_synth(kwargs, message):
    from stacks.tuner_construct import TunerConstruct

    app = cdk.App()
    with pytest.raises(ValueError, match=message):
        TunerConstruct(cdk.Stack(app, "S"), "Tuner", **kwargs)
