"""No orphans: an execution started under another name is refused; an aborted execution's job is
reconciled by the sweeper (marked Failed, its running training jobs stopped)."""
from __future__ import annotations

import json
import time

import pytest

from tests.builders import EXAMPLES, SCRIPTS, continuous, tuning_request

pytestmark = pytest.mark.e2e


def test_an_execution_with_a_console_generated_name_is_refused_and_stores_nothing(local_tuner):
    request = local_tuner.prepare(tuning_request("orph-named", source="quick", ranges=continuous(1, 5)), SCRIPTS)
    arn = local_tuner.sfn.start_execution(
        stateMachineArn=local_tuner.deployment.state_machine_arn,
        name="0b7c5e8e-generated-by-the-console",
        input=json.dumps(request),
    )["executionArn"]
    deadline = time.monotonic() + 60
    while (execution := local_tuner.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert execution["status"] == "FAILED" and execution["error"] == "ValidationError"
    assert "start the execution with the tuning job's name" in execution["cause"]
    assert local_tuner.service.store.get_job("orph-named") is None


def test_an_aborted_execution_leaves_no_job_in_progress_and_no_training_job_running(local_tuner):
    # GIVEN a job whose training jobs run long
    request = tuning_request(
        "orph-abort", source="epochs", ranges=continuous(0, 10), max_jobs=4, max_parallel=2,
        static={"epochs": "200", "sleep": "0.2"},
    )
    local_tuner.start(request, base_dir=EXAMPLES)
    store = local_tuner.service.store
    deadline = time.monotonic() + 60
    while not any(t.status == "InProgress" for t in store.list_trials("orph-abort")):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # WHEN its execution is stopped (aborted) from outside, as from the console
    arn = local_tuner.execution_arn("orph-abort")
    local_tuner.sfn.stop_execution(executionArn=arn)
    deadline = time.monotonic() + 60
    while local_tuner.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":  # moto aborts a moment later
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert local_tuner.service.store.get_job("orph-abort").status == "InProgress"  # nothing finalised it
    # THEN the next sweep marks the job Failed and stops its training jobs
    actions = local_tuner.sweep()["Actions"]
    assert {"TuningJobName": "orph-abort", "Action": "Fail"}.items() <= actions[0].items()
    local_tuner.sagemaker.wait_idle(60)
    deadline = time.monotonic() + 60
    # the stopped training jobs' state-change events record them
    while (describe := local_tuner.describe("orph-abort"))["TrainingJobStatusCounters"]["InProgress"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert describe["FailureReason"].startswith("ExecutionAborted: the tuning job's execution ended ABORTED")
    assert describe["TrainingJobStatusCounters"]["InProgress"] == 0
    assert describe["TrainingJobStatusCounters"]["Stopped"] >= 1
