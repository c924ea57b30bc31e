"""Builds the service from the Lambda environment (constants.ENV_*), lazily and cached.

Clients are created on first use, never at import (moto must be active first), and the cache
is keyed by the configuration read at call time, so a changed environment is honoured.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

from tuner import constants
from tuner.service.tuning import TuningService

_lock = threading.Lock()
_cache: dict[tuple[str, ...], TuningService] = {}


def _config() -> tuple[str, ...]:
    return (
        os.environ.get(constants.ENV_TABLE_NAME, ""),
        os.environ.get(constants.ENV_EVENT_BUS_NAME, "default"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )


def build_service(table: str, bus: str = "default", region: str | None = None, session: Any = None) -> TuningService:
    """A TuningService over real (or moto) AWS clients."""
    import boto3

    from tuner.aws.events import EventPublisher
    from tuner.aws.logs import CloudWatchLogSource
    from tuner.aws.sagemaker import SageMakerBackend
    from tuner.aws.stepfunctions import TaskTokens
    from tuner.aws.store import DynamoStore

    session = session or boto3.session.Session(region_name=region)
    return TuningService(
        store=DynamoStore(table, session.client("dynamodb")),
        backend=SageMakerBackend(session.client("sagemaker")),
        logs=CloudWatchLogSource(session.client("logs")),
        tokens=TaskTokens(session.client("stepfunctions")),
        events=EventPublisher(session.client("events"), bus),
    )


def service() -> TuningService:
    config = _config()
    if not config[0]:
        raise RuntimeError(f"{constants.ENV_TABLE_NAME} is not set; the stack sets it on every tuner Lambda")
    with _lock:
        if config not in _cache:
            logging.getLogger("tuner").setLevel(os.environ.get(constants.ENV_LOG_LEVEL, "INFO"))
            _cache[config] = build_service(config[0], config[1], config[2])
        return _cache[config]


def reset() -> None:
    """Forget cached clients (tests that start a new moto session call this)."""
    with _lock:
        _cache.clear()
