"""Deploy the best model of a tuning job: SageMaker model, endpoint configuration, endpoint.

    from tuner.deploy_model import deploy_best
    deploy_best(client, "my-job", "my-endpoint", instance_type="ml.m5.large")

or ``tuner deploy NAME --endpoint-name E``. ``client`` is a ``TunerClient`` (or any SageMaker
client that can describe the tuning job). What is created, and how, is
``tuner.service.deploy.BestModelDeployment`` (the one deployment the tuning families use too).
"""

from __future__ import annotations

from typing import Any

from tuner.aws.sagemaker import ModelHosting
from tuner.service.deploy import BestModelDeployment, model_request


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
    """Create the model and endpoint configuration of the best training job, then create the
    endpoint (or update it when it exists); returns what was created.

    ``instance_type`` defaults to the training job's instance type; ``model_name`` (and the
    endpoint configuration's name) to the best training job's name.
    """
    deployment = BestModelDeployment(
        lambda name: client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        ModelHosting(client, getattr(getattr(client, "meta", None), "region_name", None)),
    )
    return deployment.deploy(
        tuning_job_name,
        endpoint_name,
        instance_type=instance_type,
        initial_instance_count=initial_instance_count,
        model_name=model_name,
        tags=tags,
        wait=wait,
    )


__all__ = ["deploy_best", "model_request"]
