"""The offline IAM twin (tuner/local/iam.py): policy evaluation as IAM documents it, the IAM
requests of every call the tuner's adapters make (their operations read from the adapters' code,
their parameters built from botocore's input shapes), and enforcement on boto3 calls inside moto."""
from __future__ import annotations

import json
import re

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from tuner import constants
from tuner.local.iam import (
    Access,
    IamTwin,
    Policy,
    Principal,
    Scope,
    UnmodelledCallError,
    accesses,
    distributed_map_labels,
)

from tests.imports import PACKAGE_DIR

SCOPE = Scope("us-east-1", "123456789012", map_labels={
    "arn:aws:states:us-east-1:123456789012:stateMachine:Tuner": ("Laps",)
})
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/T"


def policy(*statements: dict) -> Policy:
    return Policy.of({"p": {"Version": "2012-10-17", "Statement": list(statements)}})


# ---- evaluation --------------------------------------------------------------------------------
def test_wildcards_span_colons_and_slashes_actions_ignore_case_resources_do_not():
    p = policy({"Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": "arn:aws:dynamodb:*:table/T*"})
    assert p.allows(Access("dynamodb:GetItem", TABLE))
    assert p.allows(Access("dynamodb:GetItem", TABLE + "/index/by-kind"))
    assert not p.allows(Access("dynamodb:GetItem", TABLE.replace("/T", "/t")))
    assert not p.allows(Access("dynamodb:PutItem", TABLE))
    one = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/?"})
    assert one.allows(Access("s3:GetObject", "arn:aws:s3:::b/k"))
    assert not one.allows(Access("s3:GetObject", "arn:aws:s3:::b/kk"))


def test_nothing_is_allowed_by_default_and_an_explicit_deny_wins():
    assert not policy().allows(Access("dynamodb:GetItem", TABLE))
    p = policy(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert p.allows(Access("dynamodb:GetItem", TABLE)) and not p.allows(Access("dynamodb:DeleteItem", TABLE))


def test_not_action_and_not_resource():
    p = policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": TABLE})
    assert p.allows(Access("dynamodb:GetItem", TABLE + "2"))
    assert not p.allows(Access("dynamodb:GetItem", TABLE))
    assert not p.allows(Access("iam:PassRole", "arn:aws:iam::123456789012:role/R"))


def test_pass_role_only_to_the_service_the_condition_names():
    p = policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/*SageMaker*",
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}})
    role = "arn:aws:iam::123456789012:role/MySageMakerRole"
    assert p.allows(Access("iam:PassRole", role, (("iam:PassedToService", "sagemaker.amazonaws.com"),)))
    assert not p.allows(Access("iam:PassRole", role, (("iam:PassedToService", "lambda.amazonaws.com"),)))
    assert not p.allows(Access("iam:PassRole", role))  # the key absent: StringEquals does not match
    exists = policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                     "Condition": {"StringEqualsIfExists": {"iam:PassedToService": "sagemaker.amazonaws.com"}}})
    assert exists.allows(Access("iam:PassRole", role))


def test_an_operator_the_twin_cannot_evaluate_is_refused_not_ignored():
    p = policy({"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}})
    with pytest.raises(UnmodelledCallError, match="DateGreaterThan"):
        p.allows(Access("dynamodb:GetItem", TABLE))


# ---- tags (docs/security.md, "Least privilege by tags") -------------------------------------------
JOBS = "arn:aws:sagemaker:us-east-1:123456789012:training-job/*"
TAG = constants.DEPLOYMENT_TAG
CREATE = {"TrainingJobName": "Job-001", "RoleArn": "arn:aws:iam::123456789012:role/R"}


def tag_scoped() -> Policy:
    """The shape of the tuner's grants: create and tag-on-create with the tag in the request, watch
    jobs carrying it (the template's own statements are evaluated in tests/infra/test_tag_scope.py)."""
    return policy(
        {"Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": JOBS,
         "Condition": {"StringEquals": {f"aws:RequestTag/{TAG}": "T"}}},
        {"Effect": "Allow", "Action": "sagemaker:AddTags", "Resource": JOBS,
         "Condition": {"StringEquals": {f"aws:RequestTag/{TAG}": "T", "sagemaker:TaggingAction": "CreateTrainingJob"}}},
        {"Effect": "Allow", "Action": ["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"], "Resource": JOBS,
         "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG}": "T"}}},
    )


def sm_allowed(p: Policy, op: str, params: dict, tags_now: dict | None = None) -> bool:
    lookup = None if tags_now is None else (lambda arn: tags_now)
    return all(p.allows(a) for a in accesses("sagemaker", op, params, SCOPE, resource_tags=lookup)
               if a.action.startswith("sagemaker:"))


@pytest.mark.parametrize(("tags", "allowed"), [
    ([{"Key": TAG, "Value": "T"}], True),
    ([{"Key": "team", "Value": "a"}, {"Key": TAG, "Value": "T"}], True),
    ([{"Key": TAG, "Value": "another-team"}], False),
    ([{"Key": "team", "Value": "a"}], False),
    ([], False),
])
def test_a_create_is_allowed_only_with_the_deployment_tag_in_its_request(tags, allowed):
    assert sm_allowed(tag_scoped(), "CreateTrainingJob", {**CREATE, "Tags": tags}) is allowed


def test_add_tags_outside_a_create_cannot_claim_another_team_s_job():
    job = "arn:aws:sagemaker:us-east-1:123456789012:training-job/theirs"
    assert not sm_allowed(tag_scoped(), "AddTags", {"ResourceArn": job, "Tags": [{"Key": TAG, "Value": "T"}]}, {})


@pytest.mark.parametrize("op", ["DescribeTrainingJob", "StopTrainingJob"])
def test_a_job_is_watched_only_with_the_deployment_tag_it_carries_now(op):
    asked: list[str] = []

    def tags_of(arn: str) -> dict:
        asked.append(arn)
        return {"team": "a", TAG: "T"} if arn.endswith("/mine-001") else {TAG: "another-team"}

    p = tag_scoped()
    for name, allowed in (("Mine-001", True), ("theirs-001", False)):
        needed = accesses("sagemaker", op, {"TrainingJobName": name}, SCOPE, resource_tags=tags_of)
        assert all(p.allows(a) for a in needed) is allowed
    assert asked == [f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{n}" for n in ("mine-001", "theirs-001")]
    # a job without tags, one that does not exist ({}), and no way to read tags: refused (fail closed)
    assert not sm_allowed(p, op, {"TrainingJobName": "untagged"}, {})
    assert not sm_allowed(p, op, {"TrainingJobName": "mine-001"})


def test_tag_keys_in_condition_keys_ignore_case():
    p = policy({"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob", "sagemaker:AddTags"], "Resource": JOBS,
                "Condition": {"StringEquals": {"aws:RequestTag/Tuner:Deployment": "T"}}})
    assert sm_allowed(p, "CreateTrainingJob", {**CREATE, "Tags": [{"Key": TAG, "Value": "T"}]})
    assert not sm_allowed(p, "CreateTrainingJob", {**CREATE, "Tags": [{"Key": TAG, "Value": "t"}]})


def test_multivalued_keys_need_a_set_operator():
    def create(*keys: str) -> Access:
        return accesses("sagemaker", "CreateTrainingJob",
                        {**CREATE, "Tags": [{"Key": k, "Value": "v"} for k in keys]}, SCOPE)[0]

    def allows(operator: str, *keys: str) -> bool:
        return policy({"Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": JOBS,
                       "Condition": {operator: {"aws:TagKeys": ["team", TAG]}}}).allows(create(*keys))

    assert allows("ForAllValues:StringEquals", "team", TAG) and allows("ForAllValues:StringEquals")
    assert not allows("ForAllValues:StringEquals", "team", "other")
    assert allows("ForAnyValue:StringEquals", "other", TAG) and not allows("ForAnyValue:StringEquals", "other")
    assert not allows("ForAnyValue:StringEquals")  # no key at all: no value matches
    assert allows("ForAllValues:StringNotEquals", "other") and not allows("ForAllValues:StringNotEquals", "team")
    with pytest.raises(UnmodelledCallError, match="multivalued key aws:TagKeys"):
        allows("StringEquals", "team")
    absent = policy({"Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": JOBS,
                     "Condition": {"Null": {"aws:TagKeys": "true"}}})
    assert absent.allows(create()) and not absent.allows(create("team"))


class _Tags:
    """A SageMaker client's ListTags, paged two tags at a time; None: the job does not exist."""

    def __init__(self, tags: dict | None) -> None:
        self.tags, self.calls = tags, []

    def list_tags(self, ResourceArn: str, NextToken: str | None = None) -> dict:  # noqa: N803 - boto3's names
        self.calls.append((ResourceArn, NextToken))
        if self.tags is None:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Could not find"}}, "ListTags")
        items = [{"Key": k, "Value": v} for k, v in self.tags.items()]
        start = int(NextToken or 0)
        page = {"Tags": items[start:start + 2]}
        if start + 2 < len(items):
            page["NextToken"] = str(start + 2)
        return page


def test_the_twin_reads_a_job_s_current_tags_every_time_through_list_tags():
    reader = _Tags({"a": "1", "b": "2", TAG: "T"})
    twin = IamTwin(SCOPE, iam_client=None, sagemaker_client=reader)
    job = "arn:aws:sagemaker:us-east-1:123456789012:training-job/j"
    assert twin.resource_tags(job) == {"a": "1", "b": "2", TAG: "T"}  # every page
    reader.tags = {TAG: "another-team"}  # retagged: the next call sees it
    assert twin.resource_tags(job) == {TAG: "another-team"}
    assert [c[0] for c in reader.calls] == [job] * 3
    assert IamTwin(SCOPE, iam_client=None, sagemaker_client=_Tags(None)).resource_tags(job) is None  # no such job
    assert IamTwin(SCOPE, iam_client=None).resource_tags(job) == {}  # no client to read them with
    # without a client of its own the twin reads through the caller's
    assert IamTwin(SCOPE, iam_client=None).resource_tags(job, client=_Tags({TAG: "T"})) == {TAG: "T"}


# ---- the IAM requests of a call ------------------------------------------------------------------
ATTRIBUTES = {"ddb": "dynamodb", "sm": "sagemaker", "sfn": "stepfunctions", "logs": "logs", "events": "events"}


def adapter_calls() -> list[tuple[str, str]]:
    """(boto3 service, API operation) of every client method the adapters in tuner/aws call."""
    session = botocore.session.get_session()
    found = set()
    for path in sorted((PACKAGE_DIR / "aws").glob("*.py")):
        for attribute, method in re.findall(r"\b(ddb|sm|sfn|logs|events)\.([a-z_]+)\(", path.read_text()):
            service = ATTRIBUTES[attribute]
            mapping = {
                re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower(): op
                for op in session.get_service_model(service).operation_names
            }
            if method in mapping:
                found.add((service, mapping[method]))
    return sorted(found)


def example(shape, name: str = ""):
    """The required members of ``shape`` filled with placeholders (botocore's input shape); a
    member named ``...Arn`` gets an ARN."""
    if shape.type_name == "structure":
        return {m: example(shape.members[m], m) for m in shape.required_members}
    if shape.type_name == "list":
        return [example(shape.member, name)]
    if shape.type_name == "map":
        return {}
    if shape.type_name in ("integer", "long", "float", "double"):
        return 1
    if shape.type_name == "boolean":
        return True
    if name.lower().endswith("arn"):
        if "role" in name.lower():
            return "arn:aws:iam::123456789012:role/name-1"
        return f"arn:aws:x:us-east-1:123456789012:{name}"
    return "name-1"


# What the adapters pass beyond the required members (the log group is optional in the API).
EXTRA = {"DescribeLogStreams": {"logGroupName": "/aws/sagemaker/TrainingJobs"},
         "GetLogEvents": {"logGroupName": "/aws/sagemaker/TrainingJobs"}}


def test_the_adapters_calls_are_read_from_their_code():
    calls = adapter_calls()
    assert ("sagemaker", "CreateTrainingJob") in calls and ("dynamodb", "TransactWriteItems") in calls
    assert len(calls) >= 15


@pytest.mark.parametrize(("service", "operation"), adapter_calls())
def test_every_call_the_adapters_make_is_modelled(service, operation):
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    params = {**example(model.input_shape), **EXTRA.get(operation, {})}
    if operation == "TransactWriteItems":
        params = {"TransactItems": [{"Update": {"TableName": "T"}}, {"Put": {"TableName": "T"}},
                                    {"ConditionCheck": {"TableName": "T"}}]}
    needed = accesses(service, operation, params, SCOPE)
    assert needed, f"{service}:{operation} needs no permission?"
    for access in needed:
        prefix = access.action.split(":")[0]
        assert prefix in {"dynamodb", "sagemaker", "states", "logs", "events", "iam"}
        assert access.resource.startswith("arn:aws:"), access


def test_a_transaction_needs_each_items_action_on_its_table():
    items = [{"Update": {"TableName": "T"}}, {"Put": {"TableName": "T"}}, {"ConditionCheck": {"TableName": "T"}},
             {"Delete": {"TableName": "U"}}]
    assert accesses("dynamodb", "TransactWriteItems", {"TransactItems": items}, SCOPE) == [
        Access("dynamodb:UpdateItem", TABLE), Access("dynamodb:PutItem", TABLE),
        Access("dynamodb:ConditionCheckItem", TABLE), Access("dynamodb:DeleteItem", TABLE.replace("/T", "/U")),
    ]


def test_create_training_job_passes_its_role_and_tags_it():
    params = {"TrainingJobName": "Job-001", "RoleArn": "arn:aws:iam::123456789012:role/R",
              "Tags": [{"Key": "k", "Value": "v"}, {"Key": "team", "Value": "a"}]}
    job = "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-001"
    tags = (("aws:RequestTag/k", "v"), ("aws:RequestTag/team", "a"), ("aws:TagKeys", ("k", "team")))
    assert accesses("sagemaker", "CreateTrainingJob", params, SCOPE) == [
        Access("sagemaker:CreateTrainingJob", job, tags),
        Access("iam:PassRole", params["RoleArn"], (("iam:PassedToService", "sagemaker.amazonaws.com"),)),
        Access("sagemaker:AddTags", job, (*tags, ("sagemaker:TaggingAction", "CreateTrainingJob"))),
    ]
    assert accesses("sagemaker", "CreateTrainingJob", {**params, "Tags": []}, SCOPE) == [
        Access("sagemaker:CreateTrainingJob", job),
        Access("iam:PassRole", params["RoleArn"], (("iam:PassedToService", "sagemaker.amazonaws.com"),)),
    ]


def test_a_task_token_needs_the_parent_and_the_laps_state_machine():
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Tuner"
    assert accesses("stepfunctions", "SendTaskSuccess", {"taskToken": "t", "output": "{}"}, SCOPE) == [
        Access("states:SendTaskSuccess", machine), Access("states:SendTaskSuccess", f"{machine}/Laps"),
    ]


def test_distributed_map_labels_are_read_from_the_definition():
    definition = {"States": {"Run": {"Type": "Map", "Label": "Laps", "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "States": {
            "Inner": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "States": {}}}}}},
        "Inline": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "States": {}}}}}
    assert distributed_map_labels(definition) == ("Laps", "Inner")


def test_lambda_names_in_every_form_become_the_function_arn():
    fn = "arn:aws:lambda:us-east-1:123456789012:function:F"
    for name in ("F", fn, "123456789012:function:F"):
        assert accesses("lambda", "Invoke", {"FunctionName": name}, SCOPE) == [Access("lambda:InvokeFunction", fn)]
    assert accesses("lambda", "Invoke", {"FunctionName": "F", "Qualifier": "live"}, SCOPE) == [
        Access("lambda:InvokeFunction", fn + ":live")
    ]


def test_an_unknown_call_is_refused_with_what_to_model():
    with pytest.raises(UnmodelledCallError, match="s3:GetObject"):
        accesses("s3", "GetObject", {"Bucket": "b", "Key": "k"}, SCOPE)
    with pytest.raises(UnmodelledCallError, match="sagemaker:ListTrainingJobs"):
        accesses("sagemaker", "ListTrainingJobs", {}, SCOPE)


# ---- enforcement on boto3 calls ---------------------------------------------------------------------
@pytest.fixture()
def aws(monkeypatch):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(k, "testing")
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        iam = session.client("iam")
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        iam.put_role_policy(RoleName="fn-role", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}],
        }))
        ddb = session.client("dynamodb")
        ddb.create_table(TableName="T", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        twin = IamTwin(SCOPE, iam).install()
        try:
            yield twin, ddb, role
        finally:
            twin.uninstall()


def test_a_call_the_role_does_not_allow_is_refused_as_aws_refuses_it(aws):
    twin, ddb, role = aws
    key = {"pk": {"S": "a"}}
    with twin.acting_as("next_trial", role):
        ddb.get_item(TableName="T", Key=key)
        with pytest.raises(ClientError) as refused:
            ddb.put_item(TableName="T", Item=key)
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    expected = "assumed-role/fn-role/next_trial is not authorized to perform: dynamodb:PutItem on resource: "
    assert expected + TABLE in error["Message"]
    assert [(d.principal.name, d.access.action) for d in twin.denials] == [("next_trial", "dynamodb:PutItem")]
    assert twin.needed_by("next_trial") == {Access("dynamodb:GetItem", TABLE)}
    ddb.put_item(TableName="T", Item=key)  # nobody's call (the user's, the harness's): not evaluated
    assert len(twin.denials) == 1


def test_record_mode_records_without_refusing(aws):
    twin, ddb, role = aws
    twin.mode = "record"
    with twin.acting_as("finalize", role):
        ddb.put_item(TableName="T", Item={"pk": {"S": "b"}})
    assert [d.access.action for d in twin.denials] == ["dynamodb:PutItem"]
    with twin.expect_denials() as taken:
        with twin.acting_as("finalize", role):
            ddb.delete_item(TableName="T", Key={"pk": {"S": "b"}})
    assert [d.access.action for d in taken] == ["dynamodb:DeleteItem"] and len(twin.denials) == 1


def test_a_refusal_on_a_job_that_does_not_exist_is_no_missing_grant(aws):
    """AWS refuses it (no tags to match) and so does the twin; but a caller may rely on that refusal
    (is there a job of ours by this name?), so it is kept apart from the denials that fail a run."""
    twin, _, role = aws
    iam = boto3.client("iam", region_name="us-east-1")
    iam.put_role_policy(RoleName="fn-role", PolicyName="watch", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sagemaker:DescribeTrainingJob", "Resource": JOBS,
             "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG}": "T"}}}]}))
    twin.reload()
    jobs = {"ours": {TAG: "T"}, "theirs": {"team": "b"}}

    class Reader:
        def list_tags(self, ResourceArn: str) -> dict:  # noqa: N803 - boto3's names
            name = ResourceArn.rsplit("/", 1)[1]
            if name not in jobs:
                raise ClientError({"Error": {"Code": "ValidationException", "Message": "Could not find"}}, "ListTags")
            return {"Tags": [{"Key": k, "Value": v} for k, v in jobs[name].items()]}

    principal = Principal("sweeper", role)
    for name, refused in (("ours", False), ("theirs", True), ("gone", True)):
        denials = twin.check(principal, "sagemaker", "DescribeTrainingJob", {"TrainingJobName": name}, Reader())
        assert bool(denials) is refused, name
    assert [d.access.resource.rsplit("/", 1)[1] for d in twin.denials] == ["theirs"]  # a grant would be missing
    assert [d.access.resource.rsplit("/", 1)[1] for d in twin.absent] == ["gone"]
    assert "does not exist" in str(twin.absent[0])
