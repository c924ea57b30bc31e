"""``TunerConstruct``: the whole tuner (table, bucket, layers, Lambdas, state machine, rules, IAM).

Asset paths come from this file's location, never from the working directory. The scientific
layer is built by ``python layers/build.py`` (no Docker); synthesis stops with that instruction
when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from tuner import constants
from tuner.core.capacity import CapacityWait

from stacks.functions import CODE_EXCLUDE, FUNCTIONS, SCIENTIFIC, TUNER
from stacks.grants import allow, pass_role_to_sagemaker, read_executions
from stacks.retuning import DataTrigger, RetuneSchedule, Retuning
from stacks.workflow import DEFAULT_CAPACITY_WAIT, DEFAULT_LAP_WAIT_TIMEOUT, build_definition

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
TUNER_LAYER_DIR = ROOT / "layers" / "tuner"
SCIENTIFIC_LAYER_DIR = ROOT / "build" / "layers" / "scientific"
RUNTIME = lambda_.Runtime.PYTHON_3_12  # the scientific layer's wheels are built for CPython 3.12

TRAINING_STATUSES_DONE = ["Completed", "Failed", "Stopped"]
# The monitor (early stopping, Hyperband rungs, runtime limit) acts at this pace: a stopped job
# trains about this long past its rung. Sweeps are idempotent (conditional writes, StopTrainingJob
# of an ended job ignored), so an overlapping sweep is harmless.
DEFAULT_SWEEPER_INTERVAL = Duration.minutes(1)
DEFAULT_RETRY_INTERVAL = Duration.seconds(1)
FEATURE_FLAGS = (
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",  # access logs via bucket policy, ACLs stay off
    "@aws-cdk/aws-lambda:recognizeLayerVersion",  # a layer change publishes a new function version
)


class MissingLayerError(RuntimeError):
    """The scientific layer has not been built."""


class TunerConstruct(Construct):
    """The tuner service. Attributes: ``table``, ``bucket``, ``functions`` (by LAMBDAS name),
    ``state_machine``, ``training_event_rule``, ``sweeper_rule``, ``dead_letter_queue``.

    :param allowed_execution_role_arns: the SageMaker execution roles the tuner may pass to
        ``CreateTrainingJob`` (``iam:PassRole`` is granted on these only, and only to SageMaker).
        Default: every role of this account whose name contains ``SageMaker``.
    :param removal_policy: for the table, the buckets, the log groups and the key.
    :param log_retention: of every log group the construct creates.
    :param sweeper_interval: how often the sweeper looks for trials whose event was lost and
        monitors running jobs (early stopping, Hyperband rungs, completion criteria, runtime limit).
    :param retry_interval: first wait of every Lambda task's Retry (backoff 2, 6 attempts); the
        offline tests shorten it because Step Functions emulation sleeps in real time.
    :param lap_wait_timeout: how long a lap waits on its training job's token before its
        NextTrial step runs again (idempotently) to check the job itself; the safety net for a
        lost wake-up, beside the sweeper.
    :param capacity_wait: how a trial refused by an account quota (ResourceLimitExceeded) waits:
        first wait, longest wait, give-up, in whole seconds (docs/capacity.md).
    :param lap_trials: trials per lap, i.e. per child execution of the distributed Map ``RunLaps``
        (about 10 history events each, against the 25,000-event quota of an execution).
    :param log_level: ``TUNER_LOG_LEVEL`` of every function.
    :param scientific_layer_dir: the built numpy/scipy layer (``python layers/build.py``).
    :param retune_data_triggers: ``{family, bucket, prefix}`` each: retune the family when an object
        is created there (S3 -> EventBridge). More with ``self.retuning.add_data_trigger``.
    :param retune_schedules: ``{family, expression}`` each: retune the family on a rate/cron schedule.
    :param alarms: CloudWatch alarms on failed or timed-out tuning executions, undeliverable
        training events (the dead-letter queue) and errors of every tuner Lambda (``self.alarms``).
    :param alarm_topic: an SNS topic every alarm notifies (none: the alarms only change state).
    :param retune_auto_deploy: let the retune Lambda deploy a family's new best model (SageMaker
        model/endpoint permissions and PassRole of the allowed roles); off by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        allowed_execution_role_arns: Sequence[str] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        sweeper_interval: Duration = DEFAULT_SWEEPER_INTERVAL,
        retry_interval: Duration = DEFAULT_RETRY_INTERVAL,
        lap_wait_timeout: Duration = DEFAULT_LAP_WAIT_TIMEOUT,
        capacity_wait: CapacityWait = DEFAULT_CAPACITY_WAIT,
        lap_trials: int = constants.DEFAULT_LAP_TRIALS,
        log_level: str = "INFO",
        scientific_layer_dir: Path = SCIENTIFIC_LAYER_DIR,
        retune_data_triggers: Sequence[DataTrigger | Mapping[str, Any]] = (),
        retune_schedules: Sequence[RetuneSchedule | Mapping[str, Any]] = (),
        retune_auto_deploy: bool = False,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if lap_trials < 1:
            raise ValueError(f"lap_trials={lap_trials!r}: a lap holds at least one trial")
        # Feature flags the construct relies on, set on itself (not in cdk.json) so that
        # `python app.py`, `cdk synth`, the tests and any other app get the same resources.
        for flag in FEATURE_FLAGS:
            self.node.set_context(flag, True)
        stack = Stack.of(self)
        self._removal_policy = removal_policy
        self._log_retention = log_retention
        role_arns = list(allowed_execution_role_arns or [])
        self.uses_default_execution_roles = not role_arns
        if not role_arns:
            role_arns = [
                stack.format_arn(service="iam", region="", resource="role", resource_name="*SageMaker*")
            ]
        self.allowed_execution_role_arns = role_arns

        self.table = self._table()
        self.bucket = self._bucket()
        self.key = kms.Key(
            self,
            "LogsKey",
            description="Encrypts the tuner state machine's log group",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com"))

        layers = {
            TUNER: lambda_.LayerVersion(
                self,
                "TunerLayer",
                code=lambda_.Code.from_asset(str(TUNER_LAYER_DIR), exclude=list(CODE_EXCLUDE)),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[lambda_.Architecture.X86_64],
                description="the tuner package",
                removal_policy=removal_policy,
            ),
            SCIENTIFIC: lambda_.LayerVersion(
                self,
                "ScientificLayer",
                code=lambda_.Code.from_asset(str(_built_layer(scientific_layer_dir))),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[lambda_.Architecture.X86_64],
                description="numpy and scipy (manylinux, CPython 3.12), trimmed by layers/build.py",
                removal_policy=removal_policy,
            ),
        }
        environment = {
            constants.ENV_TABLE_NAME: self.table.table_name,
            constants.ENV_BUCKET_NAME: self.bucket.bucket_name,
            constants.ENV_EVENT_BUS_NAME: "default",
            constants.ENV_LOG_LEVEL: log_level,
        }
        own_environment = {"create_job": {constants.ENV_LAP_TRIALS: str(lap_trials)}}
        self.functions: dict[str, lambda_.Function] = {
            name: self._function(name, {**environment, **own_environment.get(name, {})}, layers)
            for name in constants.LAMBDAS
        }

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(
                build_definition(
                    Construct(self, "States"),
                    self.functions,
                    retry_interval=retry_interval,
                    lap_wait_timeout=lap_wait_timeout,
                    capacity_wait=capacity_wait,
                )
            ),
            logs=sfn.LogOptions(
                destination=self._log_group("StateMachineLogs", encryption_key=self.key),
                level=sfn.LogLevel.ERROR,
                include_execution_data=False,  # requests may carry secrets (hyperparameters, env)
            ),
            tracing_enabled=True,
            comment="SageMaker-compatible hyperparameter tuning job (input: CreateHyperParameterTuningJob)",
        )

        self.dead_letter_queue = sqs.Queue(
            self,
            "EventsDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        self.training_event_rule = events.Rule(
            self,
            "TrainingJobStateChange",
            description="Finished SageMaker training jobs wake the tuner lap waiting on them",
            event_pattern=events.EventPattern(
                source=[constants.SAGEMAKER_SOURCE],
                detail_type=[constants.TRAINING_STATE_CHANGE],
                detail={"TrainingJobStatus": TRAINING_STATUSES_DONE},
            ),
            targets=[
                targets.LambdaFunction(
                    self.functions["training_event"],
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=Duration.hours(6),
                )
            ],
        )
        self.sweeper_rule = events.Rule(
            self,
            "SweeperSchedule",
            description="Safety net: finish trials whose state-change event was lost",
            schedule=events.Schedule.rate(sweeper_interval),
            targets=[targets.LambdaFunction(self.functions["sweeper"], retry_attempts=2)],
        )
        self._grant()
        self.retuning = Retuning(
            self,
            "Retuning",
            function=self.functions["retune"],
            state_machine=self.state_machine,
            execution_role_arns=self.allowed_execution_role_arns,
            data_triggers=retune_data_triggers,
            schedules=retune_schedules,
            dead_letter_queue=self.dead_letter_queue,
            auto_deploy=retune_auto_deploy,
        )
        self.alarms: list[cloudwatch.Alarm] = self._alarms(alarm_topic) if alarms else []

    # --- resources -------------------------------------------------------------------------------

    def _alarms(self, topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        """Alarms an operator wants: a tuning job failed or timed out, an event was undeliverable,
        a tuner Lambda failed (retries usually absorb these; a sustained rate needs a look)."""
        one_period: dict[str, Any] = {"threshold": 1, "evaluation_periods": 1,
                      "comparison_operator": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                      "treat_missing_data": cloudwatch.TreatMissingData.NOT_BREACHING}
        five_minutes = Duration.minutes(5)
        alarms = [
            self.state_machine.metric_failed(period=five_minutes).create_alarm(
                self, "TuningExecutionsFailed", alarm_description="A tuning job's execution failed", **one_period
            ),
            self.state_machine.metric_timed_out(period=five_minutes).create_alarm(
                self, "TuningExecutionsTimedOut", alarm_description="A tuning job's execution timed out", **one_period
            ),
            self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=five_minutes).create_alarm(
                self,
                "UndeliverableTrainingEvents",
                alarm_description="Training job state-change events could not be delivered (the sweeper recovers them)",
                **one_period,
            ),
        ]
        for name, fn in sorted(self.functions.items()):
            alarms.append(
                fn.metric_errors(period=five_minutes).create_alarm(
                    self,
                    f"Errors{name.title().replace('_', '')}",
                    alarm_description=f"The tuner's {name} Lambda reported errors",
                    **{**one_period, "threshold": 3},
                )
            )
        if topic is not None:
            for alarm in alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(topic))
        return alarms

    def _table(self) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expires",
            removal_policy=self._removal_policy,
        )
        # Sparse: only tuning-job items carry ``kind``/``created``; lists jobs newest first.
        table.add_global_secondary_index(
            index_name="by-kind",
            partition_key=dynamodb.Attribute(name="kind", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created", type=dynamodb.AttributeType.STRING),
        )
        return table

    def _bucket(self) -> s3.Bucket:
        common = dict(
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=self._removal_policy,
        )
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the log delivery service needs SSE-S3
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            **common,  # type: ignore[arg-type]
        )
        return s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="tuner-bucket/",
            **common,  # type: ignore[arg-type]
        )

    def _log_group(self, construct_id: str, *, encryption_key: kms.IKey | None = None) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            construct_id,
            retention=self._log_retention,
            encryption_key=encryption_key,
            removal_policy=self._removal_policy,
        )

    def _function(
        self, name: str, environment: dict[str, str], layers: dict[str, lambda_.LayerVersion]
    ) -> lambda_.Function:
        spec = FUNCTIONS[name]
        code_dir = LAMBDAS_DIR / name
        if not (code_dir / "handler.py").is_file():
            raise FileNotFoundError(f"{code_dir / 'handler.py'} is missing: every LAMBDAS entry needs one")
        construct_id = "".join(part.title() for part in name.split("_"))  # next_trial -> NextTrial
        log_group = self._log_group(f"{construct_id}Logs")
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"tuner {name}: {constants.LAMBDAS[name]}",
        )
        log_group.grant_write(role)  # instead of the managed AWSLambdaBasicExecutionRole
        return lambda_.Function(
            self,
            construct_id,
            description=constants.LAMBDAS[name],
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(code_dir), exclude=list(CODE_EXCLUDE)),
            layers=[layers[layer] for layer in spec.layers],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
        )

    # --- permissions -----------------------------------------------------------------------------

    def _grant(self) -> None:
        """Each function gets what its code calls (``FUNCTIONS[name].grants``), on this stack's
        resources only. Statements naming the state machine go in a separate policy per function:
        the function resource depends on its role's default policy and the state machine on the
        functions it invokes, so the default policy must not name the machine (a cycle)."""
        stack = Stack.of(self)
        machine = self.state_machine
        self.machine_policies: dict[str, iam.Policy] = {}  # by function: statements naming the machine
        training_jobs = stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")
        # CloudWatch Logs' IAM reference names a log group ``log-group:NAME``, its API answers
        # ``log-group:NAME:*``; which one DescribeLogStreams checks is not documented: both are
        # granted. GetLogEvents is on a stream, ``log-group:NAME:log-stream:STREAM``.
        log_group, log_streams = (
            stack.format_arn(
                service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            for name in (constants.TRAINING_LOG_GROUP, f"{constants.TRAINING_LOG_GROUP}:*")
        )
        default_bus = stack.format_arn(service="events", resource="event-bus", resource_name="default")
        algorithms = [
            stack.format_arn(service="sagemaker", resource="algorithm", resource_name="*"),
            f"arn:{stack.partition}:sagemaker:*:*:algorithm/*",
        ]
        machine_arn = machine.state_machine_arn
        table, indexes = self.table.table_arn, f"{self.table.table_arn}/index/*"
        for name, fn in self.functions.items():
            g = FUNCTIONS[name].grants
            statements = [
                allow("ReadWriteTable", [f"dynamodb:{a}" for a in g.table], [table]) if g.table else None,
                allow("QueryTableIndexes", [f"dynamodb:{a}" for a in g.index], [indexes]) if g.index else None,
                allow("TrainingJobs", [f"sagemaker:{a}" for a in g.training_jobs], [training_jobs])
                if g.training_jobs
                else None,
                pass_role_to_sagemaker("PassExecutionRoleToSageMaker", self.allowed_execution_role_arns)
                if g.pass_execution_role
                else None,
                allow("ListTrainingLogStreams", ["logs:DescribeLogStreams"], [log_group, log_streams])
                if g.training_logs
                else None,
                allow("ReadTrainingLogs", ["logs:GetLogEvents"], [log_streams]) if g.training_logs else None,
                allow("PublishStateChanges", ["events:PutEvents"], [default_bus]) if g.publish_events else None,
                # An AlgorithmName is one of this account's algorithms, or a Marketplace algorithm
                # (an ARN in the seller's account and any region).
                allow("DescribeAlgorithms", ["sagemaker:DescribeAlgorithm"], algorithms)
                if g.describe_algorithms
                else None,
            ]
            for statement in statements:
                if statement is not None:
                    fn.add_to_role_policy(statement)
            # A token is issued by a lap: a distributed Map child execution, whose state machine ARN
            # is ``stateMachine:NAME/LABEL``. AWS does not document whether IAM checks the child's
            # or the parent's ARN for SendTask*: both are granted (docs/reliability.md).
            on_machine = [
                allow("WakeLaps", ["states:SendTaskSuccess"], [machine_arn, f"{machine_arn}/*"])
                if g.task_tokens
                else None,
                allow("StartTuningJobs", ["states:StartExecution"], [machine_arn]) if g.start_executions else None,
                read_executions(machine) if g.read_executions else None,
            ]
            if any(on_machine):
                self.machine_policies[name] = iam.Policy(
                    self,
                    f"{fn.node.id}MachineAccess",
                    roles=[fn.role],  # type: ignore[list-item]
                    statements=[s for s in on_machine if s is not None],
                )


def _built_layer(path: Path) -> Path:
    if not (path / "python").is_dir():
        raise MissingLayerError(
            f"the scientific layer is not built ({path / 'python'} is missing): "
            "run `python layers/build.py` first"
        )
    return path
