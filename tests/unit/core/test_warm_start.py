"""Pure rules behind issue 4: completion criteria, median rule, ASHA rungs, definition allocation,
warm-start validation."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from tuner.core.allocation import choose_definition
from tuner.core.completion import completion_reason, converged
from tuner.core.early_stopping import median_rule
from tuner.core.records import COMPLETED, FAILED, IN_PROGRESS, JobRecord, TrialRecord
from tuner.core.request import parse_request
from tuner.core.strategies.hyperband import CONTINUE, STOP, asha_decision, resources, rungs
from tuner.core.warm_start import check_parents, observations
from tuner.errors import ValidationError

EVENTS = Path(__file__).resolve().parents[1] / "events"


def trial(n: int, value: float | None, x: str | None = None, status: str = COMPLETED) -> TrialRecord:
    return TrialRecord(
        job="j", number=n, params={"x": x or str(n)}, training_job_name=f"j-{n:03d}-00000000",
        status=status, final_objective=value, objective_status="Succeeded" if value is not None else "Failed",
        ended=f"2024-01-01T00:00:{n:02d}+00:00", recorded=True,
    )


# ---- completion criteria -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, maximize, target, met",
    [([0.5, 0.9], True, 0.9, True), ([0.5, 0.89], True, 0.9, False), ([2.0, 0.3], False, 0.3, True)],
)
def test_target_objective(values, maximize, target, met):
    trials = [trial(i + 1, v) for i, v in enumerate(values)]
    reason = completion_reason({"TargetObjectiveMetricValue": target}, trials, maximize)
    assert bool(reason) is met


def test_not_improving_counts_jobs_without_a_one_percent_gain():
    crit = {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    # 1.0 is the best; 0.995 improves by only 0.5%, failures count as not improving
    trials = [trial(1, 1.0), trial(2, 0.995), trial(3, None, status=FAILED)]
    assert completion_reason(crit, trials, maximize=False) is None
    trials.append(trial(4, 1.2))
    assert "BestObjectiveNotImproving" in completion_reason(crit, trials, maximize=False)
    # an improvement of >= 1% resets the count
    assert completion_reason(crit, [*trials, trial(5, 0.98)], maximize=False) is None


def test_convergence_needs_a_plateau_and_a_floor():
    crit = {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    plateau = [trial(i, 0.5 + 0.001 * (i % 3), x=f"3.{i}") for i in range(1, 11)]
    assert converged(plateau, maximize=False)
    assert completion_reason(crit, plateau, maximize=False) == "ConvergenceDetected"
    assert not converged(plateau[:9], maximize=False)  # too few trials
    # a single lucky trial is not a floor
    lucky = [trial(i, 2.0 + i * 0.01, x=f"{i}") for i in range(1, 10)] + [trial(10, 0.1)]
    assert not converged(lucky, maximize=False)
    # still improving in the second half
    improving = [trial(i, 10.0 - i) for i in range(1, 13)]
    assert not converged(improving, maximize=False)
    assert completion_reason({"ConvergenceDetected": {"CompleteOnConvergence": "Disabled"}}, plateau, False) is None


# ---- median rule ---------------------------------------------------------------------------------
def test_median_rule_compares_with_running_averages_of_earlier_jobs():
    earlier = [[1.0, 0.8, 0.6], [1.2, 1.0, 0.8], [0.9, 0.7, 0.5]]
    # at step 2 the running averages are 0.9, 1.1, 0.8 -> median 0.9
    assert median_rule([3.0, 2.0], earlier, maximize=False) == (True, pytest.approx(0.9))
    assert median_rule([1.0, 0.85], earlier, maximize=False)[0] is False
    assert median_rule([1.0, 0.85], earlier, maximize=True)[0] is True
    # fewer than three earlier jobs reached the step: no decision
    assert median_rule([9.0, 9.0, 9.0, 9.0], earlier, maximize=False) == (False, None)
    assert median_rule([], earlier, maximize=False) == (False, None)


# ---- Hyperband -----------------------------------------------------------------------------------
def test_resources_inferred_from_epochs_and_checked():
    assert resources({}, {"epochs": "9"}) == (1, 9)
    assert resources({"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 27}}, {}) == (2, 27)
    assert resources({"HyperbandStrategyConfig": {"MinResource": 3}}, {"num_epochs": "30"}) == (3, 30)
    with pytest.raises(ValidationError, match="MaxResource"):
        resources({}, {"learning_rate": "0.1"})
    with pytest.raises(ValidationError, match="MinResource"):
        resources({"HyperbandStrategyConfig": {"MinResource": 10}}, {"epochs": "5"})
    assert rungs(1, 27) == [1, 3, 9]
    assert rungs(2, 9) == [2, 6]


def test_asha_never_stops_before_min_resource_and_keeps_the_top_third():
    others = [[5.0, 4.0, 3.0], [1.0, 0.5, 0.4], [2.0, 1.5, 1.0]]
    assert asha_decision([9.0], 0, others, False, 2, 9)[0] == CONTINUE  # below MinResource
    decision, rung, _ = asha_decision([9.0, 8.0], 0, others, False, 2, 9)
    assert (decision, rung) == (STOP, 2)
    decision, rung, _ = asha_decision([0.4, 0.3], 0, others, False, 2, 9)
    assert (decision, rung) == (CONTINUE, 2)
    assert asha_decision([0.4, 0.3, 0.2], 2, others, False, 2, 9)[0] == CONTINUE  # no new rung
    assert asha_decision([0.1] * 9, 6, others, False, 2, 9)[0] == STOP  # MaxResource reached
    assert asha_decision([3.0, 4.0], 0, [], True, 2, 9)[0] == CONTINUE  # alone at the rung


# ---- definitions ---------------------------------------------------------------------------------
def test_allocation_covers_every_definition_then_favours_the_best():
    names = ["a", "b", "c"]
    assert choose_definition(1, names, {}, {}, False, 1) == "a"
    assert choose_definition(2, names, {"a": 1}, {}, False, 1) == "b"
    counts = {"a": 3, "b": 3, "c": 3}
    best = {"a": 5.0, "b": 0.1, "c": 2.0}
    picks = [choose_definition(n, names, counts, best, False, 1) for n in range(10, 210)]
    assert picks.count("b") > picks.count("c") > picks.count("a") > 0
    assert picks == [choose_definition(n, names, counts, best, False, 1) for n in range(10, 210)]


# ---- warm start ----------------------------------------------------------------------------------
def _request(name: str, **changes) -> dict:
    req = json.loads((EVENTS / "request_random.json").read_text())
    req = copy.deepcopy(req)
    req["HyperParameterTuningJobName"] = name
    for key, value in changes.items():
        req[key] = value
    return req


def _child(kind: str, parents: list[str]) -> dict:
    return _request("child", WarmStartConfig={
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in parents],
        "WarmStartType": kind,
    })


def test_warm_start_rules():
    child = parse_request(_child("IdenticalDataAndAlgorithm", ["p1"]))
    done = JobRecord(name="p1", request=_request("p1"), status=COMPLETED)
    check_parents(child, [("p1", done)])
    with pytest.raises(ValidationError, match="no tuning job"):
        check_parents(child, [("p1", None)])
    running = JobRecord(name="p1", request=_request("p1"), status=IN_PROGRESS)
    with pytest.raises(ValidationError, match="Completed, Stopped or Failed"):
        check_parents(child, [("p1", running)])
    other = _request("p1")
    objective = other["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    objective["Type"] = "Minimize" if objective["Type"] == "Maximize" else "Maximize"
    with pytest.raises(ValidationError, match="objective must be the same"):
        check_parents(child, [("p1", JobRecord(name="p1", request=other, status=COMPLETED))])
    image = _request("p1")
    image["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "other:latest"
    with pytest.raises(ValidationError, match="training image"):
        check_parents(child, [("p1", JobRecord(name="p1", request=image, status=COMPLETED))])
    transfer = parse_request(_child("TransferLearning", ["p1"]))
    check_parents(transfer, [("p1", JobRecord(name="p1", request=image, status=COMPLETED))])


def test_parent_trials_become_observations_inside_the_child_space():
    child = parse_request(_child("TransferLearning", ["p1"]))
    space = child.definitions[0].space
    inside = space.from_unit([0.5] * space.dim)
    outside = {**inside, space.names[0]: "1e9"} if space.params[0].kind != "Categorical" else {}
    trials = [
        TrialRecord(job="p1", number=1, params={**inside, "dropped": "1"}, training_job_name="p1-001-00000000",
                    final_objective=0.7, objective_status="Succeeded", status=COMPLETED, recorded=True),
        TrialRecord(job="p1", number=2, params=outside or inside, training_job_name="p1-002-00000000",
                    final_objective=None, objective_status="Failed", status=FAILED, recorded=True),
    ]
    obs = observations(child, trials)
    assert len(obs) == 1 and obs[0].value == 0.7 and set(obs[0].params) == set(space.names)
