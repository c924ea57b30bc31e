"""The one best-model deployment, on fakes: what tuner deploy and a family's AutoDeploy create."""
from __future__ import annotations

import pytest
from tuner.errors import ValidationError
from tuner.service.deploy import BestModelDeployment

from tests.fakes import FakeHosting

TRAINING = {
    "TrainingJobName": "job-002-0000abcd",
    "TrainingJobStatus": "Completed",
    "AlgorithmSpecification": {"TrainingImage": "img:1"},
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"},
    "RoleArn": "arn:aws:iam::123456789012:role/R",
    "HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": '"s3://b/src.tar.gz"'},
    "ResourceConfig": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1},
}


def _describe(best: bool = True):
    def describe(name: str) -> dict:
        out = {"HyperParameterTuningJobName": name, "HyperParameterTuningJobStatus": "Completed"}
        if best:
            out["BestTrainingJob"] = {
                "TrainingJobName": TRAINING["TrainingJobName"],
                "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "loss", "Value": 0.1, "Type": "Minimize"},
            }
        return out

    return describe


def test_first_deployment_creates_the_endpoint_with_the_sdk_environment():
    hosting = FakeHosting({TRAINING["TrainingJobName"]: TRAINING})
    out = BestModelDeployment(_describe(), hosting).deploy("job", "live")
    assert hosting.calls == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    model = hosting.models["job-002-0000abcd"]
    assert model["PrimaryContainer"]["Environment"] == {
        "SAGEMAKER_PROGRAM": "train.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/src.tar.gz",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": "us-east-1",
    }
    assert model["ExecutionRoleArn"] == TRAINING["RoleArn"]
    assert out["InstanceType"] == "ml.c5.xlarge" and out["Updated"] is False
    assert hosting.endpoints == {"live": out["EndpointConfigName"]}


def test_a_second_deployment_updates_the_endpoint_to_a_new_configuration():
    hosting = FakeHosting({TRAINING["TrainingJobName"]: TRAINING})
    hosting.endpoints["live"] = "older-config"
    out = BestModelDeployment(_describe(), hosting).deploy("job", "live", role_arn="arn:aws:iam::1:role/Serve")
    assert hosting.calls[-1] == "UpdateEndpoint" and out["Updated"] is True
    assert hosting.endpoints["live"] == out["EndpointConfigName"] != "older-config"
    assert hosting.models[out["ModelName"]]["ExecutionRoleArn"] == "arn:aws:iam::1:role/Serve"


def test_a_job_without_a_best_training_job_is_refused_before_anything_is_created():
    hosting = FakeHosting()
    with pytest.raises(ValidationError, match="no best training job yet"):
        BestModelDeployment(_describe(best=False), hosting).deploy("job", "live")
    assert hosting.calls == []
