"""The tuning job's state machine: retries, catches, the lap loop, the task-token wait and the wait
for capacity."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from tuner import errors
from tuner.core.capacity import CapacityWait

from stacks.workflow import DEFAULT_CAPACITY_WAIT, LAMBDA_SERVICE_ERRORS

LAMBDA_TASKS = ["CreateTuningJob", "Finalize", "LapFailed", "MarkFailed", "NextTrial"]


def states(asl: dict) -> dict[str, dict]:
    """Every state, including those inside Map item processors."""
    found: dict[str, dict] = {}
    for name, state in asl["States"].items():
        found[name] = state
        if state["Type"] == "Map":
            found.update(states(state["ItemProcessor"]))
    return found


@pytest.fixture(scope="module")
def asl(synth) -> dict:
    return synth.asl()


@pytest.fixture(scope="module")
def all_states(asl) -> dict[str, dict]:
    return states(asl)


def test_standard_machine_with_error_logging_without_execution_data_and_tracing(synth):
    synth.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ERROR", "IncludeExecutionData": False}),
        },
    )
    synth.template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value()})


def test_no_jsonata(asl, all_states):
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(s.get("QueryLanguage", "JSONPath") == "JSONPath" for s in all_states.values())


def test_flow_create_then_laps_then_finalize(asl):
    assert asl["StartAt"] == "CreateTuningJob"
    assert asl["States"]["CreateTuningJob"]["Next"] == "RunLaps"
    assert asl["States"]["RunLaps"]["Next"] == "Finalize"
    assert asl["States"]["Finalize"]["Next"] == "Finalized?"
    assert asl["States"]["MarkFailed"]["Next"] == "TuningJobFailed"
    failed = asl["States"]["TuningJobFailed"]
    assert (failed["Type"], failed["Error"]) == ("Fail", "TuningJobFailed")


def test_the_lambda_tasks_are_exactly_the_expected_ones(all_states):
    tasks = sorted(n for n, s in all_states.items() if s["Type"] == "Task")
    assert tasks == sorted(LAMBDA_TASKS)


@pytest.mark.parametrize("name", LAMBDA_TASKS)
def test_every_lambda_task_retries_service_and_transient_errors_with_backoff(all_states, name):
    retried = {}
    for retrier in all_states[name]["Retry"]:
        if retrier["ErrorEquals"] == ["States.Timeout"]:  # NextTrial's lost-wake-up safety net
            assert name == "NextTrial" and retrier["BackoffRate"] == 1 and retrier["MaxAttempts"] >= 1000
            continue
        assert retrier["BackoffRate"] == 2
        assert retrier["MaxAttempts"] == 6
        assert retrier["IntervalSeconds"] >= 1
        for error in retrier["ErrorEquals"]:
            retried[error] = retrier
    assert set(LAMBDA_SERVICE_ERRORS) <= set(retried)
    assert "States.ALL" not in retried


@pytest.mark.parametrize("name", LAMBDA_TASKS)
@pytest.mark.parametrize("error", errors.TRANSIENT_ERRORS, ids=lambda c: c.__name__)
def test_every_lambda_task_retries_every_transient_tuner_error(all_states, name, error):
    """A class in ``tuner.errors.TRANSIENT_ERRORS`` is retried by every task, matched by its class name."""
    [retrier] = [r for r in all_states[name]["Retry"] if error.__name__ in r["ErrorEquals"]]
    assert (retrier["BackoffRate"], retrier["MaxAttempts"]) == (2, 6)
    assert retrier["IntervalSeconds"] >= 1


@pytest.mark.parametrize("error", errors.REQUEST_ERRORS, ids=lambda c: c.__name__)
def test_create_rejects_every_request_error_without_retrying_it(asl, error):
    """A class in ``tuner.errors.REQUEST_ERRORS`` ends the execution in ``RequestRejected``: the first
    catcher that matches it (Step Functions tries them in order) is that one, and no retrier repeats it."""
    create = asl["States"]["CreateTuningJob"]
    first = next(c for c in create["Catch"] if {error.__name__, "States.ALL"} & set(c["ErrorEquals"]))
    assert (first["Next"], first["ResultPath"]) == ("RequestRejected", "$.Error")
    assert not any(error.__name__ in r["ErrorEquals"] for r in create["Retry"])


def test_create_rejects_bad_requests_and_marks_other_failures(asl):
    catches = asl["States"]["CreateTuningJob"]["Catch"]
    assert catches[0] == {
        "ErrorEquals": errors.error_names(errors.REQUEST_ERRORS),
        "ResultPath": "$.Error",
        "Next": "RequestRejected",
    }
    assert catches[-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.Error", "Next": "MarkFailed"}
    assert asl["States"]["RequestRejected"] == {
        "Type": "Fail",
        "ErrorPath": "$.Error.Error",
        "CausePath": "$.Error.Cause",
    }


def test_create_payload_carries_request_execution_and_start_time(asl):
    create = asl["States"]["CreateTuningJob"]
    assert create["Parameters"] == {
        "Request.$": "$",
        "ExecutionArn.$": "$$.Execution.Id",
        "StartTime.$": "$$.Execution.StartTime",
    }
    # The state output is the function's return value: a direct (optimised) function invocation.
    assert "Payload" not in create["Parameters"] and "lambda:invoke" not in create["Resource"]


@pytest.mark.parametrize("name", ["RunLaps", "Finalize"])
def test_later_steps_mark_the_job_failed_on_any_error(asl, name):
    assert asl["States"][name]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.Error", "Next": "MarkFailed"}
    ]


def test_mark_failed_names_the_job_by_execution_and_keeps_the_error(asl):
    mark = asl["States"]["MarkFailed"]
    assert mark["Parameters"] == {"TuningJobName.$": "$$.Execution.Name", "Error.$": "$.Error"}
    assert mark["ResultPath"] is None
    assert "Catch" not in mark  # nothing left to mark if marking fails: the execution fails


def test_laps_are_child_executions_of_a_distributed_map_at_max_parallel_and_discard_results(asl):
    run = asl["States"]["RunLaps"]
    assert run["ItemsPath"] == "$.Laps"  # create_job's {TuningJobName, Laps: [1..K], MaxParallel, LapTrials}
    assert run["ItemSelector"] == {
        "TuningJobName.$": "$.TuningJobName",
        "Lap.$": "$$.Map.Item.Value",
        "Iteration": 0,
        "LapTrials.$": "$.LapTrials",
        "MaxParallel.$": "$.MaxParallel",
        "StartJitter.$": "$.StartJitter",
    }
    # each lap is a Standard child execution with its own history; P of them run at a time
    assert run["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert run["MaxConcurrencyPath"] == "$.MaxParallel" and "MaxConcurrency" not in run
    assert run.get("ToleratedFailureCount", 0) == 0
    assert run["ResultPath"] is None
    assert run["ItemProcessor"]["StartAt"] == "StaggeredStart?"


def test_the_laps_that_start_together_wait_a_random_delay_within_the_plans_window(asl):
    states = asl["States"]["RunLaps"]["ItemProcessor"]["States"]
    choice = states["StaggeredStart?"]
    assert choice["Default"] == "NextTrial"
    (rule,) = choice["Choices"]
    assert rule["And"] == [
        {"Variable": "$.StartJitter", "NumericGreaterThan": 0},
        {"Variable": "$.Lap", "NumericLessThanEqualsPath": "$.MaxParallel"},
    ]
    draw = states[rule["Next"]]
    assert draw["Parameters"] == {"Seconds.$": "States.MathRandom(0, $.StartJitter)"}
    wait = states[draw["Next"]]
    assert wait["Type"] == "Wait" and wait["SecondsPath"] == "$" + draw["ResultPath"][1:] + ".Seconds"
    assert wait["Next"] == "NextTrial"


def test_the_state_machine_may_run_its_laps_as_child_executions(synth):
    """CDK's DistributedMapPolicy: start, describe and stop child executions of this machine only."""
    [(machine, props)] = synth.resources("AWS::StepFunctions::StateMachine").items()
    role = props["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        st
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]

    def actions(st: dict) -> list[str]:
        return st["Action"] if isinstance(st["Action"], list) else [st["Action"]]

    starts = [st for st in statements if "states:StartExecution" in actions(st)]
    assert [st["Resource"] for st in starts] == [{"Ref": machine}]  # itself, nothing else
    for st in statements:
        if any(a in actions(st) for a in ("states:DescribeExecution", "states:StopExecution")):
            text = json.dumps(st["Resource"])
            assert ":execution:" in text and machine in text


def test_next_trial_waits_for_its_task_token_and_rechecks_after_a_timeout(all_states):
    task = all_states["NextTrial"]
    assert task["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert task["Parameters"]["Payload"] == {
        "TaskToken.$": "$$.Task.Token",
        "TuningJobName.$": "$.TuningJobName",
        "Lap.$": "$.Lap",
        "Iteration.$": "$.Iteration",
        "LapTrials.$": "$.LapTrials",
        "CapacityWait": DEFAULT_CAPACITY_WAIT.to_payload(),
    }
    assert task["ResultPath"] == "$.Result"
    # a lost wake-up costs one timeout: the step runs again (idempotently) and checks the job
    assert task["TimeoutSeconds"] == 3600
    assert {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 100000} in [
        {k: r[k] for k in ("ErrorEquals", "IntervalSeconds", "BackoffRate", "MaxAttempts")} for r in task["Retry"]
    ]
    assert task["Next"] == "LapDone?"


def test_a_failing_lap_marks_the_job_failed_with_its_own_error(all_states):
    """The parent sees only the Map Run's threshold error; the lap records the real one first."""
    assert all_states["NextTrial"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.Error", "Next": "LapFailed"}
    ]
    lap_failed = all_states["LapFailed"]
    assert lap_failed["Parameters"] == {"TuningJobName.$": "$.TuningJobName", "Error.$": "$.Error"}
    assert lap_failed["ResultPath"] is None
    assert all_states[lap_failed["Next"]]["Type"] == "Fail"


def test_a_lap_loops_until_done(all_states):
    choice = all_states["LapDone?"]
    assert choice["Choices"][0] == {"Variable": "$.Result.Done", "BooleanEquals": True, "Next": "LapFinished"}
    assert choice["Default"] == "Advance"
    finished = all_states["LapFinished"]  # the lap's output: a few bytes, whatever the lap did
    assert finished["Type"] == "Pass" and finished["Parameters"] == {"Reason.$": "$.Result.Reason"}
    assert finished["End"] is True
    advance = all_states["Advance"]
    assert advance["Parameters"] == {
        "TuningJobName.$": "$.TuningJobName",
        "Lap.$": "$.Lap",
        "Iteration.$": "States.MathAdd($.Iteration, 1)",
        "LapTrials.$": "$.LapTrials",
    }
    assert advance["Next"] == "NextTrial"


def test_a_lap_refused_for_capacity_waits_in_a_wait_state_then_retries_the_same_iteration(all_states):
    """NextTrial answers ``CapacityWaitSeconds`` (an account quota refused the training job): the lap
    waits that long in a Wait state, no Lambda sleeping, and runs NextTrial again with its input
    unchanged, i.e. the same lap iteration, whose claim is the same trial (not through Advance)."""
    choice = all_states["LapDone?"]
    [capacity] = [c for c in choice["Choices"] if c.get("IsPresent") is True]
    assert capacity["Variable"] == "$.Result.CapacityWaitSeconds"
    assert choice["Choices"].index(capacity) > 0  # Done is decided first
    wait = all_states[capacity["Next"]]
    assert wait["Type"] == "Wait" and wait["SecondsPath"] == capacity["Variable"]
    assert wait["Next"] == "NextTrial"
    assert not {"Parameters", "InputPath", "OutputPath", "ResultPath"} & set(wait)  # the lap's state unchanged
    assert all_states["NextTrial"]["Parameters"]["Payload"]["Iteration.$"] == "$.Iteration"


def test_the_capacity_backoff_is_the_documented_default(all_states):
    """What the deployed definition gives NextTrial: 30 s, doubling, at most 5 min each, given up
    after 24 h of refusals (docs/capacity.md); the schedule derived from the payload itself."""
    policy = CapacityWait.from_payload(all_states["NextTrial"]["Parameters"]["Payload"]["CapacityWait"])
    waited, waits = 0, []
    while not policy.gives_up(waited):
        waits.append(policy.wait_seconds(waited))
        waited += waits[-1]
    assert waits[:5] == [30, 60, 120, 240, 300] and max(waits) == 300
    assert waited == 24 * 3600 and len(waits) == 291


def test_a_quota_error_is_never_retried_and_fails_the_lap(all_states):
    """``ResourceLimitExceededError`` (a quota that can never admit the job, or a wait given up) is not
    a retried error: NextTrial's catch sends it to LapFailed, which marks the tuning job Failed."""
    name = errors.ResourceLimitExceededError.__name__
    task = all_states["NextTrial"]
    assert not any(name in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"] for r in task["Retry"])
    assert name not in errors.error_names(errors.TRANSIENT_ERRORS)
    [catch] = task["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "LapFailed"


def test_the_capacity_wait_is_a_setting_of_the_definition(tmp_path):
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_stepfunctions as sfn
    from constructs import Construct
    from tuner import constants

    from stacks.workflow import build_definition

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    functions = {
        name: lambda_.Function.from_function_arn(stack, name, f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
        for name in constants.LAMBDAS
    }
    policy = CapacityWait(first=1, cap=2, give_up=60)
    chain = build_definition(
        Construct(stack, "States"), functions, retry_interval=cdk.Duration.seconds(1), capacity_wait=policy
    )
    machine = sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(chain))
    definition = stack.resolve(machine.node.default_child.definition_string)  # type: ignore[union-attr]
    text = definition if isinstance(definition, str) else "".join(
        p if isinstance(p, str) else "X" for p in definition["Fn::Join"][1]
    )
    payload = states(json.loads(text))["NextTrial"]["Parameters"]["Payload"]["CapacityWait"]
    assert CapacityWait.from_payload(payload) == policy


def test_finalize_status_failed_fails_the_execution(asl):
    assert asl["States"]["Finalize"]["Parameters"] == {"TuningJobName.$": "$.TuningJobName"}
    choice = asl["States"]["Finalized?"]
    assert choice["Choices"] == [
        {"Variable": "$.Status", "StringEquals": "Failed", "Next": "TuningJobFailed"}
    ]
    assert asl["States"][choice["Default"]]["Type"] == "Succeed"


def test_retry_interval_is_a_construct_prop(tmp_path):
    import aws_cdk as cdk

    from stacks.tuner_construct import TunerConstruct

    (tmp_path / "layer" / "python").mkdir(parents=True)  # an empty stand-in: no 140 MB copy
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "Probe")
    tuner = TunerConstruct(
        stack, "Tuner", retry_interval=cdk.Duration.seconds(3), scientific_layer_dir=tmp_path / "layer"
    )
    definition = stack.resolve(tuner.state_machine.node.default_child.definition_string)  # type: ignore[union-attr]
    text = "".join(p if isinstance(p, str) else "" for p in definition["Fn::Join"][1])
    assert '"IntervalSeconds":3' in text
    assert text.count('"IntervalSeconds":1,') == 1  # only NextTrial's timeout retrier keeps 1 s
