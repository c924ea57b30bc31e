"""ARNs in every partition (the region decides), built and read in one place."""
from __future__ import annotations

import pytest
from tuner.core import arns


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-central-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_the_partition_follows_the_region(region, partition):
    assert arns.partition(region) == partition
    assert arns.tuning_job_arn(region, "111122223333", "My-Job") == (
        f"arn:{partition}:sagemaker:{region}:111122223333:hyper-parameter-tuning-job/my-job"
    )


def test_an_execution_arn_keeps_the_state_machine_partition():
    machine = "arn:aws-us-gov:states:us-gov-west-1:111122223333:stateMachine:Tuner"
    execution = "arn:aws-us-gov:states:us-gov-west-1:111122223333:execution:Tuner:job-1"
    assert arns.execution_arn(machine, "job-1") == execution
    with pytest.raises(ValueError, match="not a state machine ARN"):
        arns.execution_arn("arn:aws:states:us-east-1:1:execution:Tuner:x", "job")


def test_region_and_account_of_an_arn_with_defaults_for_none():
    assert arns.region_and_account("arn:aws-cn:states:cn-north-1:222233334444:execution:T:j") == (
        "cn-north-1",
        "222233334444",
    )
    assert arns.region_and_account(None) == (arns.DEFAULT_REGION, arns.DEFAULT_ACCOUNT)
    assert arns.parse("not-an-arn") is None
