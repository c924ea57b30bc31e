"""AMT semantics end to end (issue 4): completion criteria, early stopping, Hyperband, retries,
MaxRuntimeInSeconds, StoppingCondition, warm start, several definitions, stop.

Every job runs examples/epochs/train.py (the objective ``validation-loss`` printed every epoch)
through the real state machine, Lambdas and the local SageMaker inside moto.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from tuner.shapes import assert_valid_output

from tests.builders import (
    EXAMPLES,
    categorical,
    continuous,
    created_jobs,
    logged,
    start_and_wait,
    training_definition,
    training_jobs,
    tuning_request,
)

pytestmark = pytest.mark.e2e
GRID_SEED = 7


def request(name: str, **kwargs: Any) -> dict[str, Any]:
    """A request for examples/epochs/train.py (minimise ``validation-loss``)."""
    return tuning_request(name, source="epochs", **kwargs)


def grid(*in_order: str) -> dict[str, Any]:
    """Categorical x whose Grid order (with RandomSeed GRID_SEED) is ``in_order``.

    Grid runs combination ``perm[i]`` as trial ``i + 1``, ``perm`` a permutation drawn from the
    seed (GridStrategy); the values are listed so that trial i + 1 gets ``in_order[i]``.
    """
    perm = np.random.default_rng(GRID_SEED).permutation(len(in_order))
    values = [""] * len(in_order)
    for i, p in enumerate(perm):
        values[p] = in_order[i]
    return categorical(*values)


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


def run(lt, req: dict[str, Any]) -> dict[str, Any]:
    return start_and_wait(lt, req, timeout=120)


def validation_losses(lt, training_job: str) -> list[float]:
    return logged(lt, training_job, "validation-loss")


# ---- 1. completion criteria --------------------------------------------------------------------
def test_target_objective_completes_early_and_says_why(lt):
    # GIVEN a grid whose third point reaches the target loss, one job at a time
    req = request("target-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=6, ranges=grid("6", "5", "3", "4", "7", "8"),
                  completion={"TargetObjectiveMetricValue": 0.3})
    # WHEN it runs
    describe = run(lt, req)
    # THEN it completes after three training jobs, not six, and the record says why
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert len(training_jobs(lt, "target-e2e")) == 3
    assert describe["BestTrainingJob"]["TunedHyperParameters"] == {"x": "3"}
    assert describe["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] <= 0.3
    record = lt.service.store.get_job("target-e2e")
    assert record.completion_reason.startswith("TargetObjectiveMetricValue reached")
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


def test_best_objective_not_improving(lt):
    req = request("notimproving-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=7,
                  ranges=grid("3", "5", "6", "7", "8", "9", "2.9"),
                  completion={"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}})
    describe = run(lt, req)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert len(training_jobs(lt, "notimproving-e2e")) == 4  # the best, then three without a 1% improvement
    assert describe["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3
    assert "BestObjectiveNotImproving" in lt.service.store.get_job("notimproving-e2e").completion_reason


def test_convergence_detected(lt):
    # every configuration lands on the same loss: a plateau with many configurations at the best level
    req = request("converge-e2e", max_jobs=30, max_parallel=2, static={"epochs": "2"},
                  ranges=continuous(2.9995, 3.0005),
                  completion={"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}})
    describe = run(lt, req)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    n = len(training_jobs(lt, "converge-e2e"))
    assert 10 <= n < 30
    assert isinstance(describe["TuningJobCompletionDetails"]["ConvergenceDetectedTime"], datetime)
    assert lt.service.store.get_job("converge-e2e").completion_reason == "ConvergenceDetected"
    assert describe["TrainingJobStatusCounters"]["InProgress"] == 0
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


# ---- 2. early stopping -------------------------------------------------------------------------
# Epochs of the early-stopping test's jobs: a bad job runs long enough (4.8 s) for two or more 2 s
# sweeps to see its curve through the twin's 1 s log lag, so its stop lands before its last epoch
# even on a loaded machine (12 epochs of 0.25 s once saw the stop arrive after the last one).
EARLY_EPOCHS = 24


def test_early_stopping_auto_stops_jobs_worse_than_the_median(lt):
    # GIVEN three good configurations first, then bad ones, with the objective printed every epoch
    req = request("early-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=6, max_parallel=2,
                  static={"epochs": str(EARLY_EPOCHS), "sleep": "0.2"}, ranges=grid("3", "3.2", "2.8", "9", "10", "11"),
                  early_stopping="Auto")
    describe = run(lt, req)
    summaries = {j["TunedHyperParameters"]["x"]: j for j in training_jobs(lt, "early-e2e")}
    stopped = [j for j in summaries.values() if j["TrainingJobStatus"] == "Stopped"]
    # THEN at least one bad job was stopped early, and it keeps its last objective value
    assert stopped, describe["TrainingJobStatusCounters"]
    for j in stopped:
        assert float(j["TunedHyperParameters"]["x"]) >= 9
        losses = validation_losses(lt, j["TrainingJobName"])
        assert 1 <= len(losses) < EARLY_EPOCHS
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
    # 9 epochs of 0.5 s: long enough for the 2 s sweeps to see the rungs through the twin's 1 s log lag
    req = request("hyperband-e2e", strategy="Hyperband", max_jobs=6, max_parallel=2, seed=3,
                  static={"epochs": "9", "sleep": "0.5"}, ranges=continuous(0, 10),
                  strategy_config={"HyperbandStrategyConfig": {"MinResource": 2}})
    describe = run(lt, req)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    summaries = training_jobs(lt, "hyperband-e2e")
    assert len(summaries) == 6
    stopped = [j for j in summaries if j["TrainingJobStatus"] == "Stopped"]
    assert stopped
    for j in stopped:
        assert len(validation_losses(lt, j["TrainingJobName"])) >= 2  # MinResource
        assert j["ObjectiveStatus"] == "Succeeded"
    best = describe["BestTrainingJob"]
    assert best["TrainingJobStatus"] == "Completed"  # the best trial was promoted to the end


def test_hyperband_without_resources_is_rejected(lt):
    req = request("hyperband-bad-e2e", strategy="Hyperband", max_jobs=2, ranges=continuous(0, 10))
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
    req = request("retry-e2e", strategy="Grid", seed=GRID_SEED, max_jobs=4, ranges=grid("3", "4", "5", "6"),
                  retry_attempts=2, max_runtime_seconds=240)
    describe = run(lt, req)
    assert calls == {1: 2, 2: 3, 3: 1, 4: 1}
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"] == {
        "Completed": 2, "InProgress": 0, "RetryableError": 1, "NonRetryableError": 1, "Stopped": 0}
    assert len(created_jobs(lt, "retry-e2e")) == 2 + 3 + 1 + 1
    summaries = {j["TunedHyperParameters"]["x"]: j for j in training_jobs(lt, "retry-e2e")}
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
    req = request("runtime-e2e", max_jobs=8, max_parallel=2, max_runtime=120, static={"epochs": "40", "sleep": "0.2"},
                  ranges=continuous(0, 10))
    lt.start(req, base_dir=EXAMPLES)
    store = lt.service.store
    deadline = time.monotonic() + 30
    while not any(t.status == "InProgress" for t in store.list_trials("runtime-e2e")):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # two minutes pass, as far as the tuner can tell (its clock, not what it stored, moves)
    lt.advance_clock(121)
    try:
        describe = lt.wait("runtime-e2e", timeout=60)
    finally:
        lt.reset_clock()
    assert describe["HyperParameterTuningJobStatus"] == "Stopped"
    counters = describe["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and counters["Stopped"] >= 1 and counters["Completed"] == 0
    assert len(training_jobs(lt, "runtime-e2e")) < 8
    assert store.get_job("runtime-e2e").completion_reason == "MaxRuntimeInSeconds reached"
    assert describe["ConsumedResources"]["RuntimeInSeconds"] >= 120


# ---- 5. warm start -----------------------------------------------------------------------------
def test_warm_start_uses_the_parents_and_reports_the_overall_best(lt):
    parent = request("parent-e2e", max_jobs=10, max_parallel=2, seed=5, ranges=continuous(0, 10))
    parent_describe = run(lt, parent)
    assert parent_describe["HyperParameterTuningJobStatus"] == "Completed"
    child = request("child-e2e", strategy="Bayesian", max_jobs=2, seed=5, ranges=continuous(0, 10),
                    warm_start=["parent-e2e"], warm_start_type="IdenticalDataAndAlgorithm")
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
    child = request("orphan-e2e", max_jobs=1, ranges=continuous(0, 10),
                    warm_start=["nobody-e2e"], warm_start_type="TransferLearning")
    describe = run(lt, child)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "nobody-e2e" in describe["FailureReason"]
    # a parent with another objective (Maximize vs Minimize): refused
    other = request("maxparent-e2e", max_jobs=1, ranges=continuous(0, 10), objective_type="Maximize")
    assert run(lt, other)["HyperParameterTuningJobStatus"] == "Completed"
    child2 = request("mismatch-e2e", max_jobs=1, ranges=continuous(0, 10),
                     warm_start=["maxparent-e2e"], warm_start_type="TransferLearning")
    describe = run(lt, child2)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "objective must be the same" in describe["FailureReason"]


# ---- 6. several training job definitions ---------------------------------------------------------
def test_definitions_are_allocated_by_their_results(lt):
    objective = ("Minimize", "validation-loss")
    good = training_definition(source="epochs", name="good", objective=objective, ranges=continuous(2.5, 3.5))
    bad = training_definition(source="epochs", name="bad", objective=objective, ranges=continuous(8, 10))
    req = tuning_request("multi-e2e", max_jobs=8, seed=2, definitions=[bad, good])
    describe = run(lt, req)
    summaries = training_jobs(lt, "multi-e2e")
    names = [s["TrainingJobDefinitionName"] for s in summaries]
    assert set(names) == {"good", "bad"}
    assert names.count("good") > names.count("bad")
    assert describe["BestTrainingJob"]["TrainingJobDefinitionName"] == "good"
    assert_valid_output("ListTrainingJobsForHyperParameterTuningJob", {"TrainingJobSummaries": summaries})


# ---- 7. stop -----------------------------------------------------------------------------------
def test_stop_tuning_job_stops_running_jobs_with_correct_counters(lt):
    req = request("stop-e2e", max_jobs=6, max_parallel=2, static={"epochs": "60", "sleep": "0.2"},
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
