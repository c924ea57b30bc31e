"""Least privilege by tags, on the synthesized template (docs/security.md): each training-job grant
evaluated as IAM would (the offline twin's evaluator, ``tuner.local.iam``) against the calls the code
makes; the training-event rule; the logs key's encryption-context condition.

The deployment's tag value is the table's name: the template's ``{"Ref": <table>}``, which the
functions get as ``TUNER_TABLE_NAME``. Here every token is rendered to the value it would have in
the account below, so the template's own statements are evaluated, not copies of them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tuner import constants
from tuner.core.request import parse_request
from tuner.local.iam import Access, Policy, Scope, accesses

from stacks.functions import FUNCTIONS
from tests.builders import tuning_request

from .test_events_and_iam import actions, function_logical_id, role_statements

SCOPE = Scope("us-east-1", "123456789012")
DEPLOYMENT = "SageMakerTuner-TunerTable-1A2B3C"  # what CloudFormation would name the table
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": SCOPE.region, "AWS::AccountId": SCOPE.account,
          "AWS::StackId": f"arn:aws:cloudformation:{SCOPE.region}:{SCOPE.account}:stack/SageMakerTuner/5e2f-11ee"}


def table_ref(synth) -> dict:
    """The deployment's value in the template: what the functions get as TUNER_TABLE_NAME."""
    env = synth.json["Resources"][function_logical_id(synth, "next_trial")]["Properties"]["Environment"]
    return env["Variables"][constants.ENV_TABLE_NAME]


def resolve(value: Any, values: dict[str, str]) -> Any:
    """``value`` with Ref (pseudo parameters and ``values``), Fn::Join, Fn::Select and Fn::Split resolved."""
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and (value["Ref"] in PSEUDO or value["Ref"] in values):
        return {**PSEUDO, **values}[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        sep, parts = value["Fn::Join"]
        return sep.join(str(resolve(p, values)) for p in parts)
    if set(value) == {"Fn::Split"}:
        sep, text = value["Fn::Split"]
        return str(resolve(text, values)).split(sep)
    if set(value) == {"Fn::Select"}:
        index, items = value["Fn::Select"]
        return resolve(items, values)[index]
    return {k: resolve(v, values) for k, v in value.items()}


def deployed_policy(synth, name: str) -> Policy:
    """The function's role policy as IAM sees it in the account (the table named DEPLOYMENT)."""
    values = {table_ref(synth)["Ref"]: DEPLOYMENT}
    statements = [resolve(s, values) for s in role_statements(synth, name)]
    return Policy.of({name: {"Version": "2012-10-17", "Statement": statements}})


def training_job_actions(synth, name: str) -> set[str]:
    return {a.split(":", 1)[1] for s in role_statements(synth, name) for a in actions(s)
            if a.startswith("sagemaker:") and a != "sagemaker:DescribeAlgorithm"}


def create_request(deployment: str | None) -> dict:
    """The CreateTrainingJob request the lap builds (tuner.core.request_definitions)."""
    req = parse_request(tuning_request("tagged", tags=[{"Key": "team", "Value": "a"}]))
    [definition] = req.definitions
    return definition.training_job_request("tagged-001-abc", {"x": "1"}, req.tags, deployment=deployment)


def sagemaker_allowed(policy: Policy, op: str, params: dict, tags_now: dict[str, str] | None = None) -> bool:
    needed = accesses("sagemaker", op, params, SCOPE, resource_tags=lambda arn: tags_now or {})
    return all(policy.allows(a) for a in needed if a.action.startswith("sagemaker:"))


def test_the_grants_cover_the_functions_training_job_actions(synth):
    for name, spec in FUNCTIONS.items():
        assert training_job_actions(synth, name) == set(spec.grants.training_jobs), name
    assert any(FUNCTIONS[n].grants.training_jobs for n in FUNCTIONS)


CREATORS = [n for n, spec in FUNCTIONS.items() if "CreateTrainingJob" in spec.grants.training_jobs]


@pytest.mark.parametrize("name", CREATORS)
def test_a_training_job_is_created_only_tagged_with_this_deployment(synth, name):
    policy = deployed_policy(synth, name)
    assert sagemaker_allowed(policy, "CreateTrainingJob", create_request(DEPLOYMENT))
    assert not sagemaker_allowed(policy, "CreateTrainingJob", create_request("another-deployment"))
    assert not sagemaker_allowed(policy, "CreateTrainingJob", create_request(None))  # the request's tags only
    # AddTags only as part of the create: a role cannot tag another team's job as this deployment's
    theirs = SCOPE.arn("sagemaker", "training-job/theirs")
    add = {"ResourceArn": theirs, "Tags": [{"Key": constants.DEPLOYMENT_TAG, "Value": DEPLOYMENT}]}
    assert not sagemaker_allowed(policy, "AddTags", add, {})


@pytest.mark.parametrize("name", [n for n, spec in FUNCTIONS.items() if spec.grants.training_jobs])
def test_training_jobs_are_described_and_stopped_only_when_tagged_with_this_deployment(synth, name):
    policy = deployed_policy(synth, name)
    for op in sorted(training_job_actions(synth, name) & {"DescribeTrainingJob", "StopTrainingJob"}):
        job = {"TrainingJobName": "some-job"}
        assert sagemaker_allowed(policy, op, job, {"team": "a", constants.DEPLOYMENT_TAG: DEPLOYMENT}), op
        assert not sagemaker_allowed(policy, op, job, {constants.DEPLOYMENT_TAG: "another-deployment"}), op
        assert not sagemaker_allowed(policy, op, job, {"team": "a"}), op  # untagged: another team's job
        assert not sagemaker_allowed(policy, op, job, {}), op  # no such job


def test_the_training_event_rule_matches_only_this_deployment_s_jobs(synth):
    from moto.events.models import EventPattern

    [rule] = [r["Properties"] for r in synth.resources("AWS::Events::Rule").values()
              if r["Properties"].get("EventPattern", {}).get("source") == [constants.SAGEMAKER_SOURCE]]
    assert rule["EventPattern"]["detail"]["Tags"] == {constants.DEPLOYMENT_TAG: [table_ref(synth)]}
    pattern = EventPattern.load(json.dumps(resolve(rule["EventPattern"], {table_ref(synth)["Ref"]: DEPLOYMENT})))

    def event(tags: dict[str, str]) -> dict:  # the detail carries the job's tags as a map
        return {"source": constants.SAGEMAKER_SOURCE, "detail-type": constants.TRAINING_STATE_CHANGE,
                "detail": {"TrainingJobName": "j", "TrainingJobStatus": "Completed", "Tags": tags}}

    assert pattern.matches_event(event({"team": "a", constants.DEPLOYMENT_TAG: DEPLOYMENT}))
    assert not pattern.matches_event(event({constants.DEPLOYMENT_TAG: "another-deployment"}))
    assert not pattern.matches_event(event({"team": "a"}))
    assert not pattern.matches_event(event({}))


def test_cloudwatch_logs_may_use_the_key_for_the_state_machine_s_log_group_only(synth):
    [machine] = synth.resources("AWS::StepFunctions::StateMachine").values()
    [destination] = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    group = synth.json["Resources"][destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]]
    key = synth.json["Resources"][group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]]
    group_arn = SCOPE.arn("logs", "log-group:" + resolve(group["Properties"]["LogGroupName"], {}))
    for_logs = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                if "logs." in json.dumps(s.get("Principal", {}))]
    assert for_logs, "the key lets CloudWatch Logs use it"
    for statement in for_logs:
        [(operator, condition)] = statement["Condition"].items()
        assert operator in ("ArnEquals", "ArnLike")
        assert resolve(condition["kms:EncryptionContext:aws:logs:arn"], {}) == group_arn
    # and as a policy: the log group's context is allowed, another log group's is not
    doc = resolve({"Statement": for_logs}, {})
    policy = Policy.of({"key": {"Statement": [{**s, "Principal": "*"} for s in doc["Statement"]]}})
    def use(arn: str) -> bool:
        return policy.allows(Access("kms:GenerateDataKey", "*", (("kms:EncryptionContext:aws:logs:arn", arn),)))

    assert use(group_arn) and not use(group_arn + "-other") and not use(SCOPE.arn("logs", "log-group:/any/group"))
