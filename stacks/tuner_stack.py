"""``TunerStack``: one ``TunerConstruct`` and the stack outputs the clients read."""

from __future__ import annotations

import inspect
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct
from tuner import constants

from stacks.nag import acknowledge_findings
from stacks.tuner_construct import TunerConstruct

# The construct's own settings, read from its signature: a new construct prop reaches the stack
# without a second list to keep in step (a prop missing here once fell through to Stack).
TUNER_PROPS = frozenset(inspect.signature(TunerConstruct.__init__).parameters) - {"self", "scope", "construct_id"}


class TunerStack(Stack):
    """The tuner service as a stack. Keyword arguments that ``TunerConstruct`` takes (its settings:
    ``allowed_execution_role_arns``, ``lap_trials``, ...) go to it; the rest to ``Stack``."""

    def __init__(self, scope: Construct, construct_id: str = constants.DEFAULT_STACK_NAME, **kwargs: Any) -> None:
        tuner_props = {k: kwargs.pop(k) for k in list(kwargs) if k in TUNER_PROPS}
        super().__init__(scope, construct_id, **kwargs)
        self.tuner = TunerConstruct(self, "Tuner", **tuner_props)
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
                "Lambda completing a lap's task token on a training job state change",
            ),
            constants.OUTPUT_EVENT_BUS_NAME: (
                tuner.event_bus.event_bus_name,
                'the tuner\'s own events: its state changes, and "Retune Requested" from the listed senders',
            ),
            constants.OUTPUT_FRONT_DOOR_URL: (
                tuner.front_door_url.url,
                "the caller-checked front door: SageMaker's tuning-job API for IAM callers (TunerClient uses it)",
            ),
            constants.OUTPUT_USER_POLICY_ARN: (
                tuner.user_policy.managed_policy_arn,
                "attach to a tuner user's role: the front door and reads of the tuning jobs",
            ),
            constants.OUTPUT_SWEEPER: (
                tuner.functions["sweeper"].function_name,
                "periodic safety-net Lambda",
            ),
            constants.OUTPUT_RETUNE_AUTO_DEPLOY: (
                tuner.retuning.auto_deploy_setting,
                "true when the retune Lambda may deploy a family's best model (AutoDeploy; docs/retuning.md)",
            ),
        }
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
        acknowledge_findings(tuner)
