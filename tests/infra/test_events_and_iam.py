"""EventBridge wiring and the scope of every permission."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from tuner import constants


def function_logical_id(synth, name: str) -> str:
    [logical_id] = [
        k
        for k, r in synth.resources("AWS::Lambda::Function").items()
        if r["Properties"]["Description"] == constants.LAMBDAS[name]
    ]
    return logical_id


def role_statements(synth, name: str) -> list[dict]:
    role = synth.json["Resources"][function_logical_id(synth, name)]["Properties"]["Role"]["Fn::GetAtt"][0]
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions(statement: dict) -> list[str]:
    a = statement["Action"]
    return a if isinstance(a, list) else [a]


def resources(statement: dict) -> list:
    r = statement["Resource"]
    return r if isinstance(r, list) else [r]


def rendered(value) -> str:
    """An ARN expression as text: Fn::Join parts with every token as ``{...}``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(rendered(p) for p in value["Fn::Join"][1])
    return "{" + json.dumps(value, sort_keys=True) + "}"


def test_training_job_state_changes_reach_the_event_lambda_with_retries_and_a_dlq(synth):
    rules = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]
        and r["Properties"]["EventPattern"].get("source") == [constants.SAGEMAKER_SOURCE]
    ]
    [rule] = rules
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Training Job State Change"],
        "detail": {"TrainingJobStatus": ["Completed", "Failed", "Stopped"]},
    }
    assert rule.get("EventBusName", "default") == "default"
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_logical_id(synth, "training_event"), "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queue = synth.json["Resources"][dlq]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_sweeper_runs_on_a_schedule(synth):
    synth.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "Targets": [
                Match.object_like({"Arn": {"Fn::GetAtt": [function_logical_id(synth, "sweeper"), "Arn"]}})
            ],
        },
    )


def test_pass_role_only_for_sagemaker_and_only_on_the_allowed_roles(synth):
    passing = [
        (name, s)
        for name in constants.LAMBDAS
        for s in role_statements(synth, name)
        if "iam:PassRole" in actions(s) or "iam:*" in actions(s) or s["Action"] == "*"
    ]
    assert [name for name, _ in passing] == ["next_trial"]
    [(_, statement)] = passing
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert [rendered(r) for r in resources(statement)] == [
        'arn:{{"Ref": "AWS::Partition"}}:iam::{{"Ref": "AWS::AccountId"}}:role/*SageMaker*'
    ]


def test_pass_role_uses_the_context_role_list_when_given(tmp_path):
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.tuner_construct import TunerConstruct

    (tmp_path / "layer" / "python").mkdir(parents=True)
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "Probe")
    arns = ["arn:aws:iam::123456789012:role/TrainA", "arn:aws:iam::123456789012:role/TrainB"]
    TunerConstruct(stack, "Tuner", allowed_execution_role_arns=arns, scientific_layer_dir=tmp_path / "layer")
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "iam:PassRole", "Resource": arns})]
                )
            }
        },
    )


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_sagemaker_actions_are_scoped_to_training_jobs(synth, name):
    for statement in role_statements(synth, name):
        if any(a.startswith("sagemaker:") for a in actions(statement)):
            for resource in resources(statement):
                assert rendered(resource).endswith(":training-job/*"), resource


def test_who_may_start_watch_and_stop_training_jobs(synth):
    def sagemaker_actions(name):
        return {a for s in role_statements(synth, name) for a in actions(s) if a.startswith("sagemaker:")}

    assert sagemaker_actions("next_trial") == {
        "sagemaker:CreateTrainingJob",
        "sagemaker:AddTags",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    }
    for name in ("training_event", "sweeper"):
        assert sagemaker_actions(name) == {"sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"}
    for name in ("create_job", "finalize", "fail_job"):
        assert sagemaker_actions(name) == set()


@pytest.mark.parametrize("name", ["next_trial", "training_event", "sweeper"])
def test_training_log_reads_and_task_responses(synth, name):
    stmts = role_statements(synth, name)
    logs = [s for s in stmts if "logs:GetLogEvents" in actions(s)]
    assert logs and all(
        rendered(r).endswith(":log-group:/aws/sagemaker/TrainingJobs:*") for s in logs for r in resources(s)
    )
    [machine] = synth.resources("AWS::StepFunctions::StateMachine")
    tokens = [s for s in stmts if "states:SendTaskSuccess" in actions(s)]
    assert tokens and all(resources(s) == [{"Ref": machine}] for s in tokens)
    assert all("states:SendTaskFailure" in actions(s) for s in tokens)


def test_only_finalize_publishes_events_and_only_to_the_default_bus(synth):
    for name in constants.LAMBDAS:
        puts = [s for s in role_statements(synth, name) if "events:PutEvents" in actions(s)]
        if name != "finalize":
            assert not puts
            continue
        [statement] = puts
        assert rendered(resources(statement)[0]).endswith(":event-bus/default")


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_no_function_gets_an_unscoped_action(synth, name):
    for statement in role_statements(synth, name):
        if "*" in resources(statement):
            assert set(actions(statement)) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, statement
        assert not any(a.endswith(":*") or a == "*" for a in actions(statement)), statement


def test_bucket_access_only_where_needed(synth):
    [bucket] = [
        k for k, r in synth.resources("AWS::S3::Bucket").items() if "LoggingConfiguration" in r["Properties"]
    ]
    users = {
        name
        for name in constants.LAMBDAS
        for s in role_statements(synth, name)
        for r in resources(s)
        if bucket in json.dumps(r)
    }
    assert users == {"create_job", "next_trial", "training_event"}


def test_every_function_reads_and_writes_the_table(synth):
    [table] = synth.resources("AWS::DynamoDB::Table")
    for name in constants.LAMBDAS:
        granted = {
            a
            for s in role_statements(synth, name)
            if any(table in json.dumps(r) for r in resources(s))
            for a in actions(s)
        }
        assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"} <= granted, (
            name
        )


def test_the_sweeper_reads_executions_of_the_tuner_state_machine_only(synth):
    """The sweeper reconciles a job whose execution ended unfinished (DescribeExecution on the ARN
    stored on the job record): only executions of this stack's machine."""
    [machine] = synth.resources("AWS::StepFunctions::StateMachine")
    reads = [s for s in role_statements(synth, "sweeper") if "states:DescribeExecution" in actions(s)]
    assert [actions(s) for s in reads] == [["states:DescribeExecution"]]
    [resource] = resources(reads[0])
    text = rendered(resource)
    assert ":states:" in text and ":execution:" in text and text.endswith(":*") and machine in text
    for name in ("create_job", "next_trial", "training_event", "finalize", "fail_job"):
        assert not [s for s in role_statements(synth, name) if "states:DescribeExecution" in actions(s)]
