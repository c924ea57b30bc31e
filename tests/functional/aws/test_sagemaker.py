"""SageMakerBackend: CreateTrainingJob (idempotent by name), DescribeTrainingJob, StopTrainingJob, and
which SageMaker errors are transient (the state machine retries ``TransientBackendError``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tuner.aws.sagemaker import SageMakerBackend
from tuner.errors import TransientBackendError

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


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ResourceLimitExceeded", "ServiceUnavailable", "InternalFailure"]
)
def test_start_throttled_or_over_a_limit_is_transient(stubbed, code: str) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("create_training_job", code, "Rate exceeded", expected_params=_request())
    with pytest.raises(TransientBackendError) as info:
        SageMakerBackend(client).start(_request())
    assert NAME in str(info.value) and code in str(info.value)
    assert isinstance(info.value.__cause__, ClientError)


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
