"""The whole loop offline: the synthesized template deployed into moto, the real state machine,
the real Lambda code in-process, and real training processes behind a local SageMaker."""
from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from tuner.shapes import assert_valid_output

from tests.builders import (
    SCRIPTS,
    categorical,
    continuous,
    created_jobs,
    integer,
    logged,
    max_concurrent,
    start_and_wait,
    training_jobs,
    tuning_request,
)

pytestmark = pytest.mark.e2e


def test_grid_job_counts_best_and_shapes(local_tuner):
    # GIVEN six grid points, one that fails and one that prints no metric, two in parallel
    request = tuning_request(
        "grid-e2e",
        source="quick",
        strategy="Grid",
        ranges=categorical("1", "2", "3", "4.5", "fail", "silent"),
        max_jobs=6,
        max_parallel=2,
    )
    # WHEN it runs through the offline loop
    describe = start_and_wait(local_tuner, request, timeout=600)
    jobs = training_jobs(local_tuner, "grid-e2e")

    # THEN exactly MaxNumberOfTrainingJobs training jobs were created, at most 2 at once
    assert len(created_jobs(local_tuner, "grid-e2e")) == 6 and len(jobs) == 6
    peak = max_concurrent(local_tuner.sagemaker.transitions, "grid-e2e")
    assert 1 <= peak <= 2
    assert local_tuner.execution("grid-e2e")["status"] == "SUCCEEDED"
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    # every grid point exactly once
    assert sorted(j["TunedHyperParameters"]["x"] for j in jobs) == sorted(["1", "2", "3", "4.5", "fail", "silent"])
    # counted as SageMaker counts: the failed job is a NonRetryableError, the silent one Completed
    assert describe["TrainingJobStatusCounters"] == {
        "Completed": 5, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 1, "Stopped": 0
    }
    assert describe["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 2}
    by_x = {j["TunedHyperParameters"]["x"]: j for j in jobs}
    assert by_x["fail"]["TrainingJobStatus"] == "Failed"
    assert "AlgorithmError" in by_x["fail"]["FailureReason"]
    assert by_x["silent"]["ObjectiveStatus"] == "Failed"
    assert "FinalHyperParameterTuningJobObjectiveMetric" not in by_x["silent"]
    # the best job is the one with the best objective parsed from its logs (latest value)
    best = describe["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"x": "3"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(1 / 3, abs=1e-6)
    value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert logged(local_tuner, best["TrainingJobName"])[-1] == value
    # static and tuned hyperparameters reached the job as strings
    sm = local_tuner.session.client("sagemaker")
    hps = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])["HyperParameters"]
    assert hps["x"] == "3" and hps["epochs"] == "3" and hps["sagemaker_program"] == "train.py"
    # the responses have SageMaker's shapes
    assert_valid_output("DescribeHyperParameterTuningJob", describe)
    assert_valid_output("ListTrainingJobsForHyperParameterTuningJob", {"TrainingJobSummaries": jobs})


def test_random_job_reproducible_names_and_sorting(local_tuner):
    ranges = {**continuous(0.5, 8, scaling="Logarithmic"), **integer(0, 20, name="y")}
    request = tuning_request("random-e2e", source="quick", ranges=ranges, max_jobs=7, max_parallel=3, seed=11)
    describe = start_and_wait(local_tuner, request, timeout=600)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"]["Completed"] == 7
    assert max_concurrent(local_tuner.sagemaker.transitions, "random-e2e") <= 3
    page = local_tuner.list_training_jobs(
        "random-e2e", SortBy="FinalObjectiveMetricValue", SortOrder="Ascending", MaxResults=3
    )
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in page["TrainingJobSummaries"]]
    assert values == sorted(values) and len(values) == 3 and "NextToken" in page
    assert values[0] == describe["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    for s in training_jobs(local_tuner, "random-e2e"):
        x, y = float(s["TunedHyperParameters"]["x"]), s["TunedHyperParameters"]["y"]
        assert 0.5 <= x <= 8 and y.isdigit() and 0 <= int(y) <= 20
        assert s["TrainingJobName"].startswith("random-e2e-0")  # <tuning-job>-<NNN>-<hash>
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


def test_invalid_request_fails_with_reason_and_writes_nothing_else(local_tuner):
    request = tuning_request("invalid-e2e", source="quick", ranges=continuous(0, 1, scaling="Logarithmic"), max_jobs=3)
    describe = start_and_wait(local_tuner, request, timeout=600)
    assert local_tuner.execution("invalid-e2e")["status"] == "FAILED"
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "ScalingType" in describe["FailureReason"] and "> 0" in describe["FailureReason"]
    assert local_tuner.service.store.list_trials("invalid-e2e") == []
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


def test_duplicate_name_is_refused_and_the_stored_job_untouched(local_tuner):
    request = tuning_request(
        "dup-e2e", source="quick", strategy="Grid", ranges=categorical("2", "3"), max_jobs=2, max_parallel=2
    )
    first = start_and_wait(local_tuner, request, timeout=600)
    # a second execution under another name, carrying the same tuning job name: refused before
    # anything is stored (an execution must be named after its job; a duplicate name through
    # another machine is DuplicateTuningJobError: tests/functional/test_store_and_service.py)
    sfn = local_tuner.sfn
    arn = sfn.start_execution(
        stateMachineArn=local_tuner.deployment.state_machine_arn, name="dup-e2e-again",
        input=json.dumps(local_tuner.prepare(request, SCRIPTS)),
    )["executionArn"]
    for _ in range(200):
        status = sfn.describe_execution(executionArn=arn)
        if status["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert status["status"] == "FAILED"
    assert status.get("error") == "ValidationError" and "dup-e2e-again" in str(status.get("cause"))
    again = local_tuner.describe("dup-e2e")
    assert again["HyperParameterTuningJobStatus"] == first["HyperParameterTuningJobStatus"] == "Completed"
    assert again["TrainingJobStatusCounters"] == first["TrainingJobStatusCounters"]
    # StartExecution with the same name and a different input is refused by Step Functions itself
    with pytest.raises(ClientError):
        sfn.start_execution(
            stateMachineArn=local_tuner.deployment.state_machine_arn, name="dup-e2e", input="{}"
        )


def test_moto_s_own_log_lines_stay_out_of_the_user_s_output(local_tuner):
    """While the offline deployment is up, moto's log lines (types its CloudFormation skips, states its
    engine fails and the tuner handles) are not emitted: a notebook or script shows the tuner's only.
    (Its warnings are filtered too; pytest records every warning whatever the filters.)"""
    import logging

    assert not logging.getLogger("moto").isEnabledFor(logging.WARNING)
    assert not logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").isEnabledFor(
        logging.ERROR)
