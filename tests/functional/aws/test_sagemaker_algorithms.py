"""SageMakerBackend.describe_algorithm: DescribeAlgorithm's answer (its shape checked by botocore's
Stubber), None for an algorithm SageMaker does not have, and throttling as a transient error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tuner.aws.sagemaker import SageMakerBackend
from tuner.errors import TransientBackendError

ARN = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/my-algo"
DESCRIBED = {
    "AlgorithmName": "my-algo",
    "AlgorithmArn": ARN,
    "CreationTime": datetime(2024, 1, 2, tzinfo=UTC),
    "AlgorithmStatus": "Completed",
    "AlgorithmStatusDetails": {},
    "TrainingSpecification": {
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo:1",
        "SupportedTrainingInstanceTypes": ["ml.m5.large"],
        "TrainingChannels": [{"Name": "train", "SupportedContentTypes": ["text/csv"],
                              "SupportedInputModes": ["File"]}],
        "MetricDefinitions": [{"Name": "validation:f1", "Regex": "f1=([0-9.]+)"}],
        "SupportedTuningJobObjectiveMetrics": [{"Type": "Maximize", "MetricName": "validation:f1"}],
    },
}


def test_describe_algorithm_returns_the_training_specification(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_response("describe_algorithm", DESCRIBED, {"AlgorithmName": ARN})
    described = SageMakerBackend(client).describe_algorithm(ARN)
    assert described is not None
    assert described["TrainingSpecification"]["SupportedTuningJobObjectiveMetrics"][0]["MetricName"] == "validation:f1"


def test_an_algorithm_sagemaker_does_not_have_is_none(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("describe_algorithm", "ValidationException", "Could not find algorithm nope",
                          expected_params={"AlgorithmName": "nope"})
    assert SageMakerBackend(client).describe_algorithm("nope") is None


def test_throttling_is_transient(stubbed) -> None:
    client, stub = stubbed("sagemaker")
    stub.add_client_error("describe_algorithm", "ThrottlingException", "Rate exceeded",
                          expected_params={"AlgorithmName": "my-algo"})
    with pytest.raises(TransientBackendError, match="DescribeAlgorithm my-algo"):
        SageMakerBackend(client).describe_algorithm("my-algo")
