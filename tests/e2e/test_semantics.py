"""AMT semantics end to end (issue 4): completion criteria, early stopping, Hyperband, retries,
MaxRuntimeInSeconds, StoppingCondition, warm start, several definitions, stop.

Every job runs examples/epochs/train.py (the objective ``validation-loss`` printed every epoch)
through the real state machine, Lambdas and the local SageMaker inside moto.
"""
from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tuner.shapes import assert_valid_output

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
METRICS = [
    {"Name": "validation-loss", "Regex": "validation-loss: ([0-9\\.]+)"},
    {"Name": "train-loss", "Regex": "train-loss: ([0-9\\.]+)"},
]


def definition(*, epochs: int = 4, sleep: float = 0.05, **static: str) -> dict[str, Any]:
    return {
        "StaticHyperParameters": {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": "epochs",
            "epochs": str(epochs),
            "sleep": str(sleep),
            **static,
        },
        "AlgorithmSpecification": {
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/epochs:latest",
            "TrainingInputMode": "File",
            "MetricDefinitions": copy.deepcopy(METRICS),
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecutionRole",
        "OutputDataConfig": {"S3OutputPath": "s3://tuner-e2e-output/semantics"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def request(name: str, *, strategy: str, ranges: dict[str, Any], max_jobs: int | None, parallel: int,
            seed: int | None = 1, config: dict[str, Any] | None = None, **def_kwargs: Any) -> dict[str, Any]:
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    cfg: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation-loss"},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
        **(config or {}),
    }
    if seed is not None:
        cfg["RandomSeed"] = seed
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": cfg,
        "TrainingJobDefinition": definition(**def_kwargs),
    }


GRID_SEED = 7


def grid(*in_order: str) -> dict[str, Any]:
    """Categorical x whose Grid order (with RandomSeed GRID_SEED) is ``in_order``.

    Grid runs combination ``perm[i]`` as trial ``i + 1``, ``perm`` a permutation drawn from the
    seed (GridStrategy); the values are listed so that trial i + 1 gets ``in_order[i]``.
    """
    perm = np.random.default_rng(GRID_SEED).permutation(len(in_order))
    values = [""] * len(in_order)
    for i, p in enumerate(perm):
        values[p] = in_order[i]
    return {"CategoricalParameterRanges": [{"Name": "x", "Values": values}]}


def continuous(lo: float, hi: float) -> dict[str, Any]:
    return {"ContinuousParameterRanges": [{"Name": "x", "MinValue": str(lo), "MaxValue": str(hi)}]}


@pytest.fixture()
def lt(local_tuner):
    """The session's tuner with a fast monitor (the sweeper every second) and no injected faults."""
    saved = local_tuner.sweep_interval
    local_tuner.sweep_interval = 1.0
    try:
        yield local_tuner
    finally:
        local_tuner.sweep_interval = saved
        local_tuner.sagemaker.fault = None


def run(lt, req: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    lt.start(req, base_dir=EXAMPLES)
    return lt.wait(req["HyperParameterTuningJobName"], timeout=timeout)


def jobs(lt, name: str) -> list[dict[str, Any]]:
    return lt.all_training_jobs(name)["TrainingJobSummaries"]


def logged_losses(lt, training_job: str) -> list[float]:
    return [
        float(line.split("validation-loss: ")[1])
        for line in lt.service.logs.lines(training_job)
        if "validation-loss: " in line
    ]


def created_jobs(lt, prefix: str) -> set[str]:
    return {job for _, job, _ in lt.sagemaker.transitions if job.startswith(prefix + "-")}


# ---- 1. completion criteria --------------------------------------------------------------------
def test_target_objective_completes_early_and_says_why(lt):
    # GIVEN a grid whose third point reaches the target loss, one job at a time
    req = request("target-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=6, parallel=1,
                  ranges=grid("6", "5", "3", "4", "7", "8"),
                  config={"TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.3}})
    # WHEN it runs
    describe = run(lt, req)
    # THEN it completes after three training jobs, not six, and the record says why
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert len(jobs(lt, "target-e2e")) == 3
    assert describe["BestTrainingJob"]["TunedHyperParameters"] == {"x": "3"}
    assert describe["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] <= 0.3
    record = lt.service.store.get_job("target-e2e")
    assert record.completion_reason.startswith("TargetObjectiveMetricValue reached")
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


def test_best_objective_not_improving(lt):
    req = request("notimproving-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=7, parallel=1,
                  ranges=grid("3", "5", "6", "7", "8", "9", "2.9"),
                  config={"TuningJobCompletionCriteria": {
                      "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}})
    describe = run(lt, req)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert len(jobs(lt, "notimproving-e2e")) == 4  # the best, then three without a 1% improvement
    assert describe["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3
    assert "BestObjectiveNotImproving" in lt.service.store.get_job("notimproving-e2e").completion_reason


def test_convergence_detected(lt):
    # every configuration lands on the same loss: a plateau with many configurations at the best level
    req = request("converge-e2e", strategy="Random", max_jobs=30, parallel=2, epochs=2,
                  ranges=continuous(2.9995, 3.0005),
                  config={"TuningJobCompletionCriteria": {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}})
    describe = run(lt, req)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    n = len(jobs(lt, "converge-e2e"))
    assert 10 <= n < 30
    assert isinstance(describe["TuningJobCompletionDetails"]["ConvergenceDetectedTime"], datetime)
    assert lt.service.store.get_job("converge-e2e").completion_reason == "ConvergenceDetected"
    assert describe["TrainingJobStatusCounters"]["InProgress"] == 0
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


# ---- 2. early stopping -------------------------------------------------------------------------
def test_early_stopping_auto_stops_jobs_worse_than_the_median(lt):
    # GIVEN three good configurations first, then bad ones, with the objective printed every epoch
    req = request("early-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=6, parallel=2, epochs=12, sleep=0.25,
                  ranges=grid("3", "3.2", "2.8", "9", "10", "11"),
                  config={"TrainingJobEarlyStoppingType": "Auto"})
    describe = run(lt, req)
    summaries = {j["TunedHyperParameters"]["x"]: j for j in jobs(lt, "early-e2e")}
    stopped = [j for j in summaries.values() if j["TrainingJobStatus"] == "Stopped"]
    # THEN at least one bad job was stopped early, and it keeps its last objective value
    assert stopped, describe["TrainingJobStatusCounters"]
    for j in stopped:
        assert float(j["TunedHyperParameters"]["x"]) >= 9
        losses = logged_losses(lt, j["TrainingJobName"])
        assert 1 <= len(losses) < 12
        assert j["ObjectiveStatus"] == "Succeeded"
        assert j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == losses[-1]
        assert lt.service.store.get_trial("early-e2e", int(j["TrainingJobName"].split("-")[-2])) \
            .stopped_by.startswith("EarlyStopping")
    for x in ("3", "3.2", "2.8"):
        assert summaries[x]["TrainingJobStatus"] == "Completed"
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    assert describe["ObjectiveStatusCounters"]["Succeeded"] == 6


# ---- 3. Hyperband ------------------------------------------------------------------------------
def test_hyperband_stops_at_rungs_never_before_min_resource(lt):
    req = request("hyperband-e2e", strategy="Hyperband", max_jobs=6, parallel=2, epochs=9, sleep=0.2, seed=3,
                  ranges=continuous(0, 10),
                  config={"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 2}}})
    describe = run(lt, req)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    summaries = jobs(lt, "hyperband-e2e")
    assert len(summaries) == 6
    stopped = [j for j in summaries if j["TrainingJobStatus"] == "Stopped"]
    assert stopped
    for j in stopped:
        assert len(logged_losses(lt, j["TrainingJobName"])) >= 2  # MinResource
        assert j["ObjectiveStatus"] == "Succeeded"
    best = describe["BestTrainingJob"]
    assert best["TrainingJobStatus"] == "Completed"  # the best trial was promoted to the end


def test_hyperband_without_resources_is_rejected(lt):
    req = request("hyperband-bad-e2e", strategy="Hyperband", max_jobs=2, parallel=1, ranges=continuous(0, 10))
    del req["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"]
    describe = run(lt, req)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "MaxResource" in describe["FailureReason"]


# ---- 4. retries, MaxRuntimeInSeconds, StoppingCondition ----------------------------------------
def test_internal_server_errors_are_retried_up_to_the_limit(lt):
    calls: dict[int, int] = {}

    def fault(job_name: str, _request: dict) -> str | None:
        n = int(job_name.split("-")[-2])
        calls[n] = calls.get(n, 0) + 1
        if n == 1 and calls[n] == 1:
            return "InternalServerError"  # once: the retry succeeds
        if n == 2:
            return "InternalServerError"  # always: retries run out
        if n == 3:
            return "CapacityError: not retried"  # not an InternalServerError
        return None

    lt.sagemaker.fault = fault
    req = request("retry-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=4, parallel=1,
                  ranges=grid("3", "4", "5", "6"))
    req["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    req["TrainingJobDefinition"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 240}
    describe = run(lt, req)
    assert calls == {1: 2, 2: 3, 3: 1, 4: 1}
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"] == {
        "Completed": 2, "InProgress": 0, "RetryableError": 1, "NonRetryableError": 1, "Stopped": 0}
    assert len(created_jobs(lt, "retry-e2e")) == 2 + 3 + 1 + 1
    summaries = {j["TunedHyperParameters"]["x"]: j for j in jobs(lt, "retry-e2e")}
    assert len(summaries) == 4
    assert summaries["3"]["TrainingJobStatus"] == "Completed"
    assert summaries["4"]["FailureReason"].startswith("InternalServerError")
    trial1 = lt.service.store.get_trial("retry-e2e", 1)
    assert trial1.attempt == 1 and trial1.attempts[0]["TrainingJobName"] != trial1.training_job_name
    # StoppingCondition reached every training job unchanged
    sm = lt.session.client("sagemaker")
    desc = sm.describe_training_job(TrainingJobName=summaries["3"]["TrainingJobName"])
    assert desc["StoppingCondition"] == {"MaxRuntimeInSeconds": 240}


def test_max_runtime_stops_the_tuning_job(lt):
    req = request("runtime-e2e", strategy="Random", max_jobs=8, parallel=2, epochs=40, sleep=0.2,
                  ranges=continuous(0, 10),
                  config={"ResourceLimits": {"MaxParallelTrainingJobs": 2, "MaxNumberOfTrainingJobs": 8,
                                             "MaxRuntimeInSeconds": 120}})
    lt.start(req, base_dir=EXAMPLES)
    store = lt.service.store
    deadline = time.monotonic() + 30
    while not any(t.status == "InProgress" for t in store.list_trials("runtime-e2e")):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # the job started 2 minutes ago, as far as the tuner can tell
    past = (datetime.now(UTC) - timedelta(seconds=121)).isoformat(timespec="milliseconds")
    store.update_job("runtime-e2e", created=past)
    describe = lt.wait("runtime-e2e", timeout=60)
    assert describe["HyperParameterTuningJobStatus"] == "Stopped"
    counters = describe["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and counters["Stopped"] >= 1 and counters["Completed"] == 0
    assert len(jobs(lt, "runtime-e2e")) < 8
    assert store.get_job("runtime-e2e").completion_reason == "MaxRuntimeInSeconds reached"
    assert describe["ConsumedResources"]["RuntimeInSeconds"] >= 120


# ---- 5. warm start -----------------------------------------------------------------------------
def test_warm_start_uses_the_parents_and_reports_the_overall_best(lt):
    parent = request("parent-e2e", strategy="Random", max_jobs=10, parallel=2, seed=5, ranges=continuous(0, 10))
    parent_describe = run(lt, parent)
    assert parent_describe["HyperParameterTuningJobStatus"] == "Completed"
    child = request("child-e2e", strategy="Bayesian", max_jobs=2, parallel=1, seed=5, ranges=continuous(0, 10))
    child["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-e2e"}],
                                "WarmStartType": "IdenticalDataAndAlgorithm"}
    describe = run(lt, child)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    proposals = [float(t.params["x"]) for t in lt.service.store.list_trials("child-e2e")]
    # the first proposals already use the parents: the GP runs on their ten observations at once
    # (a cold start would take quasi-random design points) and goes to their best region
    assert min(abs(x - 3) for x in proposals) < 1.0, proposals
    overall = describe["OverallBestTrainingJob"]
    values = [describe["BestTrainingJob"], parent_describe["BestTrainingJob"]]
    assert overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(
        v["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for v in values)
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


def test_warm_start_rules(lt):
    # a parent that does not exist
    child = request("orphan-e2e", strategy="Random", max_jobs=1, parallel=1, ranges=continuous(0, 10))
    child["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nobody-e2e"}],
                                "WarmStartType": "TransferLearning"}
    describe = run(lt, child)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "nobody-e2e" in describe["FailureReason"]
    # a parent with another objective (Maximize vs Minimize): refused
    other = request("maxparent-e2e", strategy="Random", max_jobs=1, parallel=1, ranges=continuous(0, 10))
    other["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = "Maximize"
    assert run(lt, other)["HyperParameterTuningJobStatus"] == "Completed"
    child2 = request("mismatch-e2e", strategy="Random", max_jobs=1, parallel=1, ranges=continuous(0, 10))
    child2["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "maxparent-e2e"}],
                                 "WarmStartType": "TransferLearning"}
    describe = run(lt, child2)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "objective must be the same" in describe["FailureReason"]


# ---- 6. several training job definitions ---------------------------------------------------------
def test_definitions_are_allocated_by_their_results(lt):
    good, bad = definition(), definition()
    good.update(DefinitionName="good", TuningObjective={"Type": "Minimize", "MetricName": "validation-loss"},
                HyperParameterRanges=continuous(2.5, 3.5))
    bad.update(DefinitionName="bad", TuningObjective={"Type": "Minimize", "MetricName": "validation-loss"},
               HyperParameterRanges=continuous(8, 10))
    req = {
        "HyperParameterTuningJobName": "multi-e2e",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random", "RandomSeed": 2,
            "ResourceLimits": {"MaxParallelTrainingJobs": 1, "MaxNumberOfTrainingJobs": 8},
        },
        "TrainingJobDefinitions": [bad, good],
    }
    describe = run(lt, req)
    summaries = jobs(lt, "multi-e2e")
    names = [s["TrainingJobDefinitionName"] for s in summaries]
    assert set(names) == {"good", "bad"}
    assert names.count("good") > names.count("bad")
    assert describe["BestTrainingJob"]["TrainingJobDefinitionName"] == "good"
    assert_valid_output("ListTrainingJobsForHyperParameterTuningJob", {"TrainingJobSummaries": summaries})


# ---- 7. stop -----------------------------------------------------------------------------------
def test_stop_tuning_job_stops_running_jobs_with_correct_counters(lt):
    req = request("stop-e2e", strategy="Random", max_jobs=6, parallel=2, epochs=60, sleep=0.2,
                  ranges=continuous(0, 10))
    lt.start(req, base_dir=EXAMPLES)
    store = lt.service.store
    deadline = time.monotonic() + 30
    while sum(t.status == "InProgress" for t in store.list_trials("stop-e2e")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    lt.stop("stop-e2e")
    assert lt.describe("stop-e2e")["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    describe = lt.wait("stop-e2e", timeout=60)
    assert describe["HyperParameterTuningJobStatus"] == "Stopped"
    assert lt.execution("stop-e2e")["status"] == "SUCCEEDED"
    assert describe["TrainingJobStatusCounters"] == {
        "Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 2}
    assert describe["ObjectiveStatusCounters"]["Pending"] == 0
    assert len(created_jobs(lt, "stop-e2e")) == 2
    assert_valid_output("DescribeHyperParameterTuningJob", describe)
