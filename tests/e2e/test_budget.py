"""A dollar budget offline (tuner.core.budget, docs/cost.md): a budgeted job stops before
MaxNumberOfTrainingJobs, Completed for "budget", and its spend, recomputed here from the training
jobs' BillableTimeInSeconds and the price table, keeps each policy's guarantee."""
from __future__ import annotations

import json
import os
import time

import pytest
from tuner.core import budget, cost

from tests.builders import LOSS, SCRIPTS, sdk_estimator, start_and_wait, training_jobs, tuning_request

pytestmark = pytest.mark.e2e

TABLE = cost.PriceTable.load()
RATE = TABLE.training_hour("us-east-1", "ml.m5.large").usd / 3600  # the builders' instance, one of it
OVERHEAD = cost.trial_overhead(TABLE, "us-east-1")


def tags(usd: float, policy: str = "default") -> list[dict[str, str]]:
    return [{"Key": "tuner:MaxSpendUSD", "Value": str(usd)}, {"Key": "tuner:SpendPolicy", "Value": policy}]


def costs(lt, name: str) -> list[float]:
    """Each training job's cost from its DescribeTrainingJob, in the order they were created."""
    out = []
    for summary in sorted(training_jobs(lt, name), key=lambda s: s["CreationTime"]):
        desc = lt.service.ports.backend.describe(summary["TrainingJobName"])
        assert desc["BillableTimeInSeconds"] >= 1
        out.append(desc["BillableTimeInSeconds"] * RATE + OVERHEAD)
    return out


def ended_for_budget(lt, name: str, describe: dict) -> None:
    assert describe["HyperParameterTuningJobStatus"] == "Completed" and "FailureReason" not in describe
    extra = lt.service.queries.extensions(name)
    assert extra["TuningJobCompletionReason"].startswith(budget.REASON_BUDGET)
    return extra["TuningJobSpend"]


def test_the_default_policy_stops_within_the_budget_plus_the_jobs_then_running(local_tuner):
    lt = local_tuner
    limit, parallel = 0.001, 2
    request = tuning_request("budget-default", source="quick", max_jobs=12, max_parallel=parallel,
                             tags=tags(limit))
    describe = start_and_wait(lt, request)
    spend = ended_for_budget(lt, "budget-default", describe)
    spent = costs(lt, "budget-default")
    assert 2 <= len(spent) < 12  # before MaxNumberOfTrainingJobs
    # at most the budget plus the jobs running when it was reached (at most the last `parallel`)
    assert sum(spent) <= limit + sum(spent[-parallel:])
    assert spend["SpentUSD"] == pytest.approx(sum(spent), abs=1e-6) and spend["MaxSpendUSD"] == limit


def test_the_hard_policy_never_passes_the_budget(local_tuner):
    lt = local_tuner
    worst = 20 * RATE + OVERHEAD  # MaxRuntimeInSeconds 20: each trial reserves it
    limit = round(2.2 * worst, 6)
    request = tuning_request("budget-hard", source="quick", max_jobs=12, max_parallel=2,
                             max_runtime_seconds=20, tags=tags(limit, "hard"))
    describe = start_and_wait(lt, request)
    ended_for_budget(lt, "budget-hard", describe)
    spent = costs(lt, "budget-hard")
    assert 2 <= len(spent) < 12 and sum(spent) <= limit


def test_a_budget_set_through_the_sdks_tags_ends_the_job_completed_for_budget(session):
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sess, sm = session
    tuner = HyperparameterTuner(
        sdk_estimator(sess), "loss", {"x": ContinuousParameter(0.5, 8)}, metric_definitions=LOSS,
        objective_type="Minimize", strategy="Random", random_seed=3, max_jobs=10, max_parallel_jobs=1,
        tags=[{"Key": "tuner:MaxSpendUSD", "Value": "0.0006"}],
    )
    tuner.fit(job_name="sdk-budget", wait=False)
    described = sm.wait_for_tuning_job("sdk-budget", poll=0.5, timeout=240)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobStatusCounters"]["Completed"] < 10
    from tuner.analytics import details

    assert details(sm, "sdk-budget").completion_reason.startswith(budget.REASON_BUDGET)  # not a count
    reason = sm.service.queries.extensions("sdk-budget")["TuningJobCompletionReason"]
    assert reason.startswith("budget")


def test_a_familys_monthly_budget_holds_across_its_retunes(local_tuner):
    """Retunes of a family with MaxSpendUSDPerMonth (hard policy) until the month is spent: each run
    gets what is left, and the month's spend, recomputed from every training job's billable seconds,
    stays within the monthly budget."""
    from datetime import UTC, datetime, timedelta

    from tuner.core.families import FamilyBudgetSpentError, month_of
    from tuner.wiring import build_family_service

    lt = local_tuner
    now = datetime.now(UTC)
    if month_of(now) != month_of(now + timedelta(minutes=15)):
        pytest.skip("a new month (UTC) starts during the test")
    families = build_family_service(
        lt.deployment.table_name, lt.deployment.state_machine_arn, region=lt.region, session=lt.session
    )
    worst = 20 * RATE + OVERHEAD  # MaxRuntimeInSeconds 20: each trial reserves it
    per_run, per_month = round(2.2 * worst, 6), round(4.5 * worst, 6)
    base = lt.prepare(tuning_request("family-budget", source="quick", max_jobs=12, max_parallel=2,
                                     max_runtime_seconds=20, tags=tags(per_run, "hard")), SCRIPTS)
    del base["HyperParameterTuningJobName"]
    families.register({"FamilyName": "budgeted", "BaseRequest": base,
                       "Budget": {"MaxSpendUSDPerRun": per_run, "MaxSpendUSDPerMonth": per_month}})
    runs, month = [], 0.0
    for _ in range(6):
        try:
            started = families.retune("budgeted", "cli")
        except FamilyBudgetSpentError as err:
            assert "MaxSpendUSDPerMonth" in str(err)
            break
        name = started["HyperParameterTuningJobName"]
        request = lt.service.ports.executions.describe(name)
        [given] = [float(t["Value"]) for t in json.loads(request["input"])["Tags"]
                   if t["Key"] == "tuner:MaxSpendUSD"]
        assert given == pytest.approx(min(per_run, per_month - month), abs=2e-6)
        described = lt.wait(name, timeout=300)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        spent = sum(costs(lt, name))
        assert spent <= given + 1e-9  # the hard policy, with the run's share of the month
        month += spent
        runs.append(name)
        time.sleep(1.1)  # family jobs are named by the second
    else:
        raise AssertionError(f"the month was never spent: {runs}, ${month:.6f} of ${per_month}")
    print(f"family budget: {len(runs)} runs spent ${month:.6f} of the month's ${per_month} (per run ${per_run})")
    assert len(runs) >= 2 and month <= per_month
    assert families.describe("budgeted")["Spend"]["SpentThisMonthUSD"] == pytest.approx(month, abs=1e-5)
