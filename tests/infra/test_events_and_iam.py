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
    # only this deployment's jobs: tagged with the table name the functions tag them with
    deployment = synth.json["Resources"][function_logical_id(synth, "next_trial")]["Properties"]["Environment"][
        "Variables"][constants.ENV_TABLE_NAME]
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Training Job State Change"],
        "detail": {"TrainingJobStatus": ["Completed", "Failed", "Stopped"],
                   "Tags": {constants.DEPLOYMENT_TAG: [deployment]}},
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


def test_a_deployment_must_name_its_execution_roles_or_opt_into_the_name_pattern():
    """docs/security.md: without allowedExecutionRoleArns, app.py refuses, saying how to fix it."""
    import aws_cdk as cdk

    from stacks.app_context import CTX_NAMED_ROLES, MissingExecutionRolesError, require_execution_roles

    with pytest.raises(MissingExecutionRolesError, match="allowedExecutionRoleArns=arn:aws:iam::") as err:
        require_execution_roles(cdk.App())
    assert CTX_NAMED_ROLES in str(err.value)
    for context in ({CTX_NAMED_ROLES: "true"}, {"allowedExecutionRoleArns": "arn:aws:iam::1:role/R"},
                    {"tuner:local": "true"}):
        require_execution_roles(cdk.App(context=context))


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
    """Training-job actions on training jobs; only DescribeAlgorithm (read-only) on algorithms."""
    for statement in role_statements(synth, name):
        if any(a.startswith("sagemaker:") for a in actions(statement)):
            kind = ":algorithm/*" if actions(statement) == ["sagemaker:DescribeAlgorithm"] else ":training-job/*"
            for resource in resources(statement):
                assert rendered(resource).endswith(kind), resource


def machine_statements(synth, name: str, action: str) -> list[dict]:
    return [s for s in role_statements(synth, name) if action in actions(s)]


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_every_arn_form_aws_may_check_is_granted(synth, name):
    """Where AWS does not document which ARN it checks, both are granted (docs/reliability.md):
    DescribeLogStreams on ``log-group:NAME`` and ``log-group:NAME:*``; SendTaskSuccess on the parent
    machine and its distributed Map's children (``stateMachine:NAME/LABEL``)."""
    for statement in machine_statements(synth, name, "logs:DescribeLogStreams"):
        ends = sorted(rendered(r).rsplit(":log-group:", 1)[1] for r in resources(statement))
        assert ends == ["/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TrainingJobs:*"]
    for statement in machine_statements(synth, name, "logs:GetLogEvents"):
        ends = [rendered(r).rsplit(":log-group:", 1)[1] for r in resources(statement)]
        assert ends == ["/aws/sagemaker/TrainingJobs:*"]
    [machine] = synth.resources("AWS::StepFunctions::StateMachine")
    for statement in machine_statements(synth, name, "states:SendTaskSuccess"):
        assert resources(statement) == [{"Ref": machine}, {"Fn::Join": ["", [{"Ref": machine}, "/*"]]}]


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_events_go_to_the_tuner_bus_only(synth, name):
    [bus] = synth.resources("AWS::Events::EventBus")
    for statement in machine_statements(synth, name, "events:PutEvents"):
        assert resources(statement) == [{"Fn::GetAtt": [bus, "Arn"]}]


def test_only_the_publishing_functions_and_the_listed_senders_may_put_events_on_the_tuner_bus(synth):
    """The bus policy denies PutEvents to every principal but the roles of the functions granted
    it: an identity policy with ``events:PutEvents`` on ``*`` does not get a forged event in."""
    [bus] = synth.resources("AWS::Events::EventBus")
    [policy] = synth.resources("AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}
    allowed = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    publishers = {
        n for n in constants.LAMBDAS if any(machine_statements(synth, n, "events:PutEvents"))
    }
    roles = {rendered(a) for a in (allowed if isinstance(allowed, list) else [allowed])}
    assert publishers and roles == {
        rendered(synth.json["Resources"][function_logical_id(synth, n)]["Properties"]["Role"]) for n in publishers
    }


def test_the_tuner_s_own_event_rules_listen_on_its_bus_and_sagemaker_s_on_the_default_bus(synth):
    [bus] = synth.resources("AWS::Events::EventBus")
    for rule in synth.resources("AWS::Events::Rule").values():
        pattern = rule["Properties"].get("EventPattern")
        if pattern is None:
            continue  # a schedule
        if pattern["source"] == [constants.TUNER_SOURCE]:
            assert rule["Properties"]["EventBusName"] == {"Ref": bus}
        else:
            assert "EventBusName" not in rule["Properties"]  # aws.* sources: the default bus


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_table_grants_name_the_tuner_table_and_its_indexes_only(synth, name):
    [table] = synth.resources("AWS::DynamoDB::Table")
    for statement in role_statements(synth, name):
        if any(a.startswith("dynamodb:") for a in actions(statement)):
            for resource in resources(statement):
                assert resource in ({"Fn::GetAtt": [table, "Arn"]},
                                    {"Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, "/index/*"]]}), resource


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_no_function_gets_an_unscoped_action(synth, name):
    for statement in role_statements(synth, name):
        if "*" in resources(statement):
            assert set(actions(statement)) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, statement
        assert not any(a.endswith(":*") or a == "*" for a in actions(statement)), statement


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_executions_read_are_the_tuner_machines_only(synth, name):
    """DescribeExecution (the sweeper reconciles a job whose execution ended unfinished; the retune
    Lambda checks a family's lock) on executions of this stack's machine only."""
    [machine] = synth.resources("AWS::StepFunctions::StateMachine")
    for statement in machine_statements(synth, name, "states:DescribeExecution"):
        assert actions(statement) == ["states:DescribeExecution"]
        [resource] = resources(statement)
        text = rendered(resource)
        assert ":states:" in text and ":execution:" in text and text.endswith(":*") and machine in text
