"""Warm start (``core.warm_start``): the parents' rules and their trials as observations."""
from __future__ import annotations

import pytest
from tuner.core.records import COMPLETED, FAILED, IN_PROGRESS, JobRecord, TrialRecord
from tuner.core.request import parse_request
from tuner.core.warm_start import check_parents, observations
from tuner.errors import ValidationError

from tests.builders import event_request


def _child(kind: str, parents: list[str]) -> dict:
    return event_request(name="child", WarmStartConfig={
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in parents],
        "WarmStartType": kind,
    })


def test_warm_start_rules():
    child = parse_request(_child("IdenticalDataAndAlgorithm", ["p1"]))
    done = JobRecord(name="p1", request=event_request(name="p1"), status=COMPLETED)
    check_parents(child, [("p1", done)])
    with pytest.raises(ValidationError, match="no tuning job"):
        check_parents(child, [("p1", None)])
    running = JobRecord(name="p1", request=event_request(name="p1"), status=IN_PROGRESS)
    with pytest.raises(ValidationError, match="Completed, Stopped or Failed"):
        check_parents(child, [("p1", running)])
    other = event_request(name="p1")
    objective = other["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    objective["Type"] = "Minimize" if objective["Type"] == "Maximize" else "Maximize"
    with pytest.raises(ValidationError, match="objective must be the same"):
        check_parents(child, [("p1", JobRecord(name="p1", request=other, status=COMPLETED))])
    image = event_request(name="p1")
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
