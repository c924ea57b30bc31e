"""A budgeted tuning job on fakes: the claim reserves, the budget ends the job, the hard policy stops."""
from __future__ import annotations

import pytest
from tuner.core import budget, cost
from tuner.errors import ValidationError

from tests.builders import tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"
M5 = 0.115 / 3600
OVERHEAD = cost.trial_overhead(cost.PriceTable.load(), "us-east-1")


def budgeted(usd: str, policy: str | None = None, **kw) -> dict:
    tags = [{"Key": "tuner:MaxSpendUSD", "Value": usd}]
    if policy:
        tags.append({"Key": "tuner:SpendPolicy", "Value": policy})
    return tuning_request("job", tags=tags, **kw)


def finish(aws: FakeAws, training_job: str, seconds: int) -> None:
    aws.logs.by_job[training_job] = ["loss: 1.0"]
    aws.backend.finish(training_job, BillableTimeInSeconds=seconds)
    aws.service.record_training_job(training_job)


def spent(aws: FakeAws, name: str = "job") -> float:
    """The spend recomputed from the trials' billable seconds and the price table."""
    return sum(t.billable_seconds * M5 + OVERHEAD for t in aws.store.list_trials(name) if t.recorded)


def test_a_budgeted_job_ends_completed_with_the_budget_reason_before_max_jobs():
    # GIVEN a $0.01 budget for up to 20 one-minute trials on ml.m5.large ($0.002 each with the overhead)
    aws = FakeAws()
    aws.service.create_job(budgeted("0.01", max_jobs=20), EXEC + "job")
    # WHEN the lap runs trials until it is told it is done
    runs = 0
    while True:
        out = aws.service.next_trial("job", 1, runs, f"t{runs}")
        if out.get("Done"):
            break
        finish(aws, out["TrainingJobName"], 60)
        runs += 1
    # THEN it stopped before MaxNumberOfTrainingJobs, within the budget, and the job completes for "budget"
    assert 2 <= runs < 20 and out["Reason"].startswith(budget.REASON_BUDGET)
    assert spent(aws) <= 0.01
    assert spent(aws) + 60 * M5 + OVERHEAD > 0.01  # one more would not have fit
    job = aws.store.get_job("job")
    assert job.completion_reason.startswith(budget.REASON_BUDGET)
    aws.service.finalize("job")
    describe = aws.service.describe("job")
    assert describe["HyperParameterTuningJobStatus"] == "Completed" and "FailureReason" not in describe
    detail = aws.service.queries.state_change_detail("job")
    assert detail["TuningJobCompletionReason"].startswith("budget")
    assert detail["TuningJobSpend"]["SpentUSD"] == pytest.approx(spent(aws), abs=1e-6)
    # tuner analytics' cost column: each training job's cost, the same arithmetic
    costs = aws.service.queries.training_costs("job")
    assert len(costs) == runs and sum(costs.values()) == pytest.approx(spent(aws))
    assert list(costs.values()) == [pytest.approx(60 * M5 + OVERHEAD)] * runs


def test_parallel_claims_each_reserve_and_a_lap_that_does_not_fit_leaves_the_job_to_the_others():
    # GIVEN two laps and a budget of 2 first-trial shares (each capped at budget / MaxParallel)
    aws = FakeAws()
    aws.service.create_job(budgeted("0.004", max_jobs=10, max_parallel=2), EXEC + "job")
    first = aws.service.next_trial("job", 1, 0, "a0")["TrainingJobName"]
    second = aws.service.next_trial("job", 2, 0, "b0")["TrainingJobName"]
    assert aws.store.get_job("job").reservations == {"1": pytest.approx(0.002), "2": pytest.approx(0.002)}
    # WHEN the first trial ends and its lap asks for a third while the second still holds $0.002
    finish(aws, first, 20)
    out = aws.service.next_trial("job", 1, 1, "a1")
    # THEN that lap is done, the job goes on: the second's end may free the budget
    assert out["Done"] and out["Reason"].startswith("budget")
    assert aws.store.get_job("job").completion_reason is None
    # and when the second ends cheaply, its lap claims the next trial (only its prediction is held)
    finish(aws, second, 1)
    nxt = aws.service.next_trial("job", 2, 1, "b1")
    assert "TrainingJobName" in nxt
    assert set(aws.store.get_job("job").reservations) == {"3"}


def test_create_refuses_an_unpriceable_budgeted_request_and_stores_it_failed():
    aws = FakeAws()
    request = budgeted("5", ResourceConfig={"InstanceType": "ml.z9.huge", "InstanceCount": 1, "VolumeSizeInGB": 5})
    with pytest.raises(ValidationError, match="ml.z9.huge"):
        aws.service.create_job(request, EXEC + "job")
    assert aws.service.describe("job")["HyperParameterTuningJobStatus"] == "Failed"
    with pytest.raises(ValidationError, match="positive number"):
        aws.service.create_job(budgeted("free", max_jobs=2) | {"HyperParameterTuningJobName": "other"},
                               EXEC + "other")
    with pytest.raises(ValidationError, match="worst case"):
        aws.service.create_job(budgeted("0.001", "hard", max_runtime_seconds=300)
                               | {"HyperParameterTuningJobName": "hard"}, EXEC + "hard")


def test_the_hard_policy_reserves_the_worst_case_and_stops_running_jobs_at_the_budget():
    # GIVEN a hard budget of two worst cases (MaxRuntimeInSeconds 100)
    worst = 100 * M5 + OVERHEAD
    aws = FakeAws()
    aws.service.create_job(budgeted(f"{2 * worst:.9f}", "hard", max_jobs=10, max_parallel=3,
                                    max_runtime_seconds=100), EXEC + "job")
    a = aws.service.next_trial("job", 1, 0, "a0")
    b = aws.service.next_trial("job", 2, 0, "b0")
    c = aws.service.next_trial("job", 3, 0, "c0")
    # THEN two trials start, each holding its worst case; the third lap does not fit and stops
    assert "TrainingJobName" in a and "TrainingJobName" in b and c["Done"]
    assert aws.store.get_job("job").reservations == {"1": pytest.approx(worst), "2": pytest.approx(worst)}
    # WHEN the running jobs' time so far reaches the budget (SageMaker ran past the reservation)
    aws.clock.advance(200)
    aws.service.sweep()
    # THEN the job ends for the budget and both running training jobs are stopped
    assert aws.store.get_job("job").completion_reason.startswith("budget: the spend reached")
    assert set(aws.backend.stopped) == {a["TrainingJobName"], b["TrainingJobName"]}
