"""Deploy the best model of a tuning job: SageMaker model, endpoint configuration, endpoint.

    from tuner.deploy_model import deploy_best
    deploy_best(client, "my-job", "my-endpoint", instance_type="ml.m5.large")

or ``tuner deploy NAME --endpoint-name E``. The model uses the best training job's image
(``AlgorithmSpecification.TrainingImage``), its artifacts (``ModelArtifacts.S3ModelArtifacts``)
and execution role; a script-mode job's ``sagemaker_program`` / ``sagemaker_submit_directory``
become the ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY`` environment of the container,
as the SageMaker SDK's framework models do. ``client`` is a ``TunerClient`` (or any SageMaker
client that can describe the tuning job).
"""

from __future__ import annotations

import json
from typing import Any

from tuner.errors import ValidationError


def _hp(value: Any) -> str:
    """Hyperparameters written by the SDK are JSON-encoded strings ('"train.py"')."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return decoded if isinstance(decoded, str) else str(value)


def model_request(training_job: dict[str, Any], model_name: str, region: str | None = None) -> dict[str, Any]:
    """The CreateModel request for a finished training job."""
    artifacts = (training_job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if not artifacts:
        raise ValidationError(
            f"training job {training_job['TrainingJobName']} has no model artifacts "
            f"(status {training_job.get('TrainingJobStatus')}); only a finished job's model can be deployed"
        )
    hps = training_job.get("HyperParameters") or {}
    env: dict[str, str] = {}
    if "sagemaker_program" in hps:
        env["SAGEMAKER_PROGRAM"] = _hp(hps["sagemaker_program"])
    if "sagemaker_submit_directory" in hps:
        env["SAGEMAKER_SUBMIT_DIRECTORY"] = _hp(hps["sagemaker_submit_directory"])
    if env:
        env["SAGEMAKER_CONTAINER_LOG_LEVEL"] = "20"
        if region:
            env["SAGEMAKER_REGION"] = region
    container: dict[str, Any] = {
        "Image": training_job["AlgorithmSpecification"]["TrainingImage"],
        "ModelDataUrl": artifacts,
    }
    if env:
        container["Environment"] = env
    return {
        "ModelName": model_name,
        "PrimaryContainer": container,
        "ExecutionRoleArn": training_job["RoleArn"],
    }


def deploy_best(
    client: Any,
    tuning_job_name: str,
    endpoint_name: str,
    *,
    instance_type: str | None = None,
    initial_instance_count: int = 1,
    model_name: str | None = None,
    wait: bool = False,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Create model + endpoint config + endpoint for the best training job; returns what was created.

    ``instance_type`` defaults to the training job's instance type; ``model_name`` to the best
    training job's name; the endpoint configuration is named after the endpoint.
    """
    describe = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_name)
    best = describe.get("BestTrainingJob")
    if not best:
        raise ValidationError(
            f"tuning job {tuning_job_name} ({describe['HyperParameterTuningJobStatus']}) has no best "
            "training job yet: no training job has reported the objective metric"
        )
    job = client.describe_training_job(TrainingJobName=best["TrainingJobName"])
    model_name = model_name or best["TrainingJobName"]
    region = getattr(getattr(client, "meta", None), "region_name", None)
    extra = {"Tags": tags} if tags else {}
    client.create_model(**model_request(job, model_name, region), **extra)
    instance_type = instance_type or (job.get("ResourceConfig") or {}).get("InstanceType") or "ml.m5.large"
    client.create_endpoint_config(
        EndpointConfigName=endpoint_name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InitialInstanceCount": initial_instance_count,
                "InstanceType": instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
        **extra,
    )
    created = client.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=endpoint_name, **extra)
    if wait:
        client.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name)
    return {
        "TrainingJobName": best["TrainingJobName"],
        "FinalObjectiveValue": (best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value"),
        "ModelName": model_name,
        "EndpointConfigName": endpoint_name,
        "EndpointName": endpoint_name,
        "EndpointArn": created.get("EndpointArn"),
        "InstanceType": instance_type,
        "InitialInstanceCount": initial_instance_count,
    }


__all__ = ["deploy_best", "model_request"]
