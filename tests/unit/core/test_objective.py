"""The objective's direction and AMT's 1 % rule: the one place every surface asks."""
from __future__ import annotations

import pytest
from tuner.core.objective import improves, is_better, job_maximizes, objective_of, within

from tests.builders import training_definition, tuning_request


def test_a_multi_definition_job_takes_its_direction_from_the_definitions():
    """Before, the CLI's leaderboard read only HyperParameterTuningJobObjective and ranked a
    Minimize job with TrainingJobDefinitions as if it maximised."""
    request = tuning_request(
        "multi",
        definitions=[
            training_definition(name="a", objective=("Minimize", "loss"), ranges={}),
            training_definition(name="b", objective=("Minimize", "loss"), ranges={}),
        ],
    )
    assert objective_of(request) == {"Type": "Minimize", "MetricName": "loss"}
    assert objective_of(request, "b") == {"Type": "Minimize", "MetricName": "loss"}
    assert job_maximizes(request) is False
    assert job_maximizes(tuning_request("one", objective_type="Maximize")) is True
    assert job_maximizes({}) is True  # nothing named: AMT's default objective type


@pytest.mark.parametrize(
    ("value", "best", "maximize", "better", "improved", "close"),
    [
        (1.011, 1.0, True, True, True, True),  # 1.1 % up: an improvement
        (1.009, 1.0, True, True, False, True),  # better, but by less than 1 %
        (0.989, 1.0, False, True, True, True),  # minimising: 1.1 % down
        (0.98, 1.0, True, False, False, False),  # 2 % worse: neither
        (0.0, 0.0, True, False, False, True),  # a best of 0: a tiny absolute margin
        (-0.98, -1.0, True, True, True, True),  # negative values: relative to |best|
    ],
)
def test_better_improves_and_within_follow_the_direction(value, best, maximize, better, improved, close):
    assert is_better(value, best, maximize) is better
    assert improves(value, best, maximize) is improved
    assert within(value, best, maximize) is close


def test_anything_beats_no_value():
    assert is_better(-1e9, None, True) and is_better(1e9, None, False)
