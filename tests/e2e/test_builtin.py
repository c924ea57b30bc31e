"""SageMaker's built-in XGBoost through the offline loop (issue 13): the AWS documentation's tuning
example (examples/builtin-xgboost/tuning-job.json: the built-in image, no MetricDefinitions,
objective validation:auc, 2 instances, CSV channels) runs offline and its trials' objectives
differ; a request with an objective the algorithm does not have is refused naming the allowed ones.

The example runs here with 3 training jobs (at once) and 20 rounds instead of 20 jobs and 100
rounds, to stay short; every other member is the file's.
"""
from __future__ import annotations

import copy
import json

import boto3
import pytest

from tests.builders import BUILTIN_XGBOOST, start_and_wait, training_jobs, tuning_request

pytestmark = pytest.mark.e2e


def example(name: str) -> dict:
    request = json.loads((BUILTIN_XGBOOST / "tuning-job.json").read_text())
    request["HyperParameterTuningJobName"] = name
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 3
    request["TrainingJobDefinition"]["StaticHyperParameters"]["num_round"] = "20"
    return request


def test_the_aws_example_runs_offline_and_sagemaker_reports_the_built_in_s_metrics(local_tuner):
    # GIVEN the AWS documentation's built-in XGBoost tuning request, data uploaded from the example
    request = example("bx-example")
    # WHEN it runs through the state machine, the Lambdas and the stand-in
    describe = start_and_wait(local_tuner, request, timeout=120, base_dir=BUILTIN_XGBOOST)
    # THEN it completes with validation:auc objectives that differ between trials
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe.get("FailureReason")
    jobs = training_jobs(local_tuner, "bx-example")
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs]
    assert len(jobs) == 3 and all(0.5 < v <= 1.0 for v in values) and len(set(values)) > 1
    assert describe["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize", "MetricName": "validation:auc", "Value": max(values)}
    sm = boto3.client("sagemaker", region_name=local_tuner.region)
    for job in jobs:
        training = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
        # each training job ran as the built-in on 2 instances, without MetricDefinitions and with
        # AMT's reserved objective; SageMaker's FinalMetricDataList is what the tuner recorded
        assert "MetricDefinitions" not in training["AlgorithmSpecification"]
        assert training["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
        assert training["ResourceConfig"]["InstanceCount"] == 2
        reported = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
        assert reported["validation:auc"] == job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert training["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")
    # the log lines are the built-in's format, one per round, on both hosts' streams
    lines = list(local_tuner.service.ports.logs.lines(jobs[0]["TrainingJobName"], host=None))
    rounds = [line for line in lines if line.startswith("[") and "#011validation-auc:" in line]
    assert len(rounds) == 2 * 20 and rounds[0].startswith("[0]#011train-auc:")


def test_an_objective_the_built_in_does_not_have_is_refused_naming_the_allowed_metrics(local_tuner):
    request = copy.deepcopy(example("bx-foo"))
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "validation:foo"
    describe = start_and_wait(local_tuner, request, timeout=60, base_dir=BUILTIN_XGBOOST)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    reason = describe["FailureReason"]
    assert "'validation:foo' is not a metric of SageMaker's built-in XGBoost algorithm" in reason
    assert "validation:auc" in reason and "validation:logloss" in reason
    assert training_jobs(local_tuner, "bx-foo") == []


def test_the_builders_built_in_request_runs_with_one_instance(local_tuner):
    request = tuning_request("bx-one", builtin="xgboost", objective_type="Maximize", max_jobs=2, max_parallel=2)
    describe = start_and_wait(local_tuner, request, timeout=60)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe.get("FailureReason")
    assert describe["ObjectiveStatusCounters"]["Succeeded"] == 2


@pytest.mark.parametrize(
    "algorithm",
    ["my-algorithm", "arn:aws:sagemaker:us-west-2:999999999999:algorithm/marketplace-algorithm"],
    ids=["own", "marketplace"],
)
def test_an_algorithm_sagemaker_does_not_have_is_refused(local_tuner, algorithm):
    # GIVEN an AlgorithmName (this account's, or a Marketplace ARN) that SageMaker does not know
    name = "bx-algo-" + ("own" if algorithm.startswith("my-") else "market")
    request = tuning_request(name, algorithm_name=algorithm, max_jobs=1)
    describe = start_and_wait(local_tuner, request, timeout=60)
    # THEN CreateJob read it (DescribeAlgorithm, granted for both forms) and refused the request
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "marketplace-algorithm" in describe["FailureReason"] or "my-algorithm" in describe["FailureReason"]
    assert training_jobs(local_tuner, name) == []
    assert any(a.action == "sagemaker:DescribeAlgorithm" and a.resource.endswith(algorithm.rsplit("/", 1)[-1])
               for a in local_tuner.iam.needed_by("create_job"))
