"""Policy statements more than one construct grants (one definition each)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn


def allow(sid: str, actions: list[str], resources: list[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=actions, resources=resources)


def pass_role_to_sagemaker(sid: str, role_arns: Sequence[str]) -> iam.PolicyStatement:
    """iam:PassRole of ``role_arns``, to SageMaker only."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["iam:PassRole"],
        resources=list(role_arns),
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def read_executions(machine: sfn.StateMachine) -> iam.PolicyStatement:
    """DescribeExecution of ``machine``'s executions (a job's, a family's), no other machine's."""
    stack = Stack.of(machine)
    return allow(
        "ReadTuningExecutions",
        ["states:DescribeExecution"],
        [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{machine.state_machine_name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
    )
