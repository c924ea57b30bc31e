"""``TunerStack``: one ``TunerConstruct`` and the stack outputs the clients read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct
from tuner import constants

from stacks.nag import acknowledge_findings
from stacks.tuner_construct import (
    DEFAULT_RETRY_INTERVAL,
    DEFAULT_SWEEPER_INTERVAL,
    DEFAULT_WORKER_WAIT_TIMEOUT,
    TunerConstruct,
)


class TunerStack(Stack):
    """The tuner service as a stack. Keyword props go to ``TunerConstruct``; ``**kwargs`` to ``Stack``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str = constants.DEFAULT_STACK_NAME,
        *,
        allowed_execution_role_arns: Sequence[str] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        sweeper_interval: Duration = DEFAULT_SWEEPER_INTERVAL,
        retry_interval: Duration = DEFAULT_RETRY_INTERVAL,
        worker_wait_timeout: Duration = DEFAULT_WORKER_WAIT_TIMEOUT,
        lap_trials: int = constants.DEFAULT_LAP_TRIALS,
        log_level: str = "INFO",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.tuner = TunerConstruct(
            self,
            "Tuner",
            allowed_execution_role_arns=allowed_execution_role_arns,
            removal_policy=removal_policy,
            log_retention=log_retention,
            sweeper_interval=sweeper_interval,
            retry_interval=retry_interval,
            worker_wait_timeout=worker_wait_timeout,
            lap_trials=lap_trials,
            log_level=log_level,
        )
        tuner = self.tuner
        outputs = {
            constants.OUTPUT_STATE_MACHINE_ARN: (
                tuner.state_machine.state_machine_arn,
                "tuning job state machine",
            ),
            constants.OUTPUT_TABLE_NAME: (tuner.table.table_name, "tuner state (DynamoDB)"),
            constants.OUTPUT_BUCKET_NAME: (tuner.bucket.bucket_name, "tuner artifacts (S3)"),
            constants.OUTPUT_EVENT_HANDLER: (
                tuner.functions["training_event"].function_name,
                "Lambda completing a worker's task token on a training job state change",
            ),
            constants.OUTPUT_SWEEPER: (
                tuner.functions["sweeper"].function_name,
                "periodic safety-net Lambda",
            ),
        }
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
        acknowledge_findings(tuner)
