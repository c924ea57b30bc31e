"""The tuning job's Standard state machine (JSONPath ASL), built from the tuner's Lambdas.

Execution input: the ``CreateHyperParameterTuningJob`` request; execution name: the tuning job
name. Shape::

    CreateTuningJob --> RunLaps (distributed Map over $.Laps) --> Finalize --> Finalized? --> Succeeded
      |  |         each lap (a child execution, MaxParallel at a time):    \\--> TuningJobFailed
      |  |           StaggeredStart? --(one of the first P, J > 0)--> DrawStartDelay --> StaggeredStart
      |  |             (0..J s) then, or else at once:
      |  |           NextTrial (waitForTaskToken) <--+---------------+    --error--> LapFailed --> LapAborted
      |  |           LapDone? --no--> Advance -------+               |
      |  |                    |--wait for capacity--> CapacityWait --+  (SecondsPath, from NextTrial)
      |  |                    \\--yes--> LapFinished
      |  \\-- REQUEST_ERRORS (ValidationError, DuplicateTuningJobError) --> RequestRejected (Fail)
      \\-- anything else (also from RunLaps and Finalize) --> MarkFailed --> TuningJobFailed

A lap is one child execution of the distributed Map: it runs at most LapTrials trials one after
another (create_job's ``lap_plan``). Each lap keeps its own 25,000-event history, so a tuning job of
any size fits. A trial refused by an account quota (``ResourceLimitExceeded``) makes NextTrial
answer ``CapacityWaitSeconds``: the lap waits that long in ``CapacityWait`` and runs NextTrial again
for the same iteration (the same trial), on the backoff ``CapacityWait`` it is given
(``docs/capacity.md``).

Retry/Catch error names come from the exception classes of ``tuner.errors`` (a Lambda's unhandled
exception's error name is its class name), so renaming a class cannot silently break a clause.

Payloads stay small (names and numbers): the history of a tuning job lives in DynamoDB.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct
from tuner import errors
from tuner.core.capacity import CapacityWait

# Lambda's own transient failures (what ``retry_on_service_exceptions`` would add, plus throttling).
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    # Step Functions' "Handle Lambda service exceptions" best practice
    # (docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html): a transient
    # 500 from the invoke, and Lambda.Unknown (a function timeout or out-of-memory: our steps are
    # idempotent, so a retry is safe; a persistent one still ends in MarkFailed after the attempts)
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.Unknown",
]
# The tuner's transient errors (tuner.errors.TRANSIENT_ERRORS): an optimistic-lock conflict, a
# throttled backend. Every Lambda task retries them with backoff.
TUNER_TRANSIENT_ERRORS = errors.error_names(errors.TRANSIENT_ERRORS)
# Request errors (tuner.errors.REQUEST_ERRORS): the request is rejected, no tuning job record is
# marked (there may be none).
REQUEST_ERRORS = errors.error_names(errors.REQUEST_ERRORS)

RETRY_BACKOFF_RATE = 2.0
WAIT_RETRIES = 100_000  # NextTrial timeouts retried (each costs 4 history events)
RETRY_MAX_ATTEMPTS = 6
FAILED_ERROR = "TuningJobFailed"
# How long a lap waits on its training job's token before NextTrial runs again to check the job.
DEFAULT_LAP_WAIT_TIMEOUT = Duration.hours(1)
# How a lap waits for capacity when an account quota refuses its training job: 30 s, doubling, each
# wait at most 5 min, the tuning job failing after 24 h of refusals (docs/capacity.md).
DEFAULT_CAPACITY_WAIT = CapacityWait()
# NextTrial's answer when the lap is to wait for capacity (seconds, an integer).
CAPACITY_WAIT_SECONDS = "$.Result.CapacityWaitSeconds"


def build_definition(
    scope: Construct,
    functions: Mapping[str, lambda_.IFunction],
    *,
    retry_interval: Duration,
    lap_wait_timeout: Duration = DEFAULT_LAP_WAIT_TIMEOUT,
    capacity_wait: CapacityWait = DEFAULT_CAPACITY_WAIT,
) -> sfn.IChainable:
    """Return the chain that starts at ``CreateTuningJob``; ``functions`` maps LAMBDAS names.

    ``capacity_wait`` reaches NextTrial in its payload (``CapacityWait``): the Lambda computes each
    wait from it, the ``CapacityWait`` state waits what it answers.
    """

    def invoke(state_id: str, name: str, payload: dict, **kwargs: object) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            scope,
            state_id,
            lambda_function=functions[name],
            payload=sfn.TaskInput.from_object(payload),
            # the state output is the function's return value (a task token's output is anyway)
            payload_response_only="integration_pattern" not in kwargs,
            retry_on_service_exceptions=False,  # replaced by the retriers below (configurable interval)
            **kwargs,  # type: ignore[arg-type]
        )
        for names in (LAMBDA_SERVICE_ERRORS, TUNER_TRANSIENT_ERRORS):
            task.add_retry(
                errors=names,
                interval=retry_interval,
                backoff_rate=RETRY_BACKOFF_RATE,
                max_attempts=RETRY_MAX_ATTEMPTS,
            )
        return task

    job_failed = sfn.Fail(
        scope,
        "TuningJobFailed",
        error=FAILED_ERROR,
        cause="The tuning job failed: DescribeHyperParameterTuningJob gives its FailureReason.",
    )
    mark_failed = invoke(
        "MarkFailed",
        "fail_job",
        {"TuningJobName": sfn.JsonPath.execution_name, "Error": sfn.JsonPath.object_at("$.Error")},
        result_path=sfn.JsonPath.DISCARD,
    ).next(job_failed)

    create = invoke(
        "CreateTuningJob",
        "create_job",
        {
            "Request": sfn.JsonPath.entire_payload,
            "ExecutionArn": sfn.JsonPath.execution_id,
            "StartTime": sfn.JsonPath.execution_start_time,
        },
        comment="Validate and store the request; output {TuningJobName, Laps: [1..K], MaxParallel, LapTrials}",
    )
    create.add_catch(
        sfn.Fail(scope, "RequestRejected", error_path="$.Error.Error", cause_path="$.Error.Cause"),
        errors=REQUEST_ERRORS,
        result_path="$.Error",
    )
    create.add_catch(mark_failed, errors=[sfn.Errors.ALL], result_path="$.Error")

    next_trial = invoke(
        "NextTrial",
        "next_trial",
        {
            "TaskToken": sfn.JsonPath.task_token,
            "TuningJobName": sfn.JsonPath.string_at("$.TuningJobName"),
            "Lap": sfn.JsonPath.number_at("$.Lap"),
            "Iteration": sfn.JsonPath.number_at("$.Iteration"),
            "LapTrials": sfn.JsonPath.number_at("$.LapTrials"),
            "CapacityWait": capacity_wait.to_payload(),
        },
        integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        result_path="$.Result",
        task_timeout=sfn.Timeout.duration(lap_wait_timeout),
        comment="Start the next training job; the token completes when it ends ({Done: bool, ...}). "
        "On a timeout the step runs again for the same lap iteration: it claims the same trial, "
        "stores a fresh token and completes it at once if the job has ended (a lost wake-up costs "
        "one timeout, never the job).",
    )
    # A lost token is survivable: the step is idempotent per lap iteration. Retry on the
    # timeout indefinitely (a training job may run for days), without backoff.
    next_trial.add_retry(
        errors=[sfn.Errors.TIMEOUT], interval=Duration.seconds(1), backoff_rate=1.0, max_attempts=WAIT_RETRIES
    )
    # A lap that fails marks the tuning job Failed itself, with its own error and cause: the parent
    # only sees the Map Run's "States.ExceedToleratedFailureThreshold".
    lap_failed = invoke(
        "LapFailed",
        "fail_job",
        {"TuningJobName": sfn.JsonPath.string_at("$.TuningJobName"), "Error": sfn.JsonPath.object_at("$.Error")},
        result_path=sfn.JsonPath.DISCARD,
    ).next(sfn.Fail(scope, "LapAborted", error=FAILED_ERROR, cause="The lap failed; the tuning job is Failed."))
    next_trial.add_catch(lap_failed, errors=[sfn.Errors.ALL], result_path="$.Error")
    advance = sfn.Pass(
        scope,
        "Advance",
        parameters={
            "TuningJobName": sfn.JsonPath.string_at("$.TuningJobName"),
            "Lap": sfn.JsonPath.number_at("$.Lap"),
            "Iteration": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.Iteration"), 1),
            "LapTrials": sfn.JsonPath.number_at("$.LapTrials"),
        },
    )
    advance.next(next_trial)
    # An account quota refused the trial's training job: wait, then the same iteration again (the
    # same claimed trial). The wait is a state, not a sleep in a Lambda: it costs no compute.
    capacity = sfn.Wait(
        scope,
        "CapacityWait",
        time=sfn.WaitTime.seconds_path(CAPACITY_WAIT_SECONDS),
        comment="An account quota (ResourceLimitExceeded) refused the training job: wait, then NextTrial "
        "again for the same lap iteration (docs/capacity.md)",
    )
    capacity.next(next_trial)
    next_trial.next(
        sfn.Choice(scope, "LapDone?")
        .when(
            sfn.Condition.boolean_equals("$.Result.Done", True),
            # the lap's output (collected by the Map Run, then discarded): a few bytes
            sfn.Pass(scope, "LapFinished", parameters={"Reason": sfn.JsonPath.string_at("$.Result.Reason")}),
        )
        .when(sfn.Condition.is_present(CAPACITY_WAIT_SECONDS), capacity)
        .otherwise(advance)
    )

    # The first MaxParallel laps start at once: each waits a random 0..StartJitter seconds first
    # (core.laps.LAP_STARTS_PER_SECOND), so the proposer is not called by all of them together.
    staggered = (
        sfn.Choice(scope, "StaggeredStart?", comment="One of the laps that start together, with a jitter window?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.number_greater_than("$.StartJitter", 0),
                sfn.Condition.number_less_than_equals_json_path("$.Lap", "$.MaxParallel"),
            ),
            sfn.Pass(
                scope,
                "DrawStartDelay",
                parameters={"Seconds": sfn.JsonPath.math_random(0, sfn.JsonPath.number_at("$.StartJitter"))},
                result_path="$.StartDelay",
            ).next(
                sfn.Wait(
                    scope,
                    "StaggeredStart",
                    time=sfn.WaitTime.seconds_path("$.StartDelay.Seconds"),
                    comment="A random delay before the lap's first NextTrial (jittered start)",
                ).next(next_trial)
            ),
        )
        .otherwise(next_trial)
    )

    run_laps = sfn.DistributedMap(
        scope,
        "RunLaps",
        items_path="$.Laps",
        item_selector={
            "TuningJobName": sfn.JsonPath.string_at("$.TuningJobName"),
            "Lap": sfn.JsonPath.number_at("$$.Map.Item.Value"),
            "Iteration": 0,
            "LapTrials": sfn.JsonPath.number_at("$.LapTrials"),
            "MaxParallel": sfn.JsonPath.number_at("$.MaxParallel"),
            "StartJitter": sfn.JsonPath.number_at("$.StartJitter"),
        },
        max_concurrency_path="$.MaxParallel",  # MaxParallelTrainingJobs laps run at a time
        map_execution_type=sfn.StateMachineType.STANDARD,  # waitForTaskToken; a lap may run for days
        label="Laps",
        tolerated_failure_count=0,
        result_path=sfn.JsonPath.DISCARD,
        comment="Laps of at most LapTrials trials, each a child execution with its own history; "
        "MaxParallel run at once, each looping NextTrial until it is told it is done",
    )
    run_laps.item_processor(staggered)
    run_laps.add_catch(mark_failed, errors=[sfn.Errors.ALL], result_path="$.Error")

    finalize = invoke(
        "Finalize",
        "finalize",
        {"TuningJobName": sfn.JsonPath.string_at("$.TuningJobName")},
        comment="Best training job, final status and counters; output {TuningJobName, Status}",
    )
    finalize.add_catch(mark_failed, errors=[sfn.Errors.ALL], result_path="$.Error")
    finalized = (
        sfn.Choice(scope, "Finalized?")
        .when(sfn.Condition.string_equals("$.Status", "Failed"), job_failed)
        .otherwise(sfn.Succeed(scope, "TuningJobSucceeded"))
    )
    return create.next(run_laps).next(finalize).next(finalized)
