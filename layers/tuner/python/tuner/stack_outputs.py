"""Named views of the tuner stack's CloudFormation outputs, shared by the boto3-style client
(deployed stack) and the offline deployment (moto)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tuner import constants


class _HasOutputs(Protocol):
    @property
    def outputs(self) -> Mapping[str, str]: ...


class StackOutputs:
    """Mixin: the class provides ``outputs`` (output key -> value), as an attribute (a dataclass
    field) or a property; the methods' ``self`` type says so without declaring it here (a declared
    attribute could not be overridden by a read-only property)."""

    @property
    def state_machine_arn(self: _HasOutputs) -> str:
        return self.outputs[constants.OUTPUT_STATE_MACHINE_ARN]

    @property
    def table_name(self: _HasOutputs) -> str:
        return self.outputs[constants.OUTPUT_TABLE_NAME]

    @property
    def bucket_name(self: _HasOutputs) -> str | None:
        """None for a stack without the bucket output (sources are then not uploaded)."""
        return self.outputs.get(constants.OUTPUT_BUCKET_NAME)
