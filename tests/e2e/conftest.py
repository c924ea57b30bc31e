"""One offline deployment for the e2e package: synth (cached) + deploy into moto, shared by all e2e tests."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tuner.local.harness import LocalTuner

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture(scope="package")
def local_tuner(tmp_path_factory: pytest.TempPathFactory):
    """Package-scoped: moto's state is global, so the mock must end before other test folders run."""
    with LocalTuner(tmp_path_factory.mktemp("local-tuner"), sweep_interval=2.0) as lt:
        yield lt


def quick_request(name: str, *, strategy: str, ranges: dict[str, Any], max_jobs: int | None,
                  max_parallel: int, seed: int | None = 1, static: dict[str, str] | None = None) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request for tests/e2e/scripts/quick/train.py (minimise loss)."""
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": max_parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    config: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
    }
    if seed is not None:
        config["RandomSeed"] = seed
    return copy.deepcopy({
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": "quick",
                "epochs": "3",
                **(static or {}),
            },
            "AlgorithmSpecification": {
                "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/quick:latest",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecutionRole",
            "OutputDataConfig": {"S3OutputPath": "s3://tuner-e2e-output/models"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    })


def max_concurrent(transitions: list[tuple[float, str, str]], prefix: str) -> int:
    """Most training jobs of one tuning job InProgress at once, from the stand-in's transitions."""
    running: set[str] = set()
    peak = 0
    for _, job, status in sorted(transitions, key=lambda t: t[0]):
        if not job.startswith(prefix + "-"):
            continue
        if status == "InProgress":
            running.add(job)
        else:
            running.discard(job)
        peak = max(peak, len(running))
    return peak


def dump(obj: Any) -> str:
    return json.dumps(obj, default=str, indent=1)
