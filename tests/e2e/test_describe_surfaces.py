"""One describe for every surface: a warm-started child seen through the boto3-style client, the
CLI and the SageMaker Python SDK answers the same DescribeHyperParameterTuningJob, including
``OverallBestTrainingJob`` (AMT returns it for an IdenticalDataAndAlgorithm warm start)."""

from __future__ import annotations

import json
import os

import pytest
from tuner import cli
from tuner.local import offline_client
from tuner.shapes import assert_valid_output

from tests.builders import SCRIPTS, categorical, tuning_request

pytestmark = pytest.mark.e2e
STACK = ["--region", "us-east-1"]


def ranges(*values: str) -> dict:
    """Categorical x, with the two other lists empty: what the SageMaker SDK itself sends."""
    return {**categorical(*values), "ContinuousParameterRanges": [], "IntegerParameterRanges": []}


@pytest.fixture(scope="module")
def jobs(local_tuner):
    """A parent that found loss |3 - 3| + 1/3, and an identical-data child confined to x in {6, 7}."""
    with offline_client(local_tuner=local_tuner, sweep_interval=2.0) as sm:
        parent = tuning_request("surf-parent", strategy="Grid", source="quick", max_jobs=2,
                                max_parallel=2, ranges=ranges("3", "5"), early_stopping="Off")
        sm.start_local(parent, SCRIPTS)
        sm.wait_for_tuning_job("surf-parent", poll=0.5, timeout=180)
        child = tuning_request("surf-child", strategy="Grid", source="quick", max_jobs=2,
                               max_parallel=2, ranges=ranges("6", "7"), warm_start=["surf-parent"],
                               early_stopping="Off")
        sm.start_local(child, SCRIPTS)
        sm.wait_for_tuning_job("surf-child", poll=0.5, timeout=180)
        yield sm


def test_the_client_describes_the_overall_best_of_a_warm_started_child(jobs):
    parent = jobs.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="surf-parent")
    child = jobs.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="surf-child")
    assert_valid_output("DescribeHyperParameterTuningJob", child)
    assert child["HyperParameterTuningJobStatus"] == "Completed"
    # the child's own best is worse than its parent's: the overall best is the parent's job
    assert child["BestTrainingJob"]["TunedHyperParameters"] == {"x": "6"}
    overall = child["OverallBestTrainingJob"]
    assert overall["TrainingJobName"] == parent["BestTrainingJob"]["TrainingJobName"]
    assert overall["TuningJobName"] == "surf-parent"
    assert overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(1 / 3, abs=1e-6)
    assert "OverallBestTrainingJob" not in parent  # a job without a warm start has none (as in AMT)


def test_tuner_describe_shows_the_overall_best(jobs, capsys):
    best = jobs.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="surf-parent")["BestTrainingJob"]
    assert cli.main(["describe", "surf-child", *STACK]) == 0
    assert json.loads(capsys.readouterr().out)["OverallBestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert cli.main(["describe", "surf-child", *STACK, "--table"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if "Overall best" in line)
    assert best["TrainingJobName"] in row and "surf-parent" in row


def test_the_sagemaker_sdk_sees_the_overall_best(jobs):
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sagemaker = pytest.importorskip("sagemaker", reason="the SageMaker SDK is a test dependency")
    from sagemaker.tuner import HyperparameterTuner

    session = sagemaker.Session(boto_session=jobs.session, sagemaker_client=jobs)
    tuner = HyperparameterTuner.attach("surf-child", sagemaker_session=session)
    description = tuner.describe()
    assert description["OverallBestTrainingJob"]["TuningJobName"] == "surf-parent"
    assert description["OverallBestTrainingJob"]["TrainingJobName"] != tuner.best_training_job()
