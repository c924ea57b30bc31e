"""Amazon Resource Names the tuner builds and reads (pure; partition-aware).

An ARN is ``arn:<partition>:<service>:<region>:<account>:<resource>``. The partition follows the
region: ``aws`` in the commercial regions, ``aws-cn`` in China (``cn-*``), ``aws-us-gov`` in
GovCloud (``us-gov-*``), ``aws-iso`` / ``aws-iso-b`` in the isolated regions. SageMaker writes the
resource names of tuning and training jobs in lower case in their ARNs.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"  # moto's account; only used when an ARN names none

_PARTITIONS = (("us-gov-", "aws-us-gov"), ("cn-", "aws-cn"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso"))


def partition(region: str) -> str:
    """The partition of a region (``aws`` unless the region belongs to another)."""
    for prefix, name in _PARTITIONS:
        if region.startswith(prefix):
            return name
    return "aws"


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse(arn: str | None) -> Arn | None:
    """The parts of an ARN; None when ``arn`` is not one."""
    parts = (arn or "").split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def region_and_account(arn: str | None) -> tuple[str, str]:
    """(region, account) named by an ARN, with the defaults where it names none."""
    parsed = parse(arn)
    if parsed is None or not parsed.region or not parsed.account:
        return DEFAULT_REGION, DEFAULT_ACCOUNT
    return parsed.region, parsed.account


def sagemaker_arn(region: str, account: str, kind: str, name: str) -> str:
    """``arn:<partition>:sagemaker:<region>:<account>:<kind>/<name in lower case>``."""
    return str(Arn(partition(region), "sagemaker", region, account, f"{kind}/{name.lower()}"))


def tuning_job_arn(region: str, account: str, name: str) -> str:
    return sagemaker_arn(region, account, "hyper-parameter-tuning-job", name)


def training_job_arn(region: str, account: str, name: str) -> str:
    return sagemaker_arn(region, account, "training-job", name)


def execution_name(arn: str | None) -> str | None:
    """The name of the execution an ARN names (``...:execution:<machine>:<name>``); None otherwise.

    A distributed Map's child execution (``execution:<machine>/<label>:<id>``) is named by its id.
    """
    parsed = parse(arn)
    if parsed is None or parsed.service != "states" or not parsed.resource.startswith("execution:"):
        return None
    parts = parsed.resource.split(":")
    return parts[2] if len(parts) == 3 and parts[2] else None


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    """The ARN of the execution ``execution_name`` of a state machine (``...:execution:<machine>:<name>``)."""
    parsed = parse(state_machine_arn)
    if parsed is None or not parsed.resource.startswith("stateMachine:"):
        raise ValueError(f"{state_machine_arn!r} is not a state machine ARN")
    machine = parsed.resource[len("stateMachine:") :]
    return str(Arn(parsed.partition, "states", parsed.region, parsed.account, f"execution:{machine}:{execution_name}"))
