"""Completion criteria (``core.completion``): target objective, best objective not improving,
convergence."""
from __future__ import annotations

import pytest
from tuner.core.completion import completion_reason, converged
from tuner.core.records import COMPLETED, FAILED, TrialRecord


def trial(n: int, value: float | None, x: str | None = None, status: str = COMPLETED) -> TrialRecord:
    return TrialRecord(
        job="j", number=n, params={"x": x or str(n)}, training_job_name=f"j-{n:03d}-00000000",
        status=status, final_objective=value, objective_status="Succeeded" if value is not None else "Failed",
        ended=f"2024-01-01T00:00:{n:02d}+00:00", recorded=True,
    )


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
