"""CreateJob on fakes: the one place a request is checked, stored, refused or submitted."""
from __future__ import annotations

import pytest
from tuner.errors import DuplicateTuningJobError, ValidationError

from tests.builders import categorical, continuous, tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws-cn:states:cn-north-1:111122223333:execution:Tuner:"


def test_create_stores_the_job_in_the_execution_partition_and_plans_laps():
    aws = FakeAws()
    out = aws.service.create_job(tuning_request("a", max_jobs=5, max_parallel=2), EXEC + "a", lap_trials=2)
    assert out == {"TuningJobName": "a", "Laps": [1, 2, 3, 4], "MaxParallel": 2, "LapTrials": 2, "StartJitter": 0}
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


# ---- names are unique regardless of case (SageMaker) ----------------------------------------------
def test_a_name_differing_only_in_case_is_a_duplicate_and_the_name_is_kept_as_created():
    aws = FakeAws()
    aws.service.create_job(tuning_request("Case-Job"), EXEC + "Case-Job")
    # WHEN the same name in another case is submitted, or its execution started another way
    with pytest.raises(DuplicateTuningJobError, match="'Case-Job' exists already") as err:
        aws.service.submit(tuning_request("case-job"))
    assert err.value.code == "ResourceInUse"
    assert "case-job" not in aws.executions.executions  # nothing started
    with pytest.raises(DuplicateTuningJobError):
        aws.service.create_job(tuning_request("CASE-JOB"), EXEC + "CASE-JOB")
    # THEN the one job answers to any case, under the name it was created with
    for name in ("Case-Job", "case-job", "CASE-JOB"):
        d = aws.service.describe(name)
        assert d["HyperParameterTuningJobName"] == "Case-Job"
        assert d["HyperParameterTuningJobArn"].endswith(":hyper-parameter-tuning-job/case-job")
    assert [j.name for j in aws.store.list_jobs()] == ["Case-Job"]


def test_a_warm_start_parent_is_found_in_any_case():
    aws = FakeAws()
    aws.service.create_job(tuning_request("Parent-A"), EXEC + "Parent-A")
    aws.store.update_job("parent-a", status="Completed", ended="2026-01-01T12:00:00+00:00")
    assert aws.service.submit(tuning_request("child", warm_start=["PARENT-A"])).endswith(":child")


# ---- what is stored is the request as it runs ----------------------------------------------------
def test_autotune_is_stored_and_described_with_the_ranges_and_settings_it_chose():
    aws = FakeAws()
    request = tuning_request("auto", max_jobs=None, auto_parameters={"x": "2.0", "mode": "fast"})
    aws.service.create_job(request, EXEC + "auto")
    stored = aws.store.get_job("auto").request
    assert "AutoParameters" not in stored["HyperParameterTuningJobConfig"]["ParameterRanges"]
    d = aws.service.describe("auto")
    assert d["Autotune"] == {"Mode": "Enabled"}
    config = d["HyperParameterTuningJobConfig"]
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "x", "MinValue": "0.2", "MaxValue": "20", "ScalingType": "Logarithmic"}
    ]
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 20
    assert d["TrainingJobDefinition"]["StaticHyperParameters"]["mode"] == "fast"
    # AND the trials run the chosen range with the static hint
    out = aws.service.next_trial("auto", 1, 0, "token")
    started = aws.backend.started[out["TrainingJobName"]]["HyperParameters"]
    assert started["mode"] == "fast" and 0.2 <= float(started["x"]) <= 20


def test_grid_without_max_jobs_describes_the_number_of_combinations():
    aws = FakeAws()
    request = tuning_request("grid", strategy="Grid", ranges=categorical("a", "b", "c"), max_jobs=None)
    aws.service.create_job(request, EXEC + "grid")
    d = aws.service.describe("grid")
    assert d["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3
    assert aws.service.list_jobs()["HyperParameterTuningJobSummaries"][0]["ResourceLimits"] == {
        "MaxParallelTrainingJobs": 1, "MaxNumberOfTrainingJobs": 3
    }
    # a job stored before the count was filled in is described with it too
    legacy = aws.store.jobs["grid"]
    del legacy.request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    assert aws.service.describe("grid")["HyperParameterTuningJobConfig"]["ResourceLimits"][
        "MaxNumberOfTrainingJobs"
    ] == 3


def test_a_case_variant_of_a_name_being_created_is_refused_before_its_first_step():
    """Execution names are case-sensitive: the name is reserved (any case) before StartExecution."""
    aws = FakeAws()
    aws.service.submit(tuning_request("Being-Made"))  # started; its first step has not stored it yet
    with pytest.raises(DuplicateTuningJobError, match="'Being-Made' is being created") as err:
        aws.service.submit(tuning_request("being-made"))
    assert err.value.code == "ResourceInUse" and "being-made" not in aws.executions.executions
    # and any case of the name describes it already, from its execution
    assert aws.service.describe("BEING-MADE")["HyperParameterTuningJobName"] == "Being-Made"
    # the same name again is Step Functions' own duplicate
    with pytest.raises(DuplicateTuningJobError, match="started already"):
        aws.service.submit(tuning_request("Being-Made"))


def test_a_reservation_whose_execution_never_started_is_taken_over_once_stale():
    aws = FakeAws()
    aws.store.reserve_name("Lost-Start", "2026-01-01T12:00:00.000+00:00")  # StartExecution then failed
    with pytest.raises(DuplicateTuningJobError):  # fresh: its start may be under way
        aws.service.submit(tuning_request("lost-start"))
    aws.clock.advance(120)
    assert aws.service.submit(tuning_request("lost-start")).endswith(":lost-start")
    assert aws.store.names["lost-start"][0] == "lost-start"
    # a holder whose execution ended without a job (refused before storing) does not block either
    aws.executions.start("Gone-Job", tuning_request("Gone-Job"))
    aws.executions.end("Gone-Job", "FAILED")
    aws.store.reserve_name("Gone-Job", aws.service.ports.now())
    assert aws.service.submit(tuning_request("gone-job")).endswith(":gone-job")
