"""Step Functions: task tokens (wake a waiting lap; a token already used or expired is not an
error) and the executions of the tuner's state machine."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from tuner.constants import ENV_STATE_MACHINE_ARN
from tuner.core.arns import execution_arn, parse
from tuner.errors import DuplicateTuningJobError, ValidationError

_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class TaskTokens:
    def __init__(self, client: Any) -> None:
        self.sfn = client

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        """Complete a waiting task. False if the token was already used or has expired."""
        try:
            self.sfn.send_task_success(taskToken=token, output=json.dumps(output))
            return True
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _GONE:
                return False
            raise


class Executions:
    """Executions of the tuner's state machine, one per tuning job, named after it."""

    def __init__(self, client: Any, state_machine_arn: str | None) -> None:
        self.sfn = client
        self.state_machine_arn = state_machine_arn

    @property
    def region(self) -> str | None:
        """The region the state machine (so its tuning jobs) runs in; None when it is not known."""
        parsed = parse(self.state_machine_arn)
        return parsed.region if parsed is not None and parsed.region else None

    def _machine(self) -> str:
        if not self.state_machine_arn:
            raise ValidationError(
                f"the tuner's state machine is not known here: set {ENV_STATE_MACHINE_ARN} "
                "(the stack sets it on the retune Lambda) or use the stack's StateMachineArn output",
                "StateMachineArn",
            )
        return self.state_machine_arn

    def start(self, name: str, request: Mapping[str, Any]) -> str:
        """StartExecution named ``name`` with the request as input; the execution's ARN."""
        try:
            r = self.sfn.start_execution(
                stateMachineArn=self._machine(), name=name, input=json.dumps(request, default=str)
            )
        except self.sfn.exceptions.ExecutionAlreadyExists:
            raise DuplicateTuningJobError(
                f"HyperParameterTuningJobName: a tuning job named {name!r} was started already; "
                "choose another name"
            ) from None
        return str(r["executionArn"])

    def describe(self, name: str) -> dict[str, Any] | None:
        """DescribeExecution of the execution ``name``; None when it does not exist."""
        if not self.state_machine_arn:
            return None
        return self.describe_arn(execution_arn(self.state_machine_arn, name))

    def describe_arn(self, arn: str) -> dict[str, Any] | None:
        """DescribeExecution of the execution ``arn``; None when it does not exist."""
        try:
            return dict(self.sfn.describe_execution(executionArn=arn))
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return None
