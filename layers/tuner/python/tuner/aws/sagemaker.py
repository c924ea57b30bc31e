"""SageMaker training backend: start (idempotently), describe and stop training jobs."""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tuner.errors import TransientBackendError

_TRANSIENT = {
    "ThrottlingException",
    "Throttling",
    "ResourceLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
    "RequestLimitExceeded",
}


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


class SageMakerBackend:
    def __init__(self, client: Any) -> None:
        self.sm = client

    def start(self, request: dict[str, Any]) -> bool:
        """Create the training job. False if a job of that name exists (a retried start)."""
        try:
            self.sm.create_training_job(**request)
            return True
        except ClientError as err:
            code = _code(err)
            message = err.response.get("Error", {}).get("Message", "")
            if code == "ResourceInUse" or (code == "ValidationException" and "unique" in message):
                return False
            if code in _TRANSIENT:
                raise TransientBackendError(
                    f"CreateTrainingJob {request['TrainingJobName']}: {code}: {message}; retried with backoff"
                ) from err
            raise

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            return self.sm.describe_training_job(TrainingJobName=name)
        except ClientError as err:
            if _code(err) in ("ValidationException", "ResourceNotFound"):
                return None
            if _code(err) in _TRANSIENT:
                raise TransientBackendError(f"DescribeTrainingJob {name}: {_code(err)}") from err
            raise

    def stop(self, name: str) -> None:
        try:
            self.sm.stop_training_job(TrainingJobName=name)
        except ClientError as err:
            if _code(err) not in ("ValidationException", "ResourceNotFound"):
                raise
