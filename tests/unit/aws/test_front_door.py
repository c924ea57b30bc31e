"""The front door's protocol and decisions (tuner.aws.front_door), on fakes: what reaches the
tuner, what is refused and in which of SageMaker's error shapes (botocore's JSON parser reads them),
and which IAM questions it asks (``tuner.aws.iam_requests``, the same model the offline twin uses)."""
from __future__ import annotations

import base64
import json
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser
from tuner.aws.front_door import FrontDoor, IamPermissions, context_entries, principal_arn
from tuner.aws.iam_requests import Access, Scope

ACCOUNT = "123456789012"
SCOPE = Scope("us-east-1", ACCOUNT)
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/analyst/session"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecutionRole"
JOB = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:hyper-parameter-tuning-job/"


class FakePermissions:
    def __init__(self, refuse: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.refuse = refuse
        self.asked: list[tuple[str, Access]] = []

    def principal(self, caller_arn: str) -> str:
        return principal_arn(caller_arn, lambda name: f"arn:aws:iam::{ACCOUNT}:role/teams/{name}")

    def refused(self, principal: str, requests: Any) -> list[Access]:
        self.asked.extend((principal, r) for r in requests)
        return [r for r in requests if r.action in self.refuse]


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.calls.append((name, params))
            return {"HyperParameterTuningJobArn": JOB + "x", "ResponseMetadata": {"RequestId": "r"}}
        return call


def tuning_request(name: str = "job", instance: str = "ml.m5.large") -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "loss", "Regex": "loss=(\\S+)"}]},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
            "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
        "Tags": [{"Key": "team", "Value": "ml"}],
    }


def event(operation: str, params: Any, caller: str | None = CALLER, encode: bool = True) -> dict[str, Any]:
    body = json.dumps(params)
    return {
        "headers": {"X-Amz-Target": f"SageMaker.{operation}", "content-type": "application/x-amz-json-1.1"},
        "requestContext": {"http": {"method": "POST"}, "requestId": "req-1",
                           "authorizer": {"iam": {"userArn": caller}} if caller else None},
        "body": base64.b64encode(body.encode()).decode() if encode else body,
        "isBase64Encoded": encode,
    }


def door(permissions: FakePermissions | None = None, tags: dict[str, dict[str, str]] | None = None):
    api = FakeApi()
    known = tags or {}
    front = FrontDoor(api=lambda: api, permissions=permissions or FakePermissions(), scope=SCOPE,
                      tags_of=lambda arn: known.get(arn))
    return front, api


def parsed(response: dict[str, Any], operation: str) -> dict[str, Any]:
    """The response as botocore's SageMaker client reads it."""
    model = botocore.session.get_session().get_service_model("sagemaker").operation_model(operation)
    http = {"status_code": response["statusCode"], "headers": response["headers"],
            "body": response["body"].encode()}
    return create_parser("json").parse(http, model.output_shape)


def test_a_permitted_create_reaches_the_tuner_after_the_questions_sagemaker_would_ask():
    permissions = FakePermissions()
    front, api = door(permissions)
    response = front.handle(event("CreateHyperParameterTuningJob", tuning_request()))
    assert response["statusCode"] == 200
    assert parsed(response, "CreateHyperParameterTuningJob")["HyperParameterTuningJobArn"] == JOB + "x"
    assert api.calls == [("create_hyper_parameter_tuning_job", tuning_request())]
    principals = {p for p, _ in permissions.asked}
    assert principals == {f"arn:aws:iam::{ACCOUNT}:role/teams/analyst"}  # the session's role, with its path
    asked = {(a.action, a.resource): dict(a.context) for _, a in permissions.asked}
    create = asked[("sagemaker:CreateHyperParameterTuningJob", JOB + "job")]
    assert create["aws:RequestTag/team"] == "ml" and create["sagemaker:InstanceTypes"] == ("ml.m5.large",)
    assert asked[("iam:PassRole", ROLE)] == {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert asked[("sagemaker:AddTags", JOB + "job")]["sagemaker:TaggingAction"] == "CreateHyperParameterTuningJob"


def test_a_refused_create_never_reaches_the_tuner_and_says_what_is_missing():
    front, api = door(FakePermissions(refuse={"iam:PassRole"}))
    response = front.handle(event("CreateHyperParameterTuningJob", tuning_request(), encode=False))
    error = parsed(response, "CreateHyperParameterTuningJob")["Error"]
    assert response["statusCode"] == 400 and error["Code"] == "AccessDeniedException"
    assert CALLER in error["Message"] and f"iam:PassRole on resource: {ROLE}" in error["Message"]
    assert api.calls == []


def test_each_definition_is_asked_about_on_its_own():
    request = tuning_request()
    definition = request.pop("TrainingJobDefinition")
    gpu = {**definition, "DefinitionName": "gpu",
           "ResourceConfig": {**definition["ResourceConfig"], "InstanceType": "ml.p3.2xlarge"}}
    request["TrainingJobDefinitions"] = [{**definition, "DefinitionName": "cpu"}, gpu]
    permissions = FakePermissions()
    door(permissions)[0].handle(event("CreateHyperParameterTuningJob", request))
    types = [dict(a.context)["sagemaker:InstanceTypes"] for _, a in permissions.asked
             if a.action == "sagemaker:CreateHyperParameterTuningJob"]
    assert types == [("ml.m5.large",), ("ml.p3.2xlarge",)]


@pytest.mark.parametrize(
    ("mutate", "code", "status"),
    [
        (lambda e: e["headers"].update({"X-Amz-Target": "SageMaker.DescribeTrainingJob"}),
         "UnknownOperationException", 400),
        (lambda e: e["requestContext"].update({"authorizer": None}), "AccessDeniedException", 403),
        (lambda e: e.update({"body": "not json", "isBase64Encoded": False}), "SerializationException", 400),
        (lambda e: e.update({"body": json.dumps({"HyperParameterTuningJobName": "x"}), "isBase64Encoded": False}),
         "ValidationException", 400),
    ],
)
def test_what_the_front_door_refuses_before_asking_iam(mutate, code, status):
    permissions = FakePermissions()
    front, api = door(permissions)
    request = event("CreateHyperParameterTuningJob", tuning_request())
    mutate(request)
    response = front.handle(request)
    assert (response["statusCode"], response["headers"]["x-amzn-ErrorType"]) == (status, code)
    assert json.loads(response["body"])["message"]
    assert api.calls == [] and permissions.asked == []


@pytest.mark.parametrize(
    "caller", [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:sts::{ACCOUNT}:federated-user/bob", "not-an-arn"]
)
def test_callers_iam_cannot_simulate_are_refused(caller):
    front, api = door()
    response = front.handle(event("CreateHyperParameterTuningJob", tuning_request(), caller=caller))
    assert response["headers"]["x-amzn-ErrorType"] == "AccessDeniedException" and api.calls == []


def test_tags_are_served_for_the_tuners_jobs_only_and_checked_against_the_jobs_tags():
    permissions = FakePermissions()
    front, api = door(permissions, tags={JOB + "mine": {"team": "ml"}})
    other = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/theirs"
    response = front.handle(event("AddTags", {"ResourceArn": other, "Tags": [{"Key": "a", "Value": "b"}]}))
    assert response["headers"]["x-amzn-ErrorType"] == "ValidationException" and api.calls == []
    response = front.handle(event("AddTags", {"ResourceArn": JOB + "mine", "Tags": [{"Key": "a", "Value": "b"}]}))
    assert response["statusCode"] == 200
    (_, access), = permissions.asked
    assert access.action == "sagemaker:AddTags"
    assert dict(access.context)["aws:ResourceTag/team"] == "ml" and dict(access.context)["aws:RequestTag/a"] == "b"


def test_a_tuner_error_keeps_its_sagemaker_code():
    from botocore.exceptions import ClientError

    class Failing(FakeApi):
        def stop_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "ResourceNotFound", "Message": "no job named x"}}, "Stop")

    api = Failing()
    front = FrontDoor(api=lambda: api, permissions=FakePermissions(), scope=SCOPE, tags_of=lambda arn: None)
    response = front.handle(event("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": "x"}))
    error = parsed(response, "StopHyperParameterTuningJob")["Error"]
    assert (error["Code"], error["Message"]) == ("ResourceNotFound", "no job named x")


def test_iam_permissions_ask_the_simulator_one_request_at_a_time():
    class Iam:
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def get_role(self, RoleName: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter name
            return {"Role": {"Arn": f"arn:aws:iam::{ACCOUNT}:role/path/{RoleName}"}}

        def simulate_principal_policy(self, **params: Any) -> dict[str, Any]:
            self.calls.append(params)
            decision = "implicitDeny" if params["ActionNames"] == ["iam:PassRole"] else "allowed"
            return {"EvaluationResults": [{"EvalDecision": decision}]}

    iam = Iam()
    permissions = IamPermissions(iam)
    principal = permissions.principal(CALLER)
    assert principal == f"arn:aws:iam::{ACCOUNT}:role/path/analyst"
    wanted = [Access("sagemaker:CreateHyperParameterTuningJob", JOB + "j", (("aws:TagKeys", ("a", "b")),)),
              Access("iam:PassRole", ROLE, (("iam:PassedToService", "sagemaker.amazonaws.com"),))]
    assert permissions.refused(principal, wanted) == [wanted[1]]
    assert [c["ContextEntries"] for c in iam.calls] == [context_entries(a.context) for a in wanted]
    assert context_entries((("sagemaker:NetworkIsolation", "false"), ("aws:TagKeys", ("a",)))) == [
        {"ContextKeyName": "sagemaker:NetworkIsolation", "ContextKeyValues": ["false"], "ContextKeyType": "boolean"},
        {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a"], "ContextKeyType": "stringList"},
    ]

