"""Retuning: the EventBridge rules that start a tuning family's next (warm-started) tuning job.

All rules target the ``retune`` Lambda (``lambdas/retune``), which is not a state of the tuner's
state machine, so it may carry the machine's ARN in its environment without a dependency cycle.

* ``RetuneRequested``: the custom event ``source = "tuner"``, ``detail-type = "Retune Requested"``,
  ``detail = {"Family": ..., "Overrides": {...}}`` (the whole event is delivered).
* ``FamilyJobEnded``: the tuner's own "Hyperparameter Tuning Job State Change" with a terminal
  status: frees the family's lock early, auto-deploys, starts a deferred retune.
* per data trigger ``{family, bucket, prefix}``: S3 "Object Created" in that bucket under that
  prefix (the bucket must send its events to EventBridge); input ``{"Family", "Trigger": "data",
  "Bucket", "Key"}`` through an input transformer.
* per schedule ``{family, expression}``: ``rate(...)`` / ``cron(...)``; input
  ``{"Family", "Trigger": "schedule"}``.

``RetuningTriggers`` (the data and schedule rules) also stands alone, so another stack can add
triggers for a deployed tuner's retune function.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Duration, IStableStringProducer, Lazy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from tuner import constants

from stacks.functions import TRAINING_JOB_SCOPES
from stacks.grants import pass_role_to_sagemaker

TERMINAL_STATUSES = ["Completed", "Failed", "Stopped"]
DEPLOY_RESOURCES = ("model", "endpoint-config", "endpoint")
_FAMILY = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@jsii.implements(IStableStringProducer)
class _AutoDeploySetting:
    """``"true"`` / ``"false"`` as the retuning's ``auto_deploy`` stands at synthesis (it may be
    enabled after the function and the stack outputs were built: ``app.py`` does)."""

    def __init__(self, retuning: Retuning) -> None:
        self._retuning = retuning

    def produce(self) -> str:
        return "true" if self._retuning.auto_deploy else "false"


@dataclass(frozen=True)
class DataTrigger:
    """Retune ``family`` when an object is created in ``bucket`` under ``prefix`` ("" = anywhere)."""

    family: str
    bucket: str
    prefix: str = ""

    @classmethod
    def of(cls, value: DataTrigger | Mapping[str, Any]) -> DataTrigger:
        if isinstance(value, DataTrigger):
            return value
        return cls(
            family=str(value["family"]), bucket=str(value["bucket"]), prefix=str(value.get("prefix", ""))
        )


@dataclass(frozen=True)
class RetuneSchedule:
    """Retune ``family`` on an EventBridge schedule expression (``rate(1 day)``, ``cron(0 3 * * ? *)``)."""

    family: str
    expression: str

    @classmethod
    def of(cls, value: RetuneSchedule | Mapping[str, Any]) -> RetuneSchedule:
        if isinstance(value, RetuneSchedule):
            return value
        return cls(family=str(value["family"]), expression=str(value["expression"]))


def _check_family(family: str) -> None:
    if not _FAMILY.fullmatch(family):
        raise ValueError(f"{family!r} is not a tuning family name (1-63 letters, digits and -)")


def _construct_id(kind: str, family: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join((family, *parts)).encode()).hexdigest()[:8]
    return f"{kind}{''.join(p.title() for p in re.split(r'-+', family))[:40]}{digest}"


def data_event_pattern(bucket: str, prefix: str) -> events.EventPattern:
    detail: dict[str, Any] = {"bucket": {"name": [bucket]}}
    if prefix:
        detail["object"] = {"key": [{"prefix": prefix}]}
    return events.EventPattern(
        source=[constants.S3_SOURCE], detail_type=[constants.S3_OBJECT_CREATED], detail=detail
    )


class RetuningTriggers(Construct):
    """Data-arrival and schedule rules targeting a retune function (``add_data_trigger``,
    ``add_schedule``). ``rules``: every rule made, in order."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        data_triggers: Sequence[DataTrigger | Mapping[str, Any]] = (),
        schedules: Sequence[RetuneSchedule | Mapping[str, Any]] = (),
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._function = function
        self._dlq = dead_letter_queue
        self.rules: list[events.Rule] = []
        for trigger in data_triggers:
            self.add_data_trigger(DataTrigger.of(trigger))
        for schedule in schedules:
            self.add_schedule(RetuneSchedule.of(schedule))

    def _target(self, payload: dict[str, Any]) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            self._function,
            event=events.RuleTargetInput.from_object(payload),
            dead_letter_queue=self._dlq,
            retry_attempts=4,
            max_event_age=Duration.hours(2),
        )

    def add_data_trigger(self, trigger: DataTrigger) -> events.Rule:
        _check_family(trigger.family)
        rule = events.Rule(
            self,
            _construct_id("Data", trigger.family, trigger.bucket, trigger.prefix),
            description=f"Retune family {trigger.family} on new objects in s3://{trigger.bucket}/{trigger.prefix}"[
                :512
            ],
            event_pattern=data_event_pattern(trigger.bucket, trigger.prefix),
            targets=[
                self._target(
                    {
                        "Family": trigger.family,
                        "Trigger": "data",
                        "Bucket": events.EventField.from_path("$.detail.bucket.name"),
                        "Key": events.EventField.from_path("$.detail.object.key"),
                    }
                )
            ],
        )
        self.rules.append(rule)
        return rule

    def add_schedule(self, schedule: RetuneSchedule) -> events.Rule:
        _check_family(schedule.family)
        if not re.fullmatch(r"(rate|cron)\(.+\)", schedule.expression.strip()):
            raise ValueError(
                f"{schedule.expression!r}: give an EventBridge rate(...) or cron(...) expression"
            )
        rule = events.Rule(
            self,
            _construct_id("Schedule", schedule.family, schedule.expression),
            description=f"Retune family {schedule.family} on {schedule.expression}"[:512],
            schedule=events.Schedule.expression(schedule.expression.strip()),
            targets=[self._target({"Family": schedule.family, "Trigger": "schedule"})],
        )
        self.rules.append(rule)
        return rule


class Retuning(Construct):
    """Retuning wired to a tuner: the retune function's environment and permissions, the
    "Retune Requested" and "family job ended" rules, and ``triggers`` (a ``RetuningTriggers``).

    :param function: the tuner's ``retune`` Lambda.
    :param state_machine: the tuner's state machine (the function starts executions of it).
    :param execution_role_arns: roles auto-deploy may pass to SageMaker (``CreateModel``).
    :param deployment: the ``tuner:deployment`` tag value of this deployment's training jobs
        (auto-deploy describes only those).
    :param event_bus: the tuner's own bus: "Retune Requested" and the tuner's state changes are
        matched there (never on the default bus, where anyone with ``events:PutEvents`` can send
        ``source: tuner``).
    :param auto_deploy: grant what a family's ``AutoDeploy`` needs (``enable_auto_deploy``).

    ``auto_deploy_setting`` (``"true"``/``"false"``, a token resolved at synthesis) is in the
    function's environment (``ENV_RETUNE_AUTO_DEPLOY``) and the stack's outputs
    (``OUTPUT_RETUNE_AUTO_DEPLOY``): the family service refuses a family with ``AutoDeploy`` that
    this deployment could not deploy (docs/retuning.md).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        state_machine: sfn.StateMachine,
        execution_role_arns: Sequence[str],
        deployment: str,
        event_bus: events.IEventBus,
        data_triggers: Sequence[DataTrigger | Mapping[str, Any]] = (),
        schedules: Sequence[RetuneSchedule | Mapping[str, Any]] = (),
        dead_letter_queue: sqs.IQueue | None = None,
        auto_deploy: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        function.add_environment(constants.ENV_STATE_MACHINE_ARN, state_machine.state_machine_arn)
        self._execution_role_arns = list(execution_role_arns)
        self._deployment = deployment
        self.auto_deploy = False
        self.auto_deploy_setting = Lazy.string(_AutoDeploySetting(self))
        function.add_environment(constants.ENV_RETUNE_AUTO_DEPLOY, self.auto_deploy_setting)
        if auto_deploy:
            self.enable_auto_deploy()

        def target() -> targets.LambdaFunction:
            return targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=4,
                max_event_age=Duration.hours(2),
            )

        self.requested_rule = events.Rule(
            self,
            "RetuneRequested",
            description='Custom event "Retune Requested" (detail: Family, Overrides) retunes a family',
            event_bus=event_bus,
            event_pattern=events.EventPattern(
                source=[constants.TUNER_SOURCE], detail_type=[constants.RETUNE_REQUESTED]
            ),
            targets=[target()],
        )
        self.job_ended_rule = events.Rule(
            self,
            "FamilyJobEnded",
            description="A tuning job ended: free its family's lock, auto-deploy, start a deferred retune",
            event_bus=event_bus,
            event_pattern=events.EventPattern(
                source=[constants.TUNER_SOURCE],
                detail_type=[constants.TUNING_STATE_CHANGE],
                detail={"HyperParameterTuningJobStatus": TERMINAL_STATUSES},
            ),
            targets=[target()],
        )
        self.triggers = RetuningTriggers(
            self,
            "Triggers",
            function=function,
            data_triggers=data_triggers,
            schedules=schedules,
            dead_letter_queue=dead_letter_queue,
        )

    def add_data_trigger(self, family: str, bucket: str, prefix: str = "") -> events.Rule:
        return self.triggers.add_data_trigger(DataTrigger(family, bucket, prefix))

    def add_schedule(self, family: str, expression: str) -> events.Rule:
        return self.triggers.add_schedule(RetuneSchedule(family, expression))

    def enable_auto_deploy(self) -> None:
        """Let the retune function deploy a family's new best model (off by default: least privilege).

        CreateModel / CreateEndpointConfig / CreateEndpoint / UpdateEndpoint in this account and
        region, DescribeTrainingJob (image and artifacts of the best job) and iam:PassRole of the
        allowed execution roles to SageMaker only."""
        if self.auto_deploy:
            return
        self.auto_deploy = True
        fn, stack = self.function, Stack.of(self.function)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadBestTrainingJob",
                actions=["sagemaker:DescribeTrainingJob"],
                resources=[stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")],
                # only this deployment's jobs, as the tuner's own grants (docs/security.md)
                conditions=TRAINING_JOB_SCOPES["DescribeTrainingJob"].conditions(self._deployment),
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="AutoDeployBestModel",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateEndpoint",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:AddTags",
                ],
                resources=[
                    stack.format_arn(service="sagemaker", resource=kind, resource_name="*")
                    for kind in DEPLOY_RESOURCES
                ],
            )
        )
        fn.add_to_role_policy(pass_role_to_sagemaker("PassModelRoleToSageMaker", self._execution_role_arns))
