"""The caller-checked front door (docs/security.md, "The front door"), through the offline
deployment: the client's create/stop go to the front door's function URL, signed with the caller's
own credentials; Lambda's IAM authorization (the twin: ``tuner.local.function_urls``) names the
caller, and the front door asks IAM (``SimulatePrincipalPolicy``, answered offline by the IAM twin)
what SageMaker would ask of the same call before it starts anything.

The callers are roles created in moto's IAM and assumed through moto's STS, so the credentials the
client signs with are theirs, as on AWS. Every expectation is IAM's own rule: an explicit Deny wins,
``iam:PassRole`` counts only with ``iam:PassedToService = sagemaker.amazonaws.com``.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tuner import constants
from tuner.client import TunerClient

from tests.builders import ROLE, SCRIPTS, continuous, tuning_request

pytestmark = pytest.mark.e2e

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
TUNE = {"Effect": "Allow", "Action": ["sagemaker:CreateHyperParameterTuningJob"],
        "Resource": "arn:aws:sagemaker:*:*:hyper-parameter-tuning-job/*"}
STOP = {"Effect": "Allow", "Action": ["sagemaker:StopHyperParameterTuningJob"],
        "Resource": "arn:aws:sagemaker:*:*:hyper-parameter-tuning-job/*"}


def pass_role(service: str = "sagemaker.amazonaws.com", role: str = ROLE) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": service}}}


@pytest.fixture(scope="module")
def caller(local_tuner) -> Callable[..., TunerClient]:
    """``caller(name, *statements, user_policy=True)``: a role with these statements (and the
    stack's user policy), assumed through STS: a ``TunerClient`` signing with its session."""
    lt = local_tuner
    iam = lt.session.client("iam")
    sts = lt.session.client("sts")

    def make(name: str, *statements: dict[str, Any], user_policy: bool = True) -> TunerClient:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Path="/teams/")["Role"]
        if user_policy:
            iam.attach_role_policy(RoleName=name, PolicyArn=lt.deployment.outputs[constants.OUTPUT_USER_POLICY_ARN])
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="own", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": list(statements)}))
        credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="e2e")["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"], region_name=lt.region,
        )
        return TunerClient(lt.region, session=session, outputs=lt.deployment.outputs, front_door=True)

    return make


def request(lt, name: str, max_jobs: int = 1) -> dict[str, Any]:
    return lt.prepare(tuning_request(name, source="quick", ranges=continuous(0, 10), max_jobs=max_jobs), SCRIPTS)


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException", err.value.response
    return str(err.value.response["Error"]["Message"])


def nothing_started(lt, name: str) -> None:
    assert lt.service.store.get_job(name) is None
    with pytest.raises(ClientError):
        lt.sfn.describe_execution(executionArn=lt.execution_arn(name))


@pytest.mark.parametrize(
    ("label", "statements", "needs"),
    [
        ("no-pass-role", [TUNE], "iam:PassRole"),
        ("pass-to-ec2", [TUNE, pass_role("ec2.amazonaws.com")], "iam:PassRole"),
        ("other-role", [TUNE, pass_role(role="arn:aws:iam::123456789012:role/Other")], "iam:PassRole"),
        ("no-tune", [pass_role()], "sagemaker:CreateHyperParameterTuningJob"),
    ],
)
def test_a_caller_who_may_not_do_what_amt_checks_is_refused_and_nothing_starts(
    local_tuner, caller, label, statements, needs
):
    lt = local_tuner
    sm = caller(f"e2e-fd-{label}", *statements)
    name = f"fd-refused-{label}"
    message = refused(lambda: sm.create_hyper_parameter_tuning_job(**request(lt, name)))
    assert f"assumed-role/e2e-fd-{label}/e2e" in message and needs in message, message
    nothing_started(lt, name)


def test_a_caller_who_may_tune_and_pass_the_role_starts_the_job_and_may_stop_it(local_tuner, caller):
    lt = local_tuner
    sm = caller("e2e-fd-tuner", TUNE, STOP, pass_role())
    name = "fd-allowed"
    answer = sm.create_hyper_parameter_tuning_job(**request(lt, name, max_jobs=20))
    assert answer["HyperParameterTuningJobArn"].endswith(f"hyper-parameter-tuning-job/{name}")
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    described = lt.wait(name, timeout=120)
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    callers = [arn for arn, status in lt.function_urls.requests if status == 200]
    assert "arn:aws:sts::123456789012:assumed-role/e2e-fd-tuner/e2e" in callers


def test_stopping_needs_the_stop_permission(local_tuner, caller):
    lt = local_tuner
    owner = caller("e2e-fd-owner", TUNE, STOP, pass_role())
    other = caller("e2e-fd-other", TUNE, pass_role())
    name = "fd-stop-checked"
    owner.create_hyper_parameter_tuning_job(**request(lt, name))
    message = refused(lambda: other.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))
    assert "sagemaker:StopHyperParameterTuningJob" in message
    assert lt.wait(name, timeout=120)["HyperParameterTuningJobStatus"] == "Completed"


def test_an_explicit_deny_on_instance_types_holds_as_it_would_for_amt(local_tuner, caller):
    """An account's policy that keeps a team off GPU instances (SageMaker's sagemaker:InstanceTypes
    condition key) keeps it off them in the tuner too; other instance types pass."""
    lt = local_tuner
    no_gpus = {"Effect": "Deny", "Action": "sagemaker:CreateHyperParameterTuningJob", "Resource": "*",
               "Condition": {"ForAnyValue:StringLike": {"sagemaker:InstanceTypes": ["ml.p*", "ml.g*"]}}}
    sm = caller("e2e-fd-no-gpus", TUNE, pass_role(), no_gpus)
    gpu = request(lt, "fd-gpu")
    gpu["TrainingJobDefinition"]["ResourceConfig"]["InstanceType"] = "ml.p3.2xlarge"
    message = refused(lambda: sm.create_hyper_parameter_tuning_job(**gpu))
    assert "sagemaker:InstanceTypes" in message
    nothing_started(lt, "fd-gpu")
    sm.create_hyper_parameter_tuning_job(**request(lt, "fd-cpu"))
    assert lt.wait("fd-cpu", timeout=120)["HyperParameterTuningJobStatus"] == "Completed"


def test_requests_lambda_does_not_authorize_never_reach_the_tuner(local_tuner, caller):
    """Without lambda:InvokeFunctionUrl (no user policy), or signed for SageMaker instead of Lambda,
    the function URL answers 403 before the front door runs."""
    lt = local_tuner
    before = len(lt.lambdas.invocations)
    outsider = caller("e2e-fd-outsider", TUNE, pass_role(), user_policy=False)
    with pytest.raises(ClientError) as err:
        outsider.create_hyper_parameter_tuning_job(**request(lt, "fd-outsider"))
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    plain = lt.session.client("sagemaker", endpoint_url=lt.deployment.outputs[constants.OUTPUT_FRONT_DOOR_URL])
    with pytest.raises(ClientError) as err:
        plain.create_hyper_parameter_tuning_job(**request(lt, "fd-unsigned"))
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    front_door = [fn for fn, _ in lt.lambdas.invocations[before:] if "FrontDoor" in fn]
    assert not front_door
    nothing_started(lt, "fd-outsider")
    nothing_started(lt, "fd-unsigned")


@pytest.mark.parametrize(
    "algorithm",
    ["my-algorithm", "arn:aws:sagemaker:us-west-2:999999999999:algorithm/marketplace-algorithm"],
    ids=["own", "marketplace"],
)
def test_an_algorithm_sagemaker_does_not_have_is_refused_at_the_front_door(local_tuner, caller, algorithm):
    """The front door reads a request's AlgorithmName before it starts anything (DescribeAlgorithm,
    granted for this account's algorithms and Marketplace ARNs), as the client does."""
    lt = local_tuner
    sm = caller(f"e2e-fd-algo-{algorithm.startswith('arn')}", TUNE, pass_role())
    name = f"fd-algo-{algorithm.startswith('arn')}".lower()
    with pytest.raises(ClientError) as err:
        sm.create_hyper_parameter_tuning_job(**tuning_request(name, algorithm_name=algorithm, max_jobs=1))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert algorithm.rsplit("/", 1)[-1] in err.value.response["Error"]["Message"]
    nothing_started(lt, name)
    assert any(a.action == "sagemaker:DescribeAlgorithm" for a in lt.iam.needed_by("front_door"))


def test_a_stop_right_after_the_create_waits_for_the_job_the_execution_is_storing(local_tuner, caller):
    """The job has no record until the state machine's first step stores it. Here that step is held
    back until the stop through the front door has found only the execution (DescribeExecution:
    InProgress); released, it stores the job, and the waiting stop stops it."""
    lt = local_tuner
    sm = caller("e2e-fd-quick-stop", TUNE, STOP, pass_role())
    name = "fd-stop-early"
    release = threading.Event()
    earlier = lt.lambdas.fault

    def hold_the_first_step(function: str, event: Any) -> str | None:
        if function == "create_job" and isinstance(event, dict) and name in json.dumps(event):
            release.wait(60)
        return earlier(function, event) if earlier else None

    lt.lambdas.fault = hold_the_first_step
    try:
        sm.create_hyper_parameter_tuning_job(**request(lt, name, max_jobs=20))
        stopping = threading.Thread(target=sm.stop_hyper_parameter_tuning_job,
                                    kwargs={"HyperParameterTuningJobName": name})
        stopping.start()
        deadline = time.monotonic() + 30
        while not any(a.action == "states:DescribeExecution" for a in lt.iam.needed_by("front_door")):
            assert time.monotonic() < deadline, "the stop never looked at the execution"
            time.sleep(0.1)
        assert lt.service.store.get_job(name) is None  # still held back
    finally:
        release.set()
        lt.lambdas.fault = earlier
    stopping.join(60)
    assert lt.wait(name, timeout=120)["HyperParameterTuningJobStatus"] == "Stopped"
