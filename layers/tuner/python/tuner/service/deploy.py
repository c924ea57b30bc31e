"""Deploying a tuning job's best model: SageMaker model, endpoint configuration, endpoint (once).

Used by ``tuner deploy`` / ``tuner.deploy_model.deploy_best`` and by a tuning family's
``AutoDeploy``. The model uses the best training job's image
(``AlgorithmSpecification.TrainingImage``), its artifacts (``ModelArtifacts.S3ModelArtifacts``)
and its execution role (or the one given); a script-mode job's ``sagemaker_program`` /
``sagemaker_submit_directory`` become the container's ``SAGEMAKER_PROGRAM`` /
``SAGEMAKER_SUBMIT_DIRECTORY``, with ``SAGEMAKER_CONTAINER_LOG_LEVEL`` and ``SAGEMAKER_REGION``,
as the SageMaker Python SDK's framework models set them.

The endpoint configuration is named after the model (one per best training job), so deploying a
new best to an existing endpoint is an ``UpdateEndpoint`` to a new configuration; an endpoint that
does not exist yet is created.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from tuner.errors import ValidationError
from tuner.service.ports import ModelHosting

MAX_MODEL_NAME = 63
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
_SCRIPT_MODE = (
    ("sagemaker_program", "SAGEMAKER_PROGRAM"),
    ("sagemaker_submit_directory", "SAGEMAKER_SUBMIT_DIRECTORY"),
)
_LOG_LEVEL_INFO = "20"


def _hyperparameter(value: Any) -> str:
    """Hyperparameters written by the SDK are JSON-encoded strings ('"train.py"')."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return decoded if isinstance(decoded, str) else str(value)


def container_environment(hyperparameters: Mapping[str, Any], region: str | None) -> dict[str, str]:
    """Script-mode containers serve with the same program and sources they trained with."""
    env = {
        name: _hyperparameter(hyperparameters[key]) for key, name in _SCRIPT_MODE if key in hyperparameters
    }
    if env:
        env["SAGEMAKER_CONTAINER_LOG_LEVEL"] = _LOG_LEVEL_INFO
        if region:
            env["SAGEMAKER_REGION"] = region
    return env


def model_request(
    training_job: Mapping[str, Any], model_name: str, region: str | None = None, role_arn: str | None = None
) -> dict[str, Any]:
    """The CreateModel request for a finished training job (DescribeTrainingJob's answer)."""
    artifacts = (training_job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if not artifacts:
        raise ValidationError(
            f"training job {training_job['TrainingJobName']} has no model artifacts "
            f"(status {training_job.get('TrainingJobStatus')}); only a finished job's model can be deployed"
        )
    container: dict[str, Any] = {
        "Image": training_job["AlgorithmSpecification"]["TrainingImage"],
        "ModelDataUrl": artifacts,
    }
    env = container_environment(training_job.get("HyperParameters") or {}, region)
    if env:
        container["Environment"] = env
    return {
        "ModelName": model_name,
        "PrimaryContainer": container,
        "ExecutionRoleArn": role_arn or training_job["RoleArn"],
    }


class BestModelDeployment:
    """``describe``: DescribeHyperParameterTuningJob by name; ``hosting``: SageMaker models/endpoints."""

    def __init__(self, describe: Callable[[str], Mapping[str, Any]], hosting: ModelHosting) -> None:
        self.describe = describe
        self.hosting = hosting

    def best(self, tuning_job: str) -> Mapping[str, Any]:
        """The tuning job's ``BestTrainingJob``; ValidationError when it has none yet."""
        describe = self.describe(tuning_job)
        best = describe.get("BestTrainingJob")
        if not best or not best.get("FinalHyperParameterTuningJobObjectiveMetric"):
            raise ValidationError(
                f"tuning job {tuning_job} ({describe.get('HyperParameterTuningJobStatus')}) has no best "
                "training job yet: no training job has reported the objective metric"
            )
        return best  # type: ignore[no-any-return]

    def deploy(
        self,
        tuning_job: str,
        endpoint_name: str,
        *,
        instance_type: str | None = None,
        initial_instance_count: int = 1,
        model_name: str | None = None,
        role_arn: str | None = None,
        tags: list[dict[str, str]] | None = None,
        wait: bool = False,
        best: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Deploy the best model of ``tuning_job`` to ``endpoint_name``; returns what was created.

        ``instance_type`` defaults to the training job's; ``model_name`` to the best training
        job's name; ``best`` skips the describe when the caller has the BestTrainingJob already.
        """
        best = best or self.best(tuning_job)
        training = self.hosting.describe_training_job(best["TrainingJobName"])
        model = (model_name or best["TrainingJobName"])[:MAX_MODEL_NAME]
        tags = list(tags or [])
        self.hosting.create_model(
            {**model_request(training, model, self.hosting.region, role_arn), **({"Tags": tags} if tags else {})}
        )
        trained_on = (training.get("ResourceConfig") or {}).get("InstanceType")
        instance_type = instance_type or trained_on or DEFAULT_INSTANCE_TYPE
        self.hosting.create_endpoint_config(
            {
                "EndpointConfigName": model,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": model,
                        "InitialInstanceCount": initial_instance_count,
                        "InstanceType": instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                **({"Tags": tags} if tags else {}),
            }
        )
        exists = self.hosting.endpoint_exists(endpoint_name)
        if exists:
            arn = self.hosting.update_endpoint(endpoint_name, model)
        else:
            arn = self.hosting.create_endpoint(endpoint_name, model, tags)
        if wait:
            self.hosting.wait_in_service(endpoint_name)
        return {
            "TrainingJobName": best["TrainingJobName"],
            "FinalObjectiveValue": (best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value"),
            "ModelName": model,
            "EndpointConfigName": model,
            "EndpointName": endpoint_name,
            "EndpointArn": arn,
            "InstanceType": instance_type,
            "InitialInstanceCount": initial_instance_count,
            "Updated": exists,
        }
