"""tuner: a self-hosted, SageMaker-compatible hyperparameter tuning service.

``from tuner import Optimizer`` gives the ask/tell API (no boto3 or AWS credentials needed).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:  # lazy: importing tuner must stay cheap for Lambdas
    if name == "Optimizer":
        from tuner.core.optimizer import Optimizer

        return Optimizer
    raise AttributeError(name)


__all__ = ["Optimizer", "__version__"]
