"""Named views of the tuner stack's CloudFormation outputs, shared by the boto3-style client
(deployed stack) and the offline deployment (moto)."""

from __future__ import annotations

from collections.abc import Mapping

from tuner import constants


class StackOutputs:
    """Mixin: the class provides ``outputs`` (output key -> value)."""

    outputs: Mapping[str, str]

    @property
    def state_machine_arn(self) -> str:
        return self.outputs[constants.OUTPUT_STATE_MACHINE_ARN]

    @property
    def table_name(self) -> str:
        return self.outputs[constants.OUTPUT_TABLE_NAME]

    @property
    def bucket_name(self) -> str | None:
        """None for a stack without the bucket output (sources are then not uploaded)."""
        return self.outputs.get(constants.OUTPUT_BUCKET_NAME)
