"""cdk-nag (AwsSolutions) findings this design accepts, each acknowledged one id at a time, with
its reason, on the narrowest construct that produces it.

Wildcard findings (IAM5) are granular: ``AwsSolutions-IAM5[Resource::<arn>]`` names the exact
wildcard, so a new wildcard elsewhere still fails the synth. Logical ids in those names are read
from the constructs, never written down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

from stacks.functions import FUNCTIONS

if TYPE_CHECKING:
    from stacks.tuner_construct import TunerConstruct

PACK = "AwsSolutions::AwsSolutions-"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=PACK + rule, reason=reason))


def _attr(construct: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag prints ``Fn::GetAtt`` of a construct: ``<LogicalId.Arn>``."""
    cfn = construct.node.default_child
    assert isinstance(cfn, CfnElement)
    return f"<{Stack.of(construct).resolve(cfn.logical_id)}.{attribute}>"


def _ref(construct: IConstruct) -> str:
    """How cdk-nag prints ``Ref`` of a construct: ``<LogicalId>``."""
    cfn = construct.node.default_child
    assert isinstance(cfn, CfnElement)
    return f"<{Stack.of(construct).resolve(cfn.logical_id)}>"


def acknowledge_findings(tuner: TunerConstruct) -> None:
    acknowledge(
        tuner,
        "L1",
        "Python 3.12 on purpose: the scientific layer carries CPython 3.12 wheels (layers/build.py); "
        "move the runtime and the layer together.",
    )
    acknowledge(
        tuner.state_machine,
        "SF1",
        "Logs at ERROR without execution data: requests can hold secrets, and a 10,000-trial job would "
        "log every transition at ALL; per-trial history lives in DynamoDB and the execution history.",
    )
    acknowledge(
        tuner.dead_letter_queue,
        "SQS3",
        "This queue is itself the dead-letter queue of the training-event rule's target.",
    )
    acknowledge(
        tuner,
        "IAM5[Resource::*]",
        "X-Ray PutTraceSegments/PutTelemetryRecords and the Step Functions log-delivery actions "
        "(logs:CreateLogDelivery, ...) support no resource-level permissions.",
    )
    acknowledge(
        tuner,
        f"IAM5[Resource::{_attr(tuner.table)}/index/*]",
        "Table grants cover its own indexes (the sparse by-kind index lists tuning jobs).",
    )
    for fn in tuner.functions.values():
        acknowledge(
            tuner.state_machine,
            f"IAM5[Resource::{_attr(fn)}:*]",
            "The state machine may invoke versions/aliases of the tuner's own functions only.",
        )
    acknowledge(
        tuner,
        "IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*]",
        "Training job names are derived from tuning job names at run time; the statements allow "
        "training-job actions only, in this account and region.",
    )
    acknowledge(
        tuner,
        "IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
        "/aws/sagemaker/TrainingJobs:*]",
        "Read-only access to the streams of SageMaker's training log group (one stream per job).",
    )
    # The distributed Map's own policy (CDK's DistributedMapPolicy): it starts the laps as child
    # executions of this state machine and describes/stops/redrives them.
    machine = tuner.state_machine.node.default_child
    assert isinstance(machine, CfnElement)
    ref = Stack.of(tuner).resolve(machine.logical_id)
    name = '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + ref + '"}]}]}'  # how cdk-nag prints the name
    for suffix in (":*", "/Laps:*"):
        acknowledge(
            tuner.state_machine,
            f"IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}{suffix}]",
            "The RunLaps distributed Map manages its own child executions (laps) of this state machine "
            "only; their names are made by Step Functions at run time.",
        )
    if tuner.uses_default_execution_roles:
        acknowledge(
            tuner,
            "IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*SageMaker*]",
            "Default when no allowedExecutionRoleArns is given: roles named *SageMaker*, and only with "
            "iam:PassedToService = sagemaker.amazonaws.com. Deployers should pass the exact role ARNs.",
        )
    for name, fn in tuner.functions.items():
        role = fn.role
        grants = FUNCTIONS[name].grants
        if role is not None and grants.describe_algorithms:
            for pattern in ("<AWS::Region>:<AWS::AccountId>", "*:*"):
                acknowledge(
                    role,
                    f"IAM5[Resource::arn:<AWS::Partition>:sagemaker:{pattern}:algorithm/*]",
                    "DescribeAlgorithm (read-only) of the algorithm a request names: one of this account's, or a "
                    "Marketplace algorithm, whose ARN is in the seller's account and may be in any region.",
                )
        if role is not None and grants.check_callers:
            for kind in ("role", "user"):
                acknowledge(
                    role,
                    f"IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:{kind}/*]",
                    "The front door asks IAM about whichever role or user calls it (GetRole: the role of an "
                    "assumed-role session; SimulatePrincipalPolicy: what that principal may do): read-only, "
                    "this account's principals only.",
                )
    acknowledge(
        tuner.user_policy,
        f"IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"{_attr(tuner.state_machine, 'Name')}:*]",
        "A tuner user describes a just-created tuning job through its execution (names made at run time), "
        "on the tuner's own state machine only.",
    )
    acknowledge(
        tuner.user_policy,
        "IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/"
        f"{Stack.of(tuner).stack_name}/*]",
        "DescribeStacks of the tuner's own stack (its id suffix is made at deploy): the client reads its outputs.",
    )
    executions = (
        f"IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"{_attr(tuner.state_machine, 'Name')}:*]"
    )
    for name, policy in tuner.machine_policies.items():
        grants = FUNCTIONS[name].grants
        if grants.read_executions:
            acknowledge(
                policy,
                executions,
                "DescribeExecution on executions of the tuner's own state machine only (names are made "
                "at run time): the sweeper reconciles a job whose execution ended unfinished, the retune "
                "Lambda checks a family's lock against its job's execution.",
            )
        if grants.task_tokens:
            acknowledge(
                policy,
                f"IAM5[Resource::{_ref(tuner.state_machine)}/*]",
                "SendTaskSuccess to the laps: child executions of this state machine's distributed Map "
                "(stateMachine:NAME/LABEL); the parent's ARN is granted too (docs/reliability.md).",
            )
    _acknowledge_retuning(tuner)


def _acknowledge_retuning(tuner: TunerConstruct) -> None:
    """The retune Lambda (stacks/retuning.py)."""
    role = tuner.retuning.function.role  # the findings are on the role's default policy
    assert role is not None
    for kind in ("model", "endpoint-config", "endpoint"):
        acknowledge(
            role,
            f"IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:{kind}/*]",
            "Auto-deploy creates models/endpoint configs named after the best training job and updates "
            "endpoints named in tuning families (runtime data); this account and region only.",
        )
