"""The monitor's sweep on fakes: reconciling jobs whose execution ended without finalising them."""
from __future__ import annotations

import pytest

from tests.builders import tuning_request
from tests.fakes import FakeAws


@pytest.mark.parametrize(("status", "error"), [("ABORTED", "ExecutionAborted"), ("TIMED_OUT", "ExecutionTimedOut")])
def test_a_job_whose_execution_ended_unfinished_is_failed_and_its_jobs_stopped(status, error):
    aws = FakeAws()
    request = tuning_request("orphan", max_jobs=3, max_parallel=1)
    arn = aws.executions.start("orphan", request)
    aws.service.create_job(request, arn)
    training = aws.service.next_trial("orphan", 1, 0, "t1")["TrainingJobName"]
    assert aws.service.sweep()["Actions"] == []  # running: nothing to reconcile
    aws.executions.end("orphan", status)
    actions = aws.service.sweep()["Actions"]
    assert actions == [{"TuningJobName": "orphan", "Action": "Fail", "Reason": actions[0]["Reason"]}]
    job = aws.store.get_job("orphan")
    assert job.status == "Failed"
    assert job.failure_reason.startswith(f"{error}: the tuning job's execution ended {status}")
    assert aws.backend.stopped == [training]
    assert aws.events.details[-1]["HyperParameterTuningJobStatus"] == "Failed"
    assert aws.service.sweep()["Actions"] == []  # terminal now: the next sweep leaves it alone


def test_a_finished_execution_and_a_service_without_executions_change_nothing():
    aws = FakeAws()
    request = tuning_request("done", max_jobs=1)
    aws.service.create_job(request, aws.executions.start("done", request))
    aws.executions.end("done", "SUCCEEDED")  # Finalize always ran before an execution succeeds
    assert aws.service.sweep()["Actions"] == []
    assert aws.store.get_job("done").status == "InProgress"
