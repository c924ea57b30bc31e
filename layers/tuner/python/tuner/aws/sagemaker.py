"""SageMaker: the training backend (start idempotently, describe and stop training jobs) and
model hosting (models, endpoint configurations, endpoints)."""
from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from tuner.errors import ResourceLimitExceededError, TransientBackendError

_TRANSIENT = {
    "ThrottlingException",
    "Throttling",
    "ServiceUnavailable",
    "InternalFailure",
    "RequestLimitExceeded",
}
#: An account quota (not a rate): parsed into ``ResourceLimitExceededError``, never retried as such.
RESOURCE_LIMIT_EXCEEDED = "ResourceLimitExceeded"
_ENDPOINT_WAIT = {"Delay": 5, "MaxAttempts": 720}  # up to an hour, as the waiter's default
# SageMaker's wording (docs/capacity.md): "The account-level service limit '<quota>' is <limit>
# Instances, with current utilization of <n> Instances and a request delta of <d> Instances. ...";
# before quotas had names: "The account-level service limit for training-job/<type> is ...".
_QUOTA_MESSAGE = re.compile(
    r"service limit (?:'(?P<quota>[^']+)'|for (?P<bare>\S+)) is (?P<limit>[\d,]+)[^,]*, "
    r"with current utilization of (?P<used>[\d,]+).*? and a request delta of (?P<delta>[\d,]+)"
)


def resource_limit_error(operation: str, name: str, message: str) -> ResourceLimitExceededError:
    """SageMaker's ``ResourceLimitExceeded`` message as a typed error with the numbers it states
    (all None when it states none, e.g. "The requested resource training-job/ml.p2.xlarge is not
    available in this region")."""
    found = _QUOTA_MESSAGE.search(message)
    numbers: dict[str, Any] = {}
    if found:
        count = {k: int(found[k].replace(",", "")) for k in ("limit", "used", "delta")}
        numbers = {"quota": found["quota"] or found["bare"], "limit": count["limit"],
                   "utilization": count["used"], "delta": count["delta"]}
    return ResourceLimitExceededError(
        f"{operation} {name}: {RESOURCE_LIMIT_EXCEEDED}: {message}", sagemaker_message=message, **numbers
    )


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


class SageMakerBackend:
    def __init__(self, client: Any) -> None:
        self.sm = client

    def start(self, request: dict[str, Any]) -> bool:
        """Create the training job. False if a job of that name exists (a retried start).

        ``ResourceLimitExceededError`` when an account quota refuses it (the caller decides whether
        to wait); a job of that name that exists already (created by an earlier try of this start,
        and holding the quota itself) is still a retried start.
        """
        try:
            self.sm.create_training_job(**request)
            return True
        except ClientError as err:
            code = _code(err)
            message = err.response.get("Error", {}).get("Message", "")
            if code == "ResourceInUse" or (code == "ValidationException" and "unique" in message):
                return False
            if code == RESOURCE_LIMIT_EXCEEDED:
                name = request["TrainingJobName"]
                if self._started_already(name):
                    return False
                raise resource_limit_error("CreateTrainingJob", name, message) from err
            if code in _TRANSIENT:
                raise TransientBackendError(
                    f"CreateTrainingJob {request['TrainingJobName']}: {code}: {message}; retried with backoff"
                ) from err
            raise

    def _started_already(self, name: str) -> bool:
        """Whether this deployment has a training job named ``name`` (an earlier try of a start).

        The tuner may describe only the jobs tagged with its deployment (docs/security.md, "Least
        privilege by tags"), so SageMaker answers ``AccessDeniedException`` for a name none of them
        has: no job of that name, or another team's (whose tags IAM finds none of ours on)."""
        try:
            return self.describe(name) is not None
        except ClientError as err:
            if _code(err) == "AccessDeniedException":
                return False
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

    def describe_algorithm(self, name: str) -> dict[str, Any] | None:
        """DescribeAlgorithm (an algorithm resource's name or ARN); None when SageMaker has none."""
        try:
            return dict(self.sm.describe_algorithm(AlgorithmName=name))
        except ClientError as err:
            if _code(err) in ("ValidationException", "ResourceNotFound"):
                return None
            if _code(err) in _TRANSIENT:
                raise TransientBackendError(f"DescribeAlgorithm {name}: {_code(err)}; retried with backoff") from err
            raise

    def stop(self, name: str) -> None:
        """StopTrainingJob; a job that is unknown or has ended already is not an error."""
        try:
            self.sm.stop_training_job(TrainingJobName=name)
        except ClientError as err:
            if _code(err) in ("ValidationException", "ResourceNotFound"):
                return
            if _code(err) in _TRANSIENT:
                raise TransientBackendError(f"StopTrainingJob {name}: {_code(err)}; retried with backoff") from err
            raise


class ModelHosting:
    """SageMaker models, endpoint configurations and endpoints (deploying a best model)."""

    def __init__(self, client: Any, region: str | None = None) -> None:
        self.sm = client
        self.region = region or client.meta.region_name

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return dict(self.sm.describe_training_job(TrainingJobName=name))

    def create_model(self, request: dict[str, Any]) -> None:
        self.sm.create_model(**request)

    def create_endpoint_config(self, request: dict[str, Any]) -> None:
        self.sm.create_endpoint_config(**request)

    def endpoint_exists(self, name: str) -> bool:
        """DescribeEndpoint answers ValidationException ("Could not find endpoint") for a missing one."""
        try:
            self.sm.describe_endpoint(EndpointName=name)
        except ClientError as err:
            if _code(err) == "ValidationException":
                return False
            raise
        return True

    def create_endpoint(self, name: str, config: str, tags: list[dict[str, str]]) -> str:
        extra = {"Tags": tags} if tags else {}
        return str(self.sm.create_endpoint(EndpointName=name, EndpointConfigName=config, **extra).get("EndpointArn"))

    def update_endpoint(self, name: str, config: str) -> str:
        return str(self.sm.update_endpoint(EndpointName=name, EndpointConfigName=config).get("EndpointArn"))

    def wait_in_service(self, name: str) -> None:
        # every 5 s (the waiter's default is 30 s; an offline endpoint is up in about a second)
        self.sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=_ENDPOINT_WAIT)
