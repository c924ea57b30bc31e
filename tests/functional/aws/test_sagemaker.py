"""SageMakerBackend: CreateTrainingJob (idempotent by name), DescribeTrainingJob, StopTrainingJob,
which SageMaker errors are transient (the state machine retries ``TransientBackendError``), and an
account quota's ``ResourceLimitExceeded`` parsed into ``ResourceLimitExceededError``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tuner.aws.sagemaker import SageMakerBackend
from tuner.errors import ResourceLimitExceededError, TransientBackendError

NAME = "job-001-abc"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{NAME}"


def _request(name: str = NAME) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "HyperParameters": {"eta": "0.1", "max_depth": "5"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def _description(status: str = "InProgress") -> dict[str, Any]:
    return {
        "TrainingJobName": NAME,
        "TrainingJobArn": ARN,
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket/out/{NAME}/output/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    }


# ---- start ---------------------------------------------------------------------------------------
def test_start_sends_the_request_as_given_and_returns_true(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_response("create_training_job", {"TrainingJobArn": ARN}, _request())
    assert SageMakerBackend(client).start(_request()) is True


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # what SageMaker answers for a name in use
        (
            "ResourceInUse",
            "Training job names must be unique within an AWS account and region, and a training job "
            f"with this name already exists ({ARN})",
        ),
        ("ValidationException", "Training job names must be unique within an AWS account and region"),
    ],
)
def test_start_of_an_existing_name_returns_false(stubbed, code: str, message: str) -> None:
    """A retried start (the job was created, the answer lost) is not an error."""
    client, stub = stubbed("sagemaker")
    stub.add_client_error("create_training_job", code, message, expected_params=_request())
    assert SageMakerBackend(client).start(_request()) is False


@pytest.mark.parametrize("code", ["ThrottlingException", "ServiceUnavailable", "InternalFailure"])
def test_start_throttled_is_transient(stubbed, code: str) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("create_training_job", code, "Rate exceeded", expected_params=_request())
    with pytest.raises(TransientBackendError) as info:
        SageMakerBackend(client).start(_request())
    assert NAME in str(info.value) and code in str(info.value)
    assert isinstance(info.value.__cause__, ClientError)


# SageMaker's ResourceLimitExceeded messages, as published (docs/capacity.md, "Sources").
QUOTA_MESSAGES = [
    (  # today's wording (the AWS documentation's sample, for a training job's quota)
        "The account-level service limit 'ml.m5.xlarge for training job usage' is 2 Instances, with current "
        "utilization of 2 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request "
        "an increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an "
        "increase for this quota.",
        ("ml.m5.xlarge for training job usage", 2, 2, 1),
    ),
    (  # aws/amazon-sagemaker-examples#1543: CreateTrainingJob of a tuning notebook, utilization over the limit
        "The account-level service limit 'ml.p3.8xlarge for training job usage' is 2 Instances, with current "
        "utilization of 3 Instances and a request delta of 1 Instances. Please contact AWS support to request an "
        "increase for this limit.",
        ("ml.p3.8xlarge for training job usage", 2, 3, 1),
    ),
    (  # data-science-on-aws/data-science-on-aws#200: CreateTrainingJob refused by a quota of every type
        "The account-level service limit 'Number of instances across all processing jobs' is 4 Instances, with "
        "current utilization of 0 Instances and a request delta of 11 Instances. Please contact AWS support to "
        "request an increase for this limit.",
        ("Number of instances across all processing jobs", 4, 0, 11),
    ),
    (  # aws/sagemaker-python-sdk#35: the wording before quotas had names
        "The account-level service limit for training-job/ml.p2.xlarge is 0 Instances, with current utilization "
        "of 0 Instances and a request delta of 2 Instances. Please contact AWS support to request an increase for "
        "this limit.",
        ("training-job/ml.p2.xlarge", 0, 0, 2),
    ),
    (  # aws/amazon-sagemaker-examples#1001: no numbers to parse
        "The requested resource training-job/ml.p2.xlarge is not available in this region",
        (None, None, None, None),
    ),
]


@pytest.mark.parametrize(("message", "parsed"), QUOTA_MESSAGES, ids=["today", "over", "total", "old", "region"])
def test_start_over_a_quota_raises_the_quota_and_its_numbers(stubbed, message: str, parsed: tuple) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("create_training_job", "ResourceLimitExceeded", message, expected_params=_request())
    stub.add_client_error(  # not a retried start: no job of that name exists
        "describe_training_job", "ValidationException", "Requested resource not found.",
        expected_params={"TrainingJobName": NAME},
    )
    with pytest.raises(ResourceLimitExceededError) as info:
        SageMakerBackend(client).start(_request())
    err = info.value
    assert (err.quota, err.limit, err.utilization, err.delta) == parsed
    assert err.sagemaker_message == message
    assert str(err) == f"CreateTrainingJob {NAME}: ResourceLimitExceeded: {message}"
    assert err.code == "ResourceLimitExceeded" and not isinstance(err, TransientBackendError)
    assert isinstance(err.__cause__, ClientError)


def test_a_retried_start_refused_by_the_quota_its_own_job_holds_is_a_retried_start(stubbed) -> None:
    """The first try created the job and its answer was lost; the job now holds the last instance, so
    SageMaker may refuse the second try for the quota rather than for the name."""
    client, stub = stubbed("sagemaker")
    stub.add_client_error("create_training_job", "ResourceLimitExceeded", QUOTA_MESSAGES[0][0])
    stub.add_response("describe_training_job", _description(), {"TrainingJobName": NAME})
    assert SageMakerBackend(client).start(_request()) is False


def test_a_start_refused_by_the_quota_is_no_retried_start_when_describe_is_denied(stubbed) -> None:
    """The grants let the tuner describe only the jobs tagged with its deployment: a name that no job
    of it has (none at all) is refused with AccessDenied, as IAM evaluates aws:ResourceTag without tags."""
    client, stub = stubbed("sagemaker")
    stub.add_client_error("create_training_job", "ResourceLimitExceeded", QUOTA_MESSAGES[0][0])
    stub.add_client_error("describe_training_job", "AccessDeniedException",
                          "not authorized to perform: sagemaker:DescribeTrainingJob",
                          expected_params={"TrainingJobName": NAME})
    with pytest.raises(ResourceLimitExceededError):
        SageMakerBackend(client).start(_request())


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "1 validation error detected: Value 'ml.nope' at 'resourceConfig.instanceType'"),
        ("AccessDeniedException", "not authorized to perform: sagemaker:CreateTrainingJob"),
    ],
)
def test_start_other_errors_are_raised_as_they_are(stubbed, code: str, message: str) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("create_training_job", code, message, expected_params=_request())
    with pytest.raises(ClientError) as info:
        SageMakerBackend(client).start(_request())
    assert not isinstance(info.value, TransientBackendError)
    assert info.value.response["Error"]["Code"] == code


# ---- describe ------------------------------------------------------------------------------------
def test_describe_returns_the_description(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_response("describe_training_job", _description("Completed"), {"TrainingJobName": NAME})
    got = SageMakerBackend(client).describe(NAME)
    assert got is not None
    assert {k: got[k] for k in _description()} == _description("Completed")


@pytest.mark.parametrize(
    ("code", "message"),
    [("ValidationException", "Requested resource not found."), ("ResourceNotFound", "no such training job")],
)
def test_describe_of_an_unknown_job_is_none(stubbed, code: str, message: str) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("describe_training_job", code, message, expected_params={"TrainingJobName": NAME})
    assert SageMakerBackend(client).describe(NAME) is None


def test_describe_throttled_is_transient(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("describe_training_job", "ThrottlingException", "Rate exceeded")
    with pytest.raises(TransientBackendError) as info:
        SageMakerBackend(client).describe(NAME)
    assert isinstance(info.value.__cause__, ClientError)


def test_describe_other_errors_are_raised(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("describe_training_job", "AccessDeniedException", "no", http_status_code=403)
    with pytest.raises(ClientError) as info:
        SageMakerBackend(client).describe(NAME)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"


# ---- stop ----------------------------------------------------------------------------------------
def test_stop_stops_the_job(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_response("stop_training_job", {}, {"TrainingJobName": NAME})
    assert SageMakerBackend(client).stop(NAME) is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "Requested resource not found."),  # unknown job
        ("ValidationException", "The request was rejected because the training job is in status Completed."),
        ("ResourceNotFound", "no such training job"),
    ],
)
def test_stop_of_an_unknown_or_ended_job_is_ignored(stubbed, code: str, message: str) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("stop_training_job", code, message, expected_params={"TrainingJobName": NAME})
    SageMakerBackend(client).stop(NAME)


def test_stop_other_errors_are_raised(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("stop_training_job", "AccessDeniedException", "no", http_status_code=403)
    with pytest.raises(ClientError):
        SageMakerBackend(client).stop(NAME)


def test_stop_throttled_is_transient(stubbed) -> None:
    """Like start and describe, a throttled StopTrainingJob is a TransientBackendError, which the
    state machine retries (a raw ClientError would fail the step, and stop the loop over the
    running trials in ``stop_running`` partway)."""
    client, stub = stubbed("sagemaker")
    stub.add_client_error("stop_training_job", "ThrottlingException", "Rate exceeded")
    with pytest.raises(TransientBackendError):
        SageMakerBackend(client).stop(NAME)
