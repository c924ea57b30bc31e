"""``TunerConstruct``: the whole tuner (table, bucket, layers, Lambdas, state machine, rules, IAM).

Asset paths come from this file's location, never from the working directory. The scientific
layer is built by ``python layers/build.py`` (no Docker); synthesis stops with that instruction
when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, ArnFormat, Duration, Fn, RemovalPolicy, Stack
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
from tuner.core import tuner_events
from tuner.core.capacity import CapacityWait
from tuner.core.quotas import AMT_QUOTAS, Quotas

from stacks.functions import (
    CODE_EXCLUDE,
    FUNCTIONS,
    SCIENTIFIC,
    TRAINING_JOB_SCOPES,
    TUNER,
    TUNER_LAYER_EXCLUDE,
    TagScope,
    thread_environment,
)
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
    :param max_parallel_training_jobs: the most ``MaxParallelTrainingJobs`` a request may ask
        (AMT's default quota 10; at most 100). A request over any of these quotas is refused
        (``tuner.core.quotas``, docs/quotas.md); the create_job Lambda gets them in its environment.
    :param max_training_jobs: the most training jobs of a Bayesian, Hyperband or Grid tuning job
        (``MaxNumberOfTrainingJobs``, for Grid its number of combinations; AMT's default 750).
    :param max_random_training_jobs: the same for the Random strategy (AMT's default 750,
        raisable to 10,000).
    :param max_concurrent_tuning_jobs: tuning jobs of this deployment running at once (AMT's
        default quota 100 per account); one more is refused with ResourceLimitExceeded.
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
    :param retune_sender_arns: IAM principals (role or user ARNs; ``*`` wildcards allowed) that may
        put "Retune Requested" events on the tuner's bus. Nobody else may put events there, however
        broad their own ``events:PutEvents`` grant (the bus policy denies it; docs/security.md).
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
        max_parallel_training_jobs: int = AMT_QUOTAS.max_parallel_training_jobs,
        max_training_jobs: int = AMT_QUOTAS.max_training_jobs,
        max_random_training_jobs: int = AMT_QUOTAS.max_random_training_jobs,
        max_concurrent_tuning_jobs: int = AMT_QUOTAS.max_concurrent_tuning_jobs,
        log_level: str = "INFO",
        scientific_layer_dir: Path = SCIENTIFIC_LAYER_DIR,
        retune_data_triggers: Sequence[DataTrigger | Mapping[str, Any]] = (),
        retune_schedules: Sequence[RetuneSchedule | Mapping[str, Any]] = (),
        retune_auto_deploy: bool = False,
        retune_sender_arns: Sequence[str] = (),
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if lap_trials < 1:
            raise ValueError(f"lap_trials={lap_trials!r}: a lap holds at least one trial")
        self.quotas = Quotas(  # validated there: ValueError naming the prop and its bounds
            max_parallel_training_jobs=max_parallel_training_jobs,
            max_training_jobs=max_training_jobs,
            max_random_training_jobs=max_random_training_jobs,
            max_concurrent_tuning_jobs=max_concurrent_tuning_jobs,
        )
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
            Annotations.of(self).add_warning_v2(
                "tuner:default-execution-roles",
                "allowed_execution_role_arns not given: tuning jobs may use every role of the account whose "
                "name contains 'SageMaker', and whoever may start the state machine may run code under them "
                "(docs/security.md). Name the roles.",
            )
            role_arns = [
                stack.format_arn(service="iam", region="", resource="role", resource_name="*SageMaker*")
            ]
        self.allowed_execution_role_arns = role_arns

        self.table = self._table()
        self.bucket = self._bucket()
        self.key = self._logs_key()

        layers = {
            TUNER: lambda_.LayerVersion(
                self,
                "TunerLayer",
                code=lambda_.Code.from_asset(str(TUNER_LAYER_DIR), exclude=list(TUNER_LAYER_EXCLUDE)),
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
        # The tuner's own events ("Hyperparameter Tuning Job State Change", "Retune Requested")
        # travel on a bus of their own, which only the tuner and the listed senders may put
        # events on (docs/security.md); SageMaker's and S3's events stay on the default bus, where
        # an ``aws.*`` source cannot be forged.
        self.event_bus = events.EventBus(self, "Events", description="The tuner's own events")
        environment = {
            constants.ENV_TABLE_NAME: self.table.table_name,
            constants.ENV_BUCKET_NAME: self.bucket.bucket_name,
            constants.ENV_EVENT_BUS_NAME: self.event_bus.event_bus_name,
            constants.ENV_LOG_LEVEL: log_level,
        }
        # create_job plans the laps and enforces the quotas (tuner.service.create)
        # (the front door refuses what the quotas refuse before it starts an execution)
        own_environment = {
            "create_job": {constants.ENV_LAP_TRIALS: str(lap_trials), **self.quotas.environment()},
            "front_door": self.quotas.environment(),
        }
        self.functions: dict[str, lambda_.Function] = {
            name: self._function(
                name, {**environment, **own_environment.get(name, {}), **thread_environment(FUNCTIONS[name])}, layers
            )
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
                destination=self._log_group(
                    "StateMachineLogs", encryption_key=self.key, log_group_name=self.state_machine_log_group_name
                ),
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
            description="Finished SageMaker training jobs of this deployment wake the tuner lap waiting on them",
            # Only the jobs tagged with this deployment (the event's detail carries the job's Tags
            # as a {key: value} map: "Events that Amazon SageMaker sends to Amazon EventBridge"):
            # another team's jobs never wake the training_event Lambda (numpy and scipy, cold).
            event_pattern=events.EventPattern(
                source=[constants.SAGEMAKER_SOURCE],
                detail_type=[constants.TRAINING_STATE_CHANGE],
                detail={
                    "TrainingJobStatus": TRAINING_STATUSES_DONE,
                    "Tags": {constants.DEPLOYMENT_TAG: [self.deployment]},
                },
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
        self._guard_event_bus(retune_sender_arns)
        self.front_door_url, self.user_policy = self._front_door()
        self.retuning = Retuning(
            self,
            "Retuning",
            function=self.functions["retune"],
            state_machine=self.state_machine,
            execution_role_arns=self.allowed_execution_role_arns,
            deployment=self.deployment,
            event_bus=self.event_bus,
            data_triggers=retune_data_triggers,
            schedules=retune_schedules,
            dead_letter_queue=self.dead_letter_queue,
            auto_deploy=retune_auto_deploy,
        )
        self.alarms: list[cloudwatch.Alarm] = self._alarms(alarm_topic) if alarms else []

    # --- resources -------------------------------------------------------------------------------

    def _alarms(self, topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        """Alarms an operator wants: a tuning job failed or timed out, an event was undeliverable,
        a tuner Lambda failed (retries usually absorb these; a sustained rate needs a look), a
        tuning job's state-change event was lost.

        A lost state-change event is not a Lambda error (publishing is best effort): the function
        logs an ERROR line holding ``tuner_events.NOT_PUBLISHED``. A metric filter on the log group
        of each function that publishes (``Grants.publish_events``) counts those lines, 1 each, in
        ``tuner_events.METRIC_NAMESPACE`` / ``METRIC_NOT_PUBLISHED`` ("Creating metrics from log
        events using filters", CloudWatch Logs user guide); the alarm fires on one in five minutes.
        The metric has no dimension, so tuner stacks in one account and region share it; the log
        line names the job."""
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
        # Throttled invocations of any tuner Lambda: the laps of a large job start together, and a new
        # account's concurrency quota can be low. Step Functions retries a throttled invocation
        # (Lambda.TooManyRequestsException); a sustained rate slows every tuning job ("Lambda
        # function scaling", Lambda developer guide: raise the account's concurrency quota).
        throttles = {
            f"t{i}": fn.metric_throttles(period=five_minutes, statistic=cloudwatch.Stats.SUM)
            for i, (_, fn) in enumerate(sorted(self.functions.items()))
        }
        alarms.append(
            cloudwatch.MathExpression(
                expression=f"SUM([{','.join(throttles)}])",
                using_metrics=throttles,
                label="Throttles of the tuner's Lambdas",
                period=five_minutes,
            ).create_alarm(
                self,
                "LambdaThrottled",
                alarm_description="The tuner's Lambdas were throttled (the account's concurrency quota); "
                "invocations are retried, but jobs slow down: raise the quota",
                **{**one_period, "threshold": 10},
            )
        )
        for name, fn in sorted(self.functions.items()):
            if not FUNCTIONS[name].grants.publish_events:
                continue
            logs.MetricFilter(
                self,
                f"EventsNotPublished{name.title().replace('_', '')}",
                log_group=fn.log_group,
                filter_pattern=logs.FilterPattern.all_terms(tuner_events.NOT_PUBLISHED),
                metric_namespace=tuner_events.METRIC_NAMESPACE,
                metric_name=tuner_events.METRIC_NOT_PUBLISHED,
                metric_value="1",
            )
        not_published = cloudwatch.Metric(
            namespace=tuner_events.METRIC_NAMESPACE,
            metric_name=tuner_events.METRIC_NOT_PUBLISHED,
            statistic=cloudwatch.Stats.SUM,
            period=five_minutes,
        )
        alarms.append(
            not_published.create_alarm(
                self,
                "StateChangeEventsNotPublished",
                alarm_description="A tuning job's state-change event could not be published (after retries); "
                f"search the tuner's logs for {tuner_events.NOT_PUBLISHED}",
                **one_period,
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
        # Sparse: only open trials (not recorded, or holding a task token) carry ``open_pk``; a job's
        # running trials without its history (tuner.aws.store.DynamoStore.open_trials).
        table.add_global_secondary_index(
            index_name="open-trials",
            partition_key=dynamodb.Attribute(name="open_pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
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

    @property
    def deployment(self) -> str:
        """The value of the ``tuner:deployment`` tag (``constants.DEPLOYMENT_TAG``) on this
        deployment's training jobs: its table's name, which every function has in its environment
        (``constants.ENV_TABLE_NAME``; ``tuner.wiring`` tags the jobs with it)."""
        return self.table.table_name

    def _logs_key(self) -> kms.Key:
        """The key of the state machine's log group, usable by CloudWatch Logs for that log group only.

        The key policy lets the CloudWatch Logs service of this region use it only when the
        encryption context ``kms:EncryptionContext:aws:logs:arn`` is that log group's ARN ("Encrypt
        log data in CloudWatch Logs using AWS Key Management Service", CloudWatch Logs user guide):
        no other log group can be made to use it (the confused deputy). The group's ARN must be
        known before the group exists (the group names the key), so the group has a fixed name under
        ``/aws/vendedlogs/states/`` (the prefix "Logging Step Functions using CloudWatch Logs"
        recommends), made unique per stack instance by the UUID in the stack's id: a retained group
        of a deleted stack never collides with a new one.
        """
        stack = Stack.of(self)
        instance = Fn.select(2, Fn.split("/", stack.stack_id))
        self.state_machine_log_group_name = f"/aws/vendedlogs/states/{stack.stack_name}-{self.node.id}-{instance}"
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.state_machine_log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        key = kms.Key(
            self,
            "LogsKey",
            description="Encrypts the tuner state machine's log group",
            enable_key_rotation=True,
            removal_policy=self._removal_policy,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsForTheStateMachineLogGroupOnly",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
            )
        )
        return key

    def _log_group(
        self, construct_id: str, *, encryption_key: kms.IKey | None = None, log_group_name: str | None = None
    ) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=log_group_name,
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

    def _front_door(self) -> tuple[lambda_.FunctionUrl, iam.ManagedPolicy]:
        """The front door's function URL (AuthType AWS_IAM: Lambda authenticates the caller, the
        function asks IAM what it may do) and the managed policy a user of the tuner needs besides
        their own SageMaker permissions: invoke the URL, read the deployment's tuning jobs, find
        the stack (docs/security.md, "The front door")."""
        stack = Stack.of(self)
        fn = self.functions["front_door"]
        fn.add_environment(constants.ENV_STATE_MACHINE_ARN, self.state_machine.state_machine_arn)
        url = fn.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        policy = iam.ManagedPolicy(
            self,
            "UserPolicy",
            description="Use the tuner: its front door (create, stop, tag tuning jobs, each checked against "
            "the caller's own SageMaker and PassRole permissions) and read its tuning jobs",
            statements=[
                iam.PolicyStatement(
                    sid="CallTheFrontDoor",
                    actions=["lambda:InvokeFunctionUrl"],
                    resources=[fn.function_arn],
                    conditions={"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
                ),
                allow(
                    "ReadTuningJobs",
                    ["dynamodb:GetItem", "dynamodb:Query"],
                    [self.table.table_arn, f"{self.table.table_arn}/index/*"],
                ),
                read_executions(self.state_machine),  # a job just created: its execution answers describe
                allow(
                    "FindTheTuner",
                    ["cloudformation:DescribeStacks"],
                    [
                        stack.format_arn(
                            service="cloudformation", resource="stack", resource_name=f"{stack.stack_name}/*"
                        )
                    ],
                ),
            ],
        )
        return url, policy

    # --- permissions -----------------------------------------------------------------------------

    def _guard_event_bus(self, senders: Sequence[str]) -> None:
        """Only the tuner's publishing functions and ``senders`` may put events on its bus.

        Within one account an identity policy that allows ``events:PutEvents`` on ``*`` is enough to
        put events on any bus; only an explicit Deny in the bus's resource policy keeps such a
        principal out ("Using resource-based policies for Amazon EventBridge", EventBridge user
        guide; a Deny wins over any Allow, "Policy evaluation logic", IAM user guide)."""
        allowed = [
            self.functions[name].role.role_arn  # type: ignore[union-attr]
            for name in constants.LAMBDAS
            if FUNCTIONS[name].grants.publish_events
        ]
        self.retune_sender_arns = list(senders)
        self.event_bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheTunerAndRetuneSenders",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.event_bus.event_bus_arn],
                conditions={"ArnNotLike": {"aws:PrincipalArn": [*allowed, *self.retune_sender_arns]}},
            )
        )

    def _tagged(self, actions: Sequence[str], training_jobs: str) -> list[iam.PolicyStatement]:
        """``sagemaker:<action>`` on ``training_jobs`` under each action's tag condition
        (``TRAINING_JOB_SCOPES``), one statement per condition: only this deployment's jobs."""
        by_scope: dict[TagScope, list[str]] = {}
        for action in actions:
            by_scope.setdefault(TRAINING_JOB_SCOPES[action], []).append(f"sagemaker:{action}")
        return [
            iam.PolicyStatement(
                sid=scope.sid,
                actions=granted,
                resources=[training_jobs],
                conditions=scope.conditions(self.deployment),
            )
            for scope, granted in by_scope.items()
        ]

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
        algorithms = [
            stack.format_arn(service="sagemaker", resource="algorithm", resource_name="*"),
            f"arn:{stack.partition}:sagemaker:*:*:algorithm/*",
        ]
        machine_arn = machine.state_machine_arn

        def iam_arn(resource: str) -> str:
            return stack.format_arn(service="iam", region="", resource=resource.split("/")[0], resource_name="*")

        table, indexes = self.table.table_arn, f"{self.table.table_arn}/index/*"
        for name, fn in self.functions.items():
            g = FUNCTIONS[name].grants
            statements = [
                allow("ReadWriteTable", [f"dynamodb:{a}" for a in g.table], [table]) if g.table else None,
                allow("QueryTableIndexes", [f"dynamodb:{a}" for a in g.index], [indexes]) if g.index else None,
                *self._tagged(g.training_jobs, training_jobs),
                pass_role_to_sagemaker("PassExecutionRoleToSageMaker", self.allowed_execution_role_arns)
                if g.pass_execution_role
                else None,
                allow("ListTrainingLogStreams", ["logs:DescribeLogStreams"], [log_group, log_streams])
                if g.training_logs
                else None,
                allow("ReadTrainingLogs", ["logs:GetLogEvents"], [log_streams]) if g.training_logs else None,
                allow("PublishStateChanges", ["events:PutEvents"], [self.event_bus.event_bus_arn])
                if g.publish_events
                else None,
                # An AlgorithmName is one of this account's algorithms, or a Marketplace algorithm
                # (an ARN in the seller's account and any region).
                allow("DescribeAlgorithms", ["sagemaker:DescribeAlgorithm"], algorithms)
                if g.describe_algorithms
                else None,
                # IAM is global: role and user ARNs carry no region. GetRole turns an assumed-role
                # session into its role's ARN (with its path) for the simulator.
                allow("ResolveCallerRoles", ["iam:GetRole"], [iam_arn("role/*")]) if g.check_callers else None,
                allow("SimulateCallers", ["iam:SimulatePrincipalPolicy"], [iam_arn("role/*"), iam_arn("user/*")])
                if g.check_callers
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
