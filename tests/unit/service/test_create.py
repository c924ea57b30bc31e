"""CreateJob on fakes: the one place a request is checked, stored, refused or submitted."""
from __future__ import annotations

import pytest
from tuner.errors import DuplicateTuningJobError, ValidationError

from tests.builders import continuous, tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws-cn:states:cn-north-1:111122223333:execution:Tuner:"


def test_create_stores_the_job_in_the_execution_partition_and_plans_laps():
    aws = FakeAws()
    out = aws.service.create_job(tuning_request("a", max_jobs=5, max_parallel=2), EXEC + "a", lap_trials=2)
    assert out == {"TuningJobName": "a", "Laps": [1, 2, 3, 4], "MaxParallel": 2, "LapTrials": 2}
    job = aws.store.get_job("a")
    assert (job.region, job.account, job.created) == ("cn-north-1", "111122223333", "2026-01-01T12:00:00.000+00:00")
    described = aws.service.describe("a")
    assert described["HyperParameterTuningJobArn"] == (
        "arn:aws-cn:sagemaker:cn-north-1:111122223333:hyper-parameter-tuning-job/a"
    )
    assert [d["HyperParameterTuningJobStatus"] for d in aws.events.details] == ["InProgress"]


def test_a_refused_request_is_stored_failed_with_the_reason_and_a_duplicate_leaves_it_alone():
    aws = FakeAws()
    bad = tuning_request("bad", ranges=continuous(5, 1))
    with pytest.raises(ValidationError, match="MinValue"):
        aws.service.create_job(bad, EXEC + "bad")
    stored = aws.store.get_job("bad")
    assert stored.status == "Failed" and "MinValue" in stored.failure_reason
    with pytest.raises(DuplicateTuningJobError, match="exists already"):  # another machine, same name
        aws.service.create_job(tuning_request("bad"), EXEC.replace(":Tuner:", ":TunerCopy:") + "bad")
    assert aws.store.get_job("bad") == stored


def test_a_redelivered_create_of_the_same_execution_is_not_a_duplicate():
    aws = FakeAws()
    first = aws.service.create_job(tuning_request("a"), EXEC + "a")
    assert aws.service.create_job(tuning_request("a"), EXEC + "a") == first
    assert len(aws.events.details) == 1  # InProgress published once


def test_submit_checks_then_starts_the_execution_named_after_the_job():
    aws = FakeAws()
    arn = aws.service.submit(tuning_request("sub"))
    assert arn.endswith(":execution:Tuner:sub") and "sub" in aws.executions.executions
    with pytest.raises(ValidationError):
        aws.service.submit(tuning_request("worse", ranges=continuous(5, 1)))
    assert "worse" not in aws.executions.executions  # nothing started for a refused request


def test_a_missing_warm_start_parent_is_resource_not_found_and_a_child_inherits_metric_definitions():
    aws = FakeAws()
    with pytest.raises(ValidationError) as err:
        aws.service.submit(tuning_request("child", warm_start=["nobody"]))
    assert err.value.code == "ResourceNotFound"
    aws.service.create_job(tuning_request("parent"), EXEC + "parent")
    aws.store.update_job("parent", status="Completed", ended="2026-01-01T12:00:00+00:00")
    child = tuning_request("child", warm_start=["parent"])
    del child["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]  # as the SDK's helpers send it
    aws.service.create_job(child, EXEC + "child")
    stored = aws.store.get_job("child").request["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert stored["MetricDefinitions"] == [{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}]


def test_an_execution_not_named_after_its_job_is_refused_before_anything_is_stored():
    """The console generates an execution name unless given one; the failure path finds the job by
    the execution's name, so such a job could stay InProgress for ever."""
    aws = FakeAws()
    with pytest.raises(ValidationError, match="start the execution with the tuning job's name"):
        aws.service.create_job(tuning_request("named"), EXEC + "3f2a9c1e-console-generated")
    assert aws.store.get_job("named") is None and aws.events.details == []
