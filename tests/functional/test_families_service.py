"""Tuning families against moto (DynamoDB, Step Functions, SageMaker): registry, the retune lock,
deferred retunes, the job-ended reaction and auto-deploy."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from tuner.aws.families import FamilyStore
from tuner.aws.sagemaker import ModelHosting
from tuner.core.families import FamilyBusyError, FamilyNotFoundError
from tuner.core.records import JobRecord, TrialRecord
from tuner.errors import ValidationError
from tuner.service.deploy import BestModelDeployment
from tuner.service.families import FamilyService, parse_event
from tuner.wiring import build_service

from tests.functional.tables import create_tuner_table

REGION = "us-east-1"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/quick:latest"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"


def base_request() -> dict:
    return {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"}
                ]
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"sagemaker_program": '"train.py"'},
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}],
            },
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://out/models"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    }


def family_spec(name="churn", **extra) -> dict:
    return {
        "FamilyName": name,
        "BaseRequest": base_request(),
        "Budget": {"MaxNumberOfTrainingJobs": 2},
        **extra,
    }


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class UpdatableSageMaker:
    """moto's SageMaker without UpdateEndpoint (moto 5.2.5 has none): recorded here."""

    def __init__(self, client) -> None:
        self._client = client
        self.updates: list[dict] = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def update_endpoint(self, **kwargs):
        self.updates.append(kwargs)
        return {}


class FamilyEnv(FamilyService):
    """The service under test, with the clients the tests inspect beside it."""

    sfn: Any
    state_machine_arn: str
    sagemaker: UpdatableSageMaker


@contextlib.contextmanager
def family_envs(*granted: bool) -> Iterator[list[FamilyEnv]]:
    """One family service per flag (does its deployment grant AutoDeploy?), all over the same
    table, state machine and SageMaker, in moto."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        create_tuner_table(session.client("dynamodb"))
        sfn = session.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="Tuner",
            roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        tuning = build_service("tuner", session=session, state_machine_arn=machine)
        sagemaker = UpdatableSageMaker(session.client("sagemaker"))

        def build(grant: bool) -> FamilyEnv:
            svc = FamilyEnv(
                FamilyStore("tuner", session.client("dynamodb")),
                tuning,
                deployment=BestModelDeployment(tuning.describe, ModelHosting(sagemaker, REGION)),
                auto_deploy_granted=grant,
                clock=Clock(),
            )
            svc.sfn, svc.state_machine_arn, svc.sagemaker = sfn, machine, sagemaker
            return svc

        yield [build(g) for g in granted]


@pytest.fixture
def env() -> Iterator[FamilyEnv]:
    """A deployment that grants AutoDeploy (test_auto_deploy_grant.py: one without)."""
    with family_envs(True) as (svc,):
        yield svc


def finish(svc: FamilyService, job: str, status: str = "Completed", value: float | None = None) -> None:
    """What the state machine would have written: the job item (terminal), with one scored trial."""
    assert svc.state_machine_arn is not None
    execution = svc.sfn.describe_execution(
        executionArn=svc.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job}"
    )
    request = json.loads(execution["input"])
    svc.tuning.store.create_job(
        JobRecord(name=job, request=request, status=status, ended="2025-05-01T13:00:00+00:00")
    )
    if value is not None:
        training = f"{job}-001-abcdef12"
        svc.tuning.store.put_trial(
            TrialRecord(
                job=job,
                number=1,
                params={"x": "3.0"},
                training_job_name=training,
                status="Completed",
                objective_status="Succeeded",
                final_objective=value,
                recorded=True,
                started="2025-05-01T12:00:00+00:00",
                ended="2025-05-01T12:10:00+00:00",
            )
        )
        svc.sagemaker.create_training_job(
            TrainingJobName=training,
            HyperParameters={"x": "3.0", "sagemaker_program": '"train.py"'},
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            OutputDataConfig={"S3OutputPath": "s3://out/models"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
        )


def test_register_list_describe_delete(env):
    env.register(family_spec("a"))
    env.register(family_spec("b", Description="second"))
    with pytest.raises(ValidationError, match="exists already"):
        env.register(family_spec("a"))
    env.register(family_spec("a", MaxParents=2), replace=True)
    assert sorted(f["FamilyName"] for f in env.list_families()) == ["a", "b"]
    described = env.describe("a")
    assert described["Family"]["MaxParents"] == 2 and described["TuningJobs"] == []
    env.delete("a")
    with pytest.raises(FamilyNotFoundError):
        env.describe("a")
    assert [f["FamilyName"] for f in env.list_families()] == ["b"]
    with pytest.raises(ValidationError, match="FamilyName"):
        env.register({"FamilyName": "no_underscores", "BaseRequest": base_request()})


def test_one_retune_at_a_time_then_warm_started_from_the_terminal_job(env):
    env.register(family_spec())
    first = env.retune("churn", "api")
    assert first["Parents"] == [] and first["HyperParameterTuningJobName"] == "churn-20250501120001"
    # the execution runs, the job item is not written yet: the family is busy (read from the execution)
    with pytest.raises(FamilyBusyError, match="churn-20250501120001"):
        env.retune("churn")
    with pytest.raises(FamilyBusyError):
        env.delete("churn")
    # with the job item InProgress: still busy; an event-triggered retune is deferred instead
    finish(env, first["HyperParameterTuningJobName"], status="InProgress")
    deferred = env.retune("churn", "data", {"MaxNumberOfTrainingJobs": 3}, defer_if_busy=True)
    assert deferred["Deferred"] is True
    assert env.describe("churn")["PendingRetune"] == {
        "Trigger": "data",
        "Overrides": {"MaxNumberOfTrainingJobs": 3},
    }
    # once the job item is terminal, the lock is taken over: no clear event needed
    env.tuning.store.update_job(first["HyperParameterTuningJobName"], status="Completed")
    second = env.retune("churn", "schedule")
    assert second["Parents"] == [first["HyperParameterTuningJobName"]]
    execution = env.sfn.describe_execution(executionArn=second["ExecutionArn"])
    request = json.loads(execution["input"])
    assert (
        execution["name"] == request["HyperParameterTuningJobName"] == second["HyperParameterTuningJobName"]
    )
    assert request["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 2
    described = env.describe("churn")
    assert described["TuningJobs"] == [
        first["HyperParameterTuningJobName"],
        second["HyperParameterTuningJobName"],
    ]
    assert (
        described["RunningTuningJob"]["HyperParameterTuningJobName"] == second["HyperParameterTuningJobName"]
    )
    assert "PendingRetune" not in described  # taken by the retune that started


def test_concurrent_retunes_start_exactly_one_job(env):
    env.register(family_spec())
    results: list[object] = []

    def go() -> None:
        try:
            results.append(env.retune("churn"))
        except FamilyBusyError as err:
            results.append(err)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if isinstance(r, dict)]
    assert len(started) == 1 and len(results) == 6
    assert len(env.sfn.list_executions(stateMachineArn=env.state_machine_arn)["executions"]) == 1


def test_a_failed_start_releases_the_lock_and_forgets_the_job(env, monkeypatch):
    env.register(family_spec())

    def boom(**kwargs):
        raise RuntimeError("throttled")

    monkeypatch.setattr(env.executions.sfn, "start_execution", boom)
    with pytest.raises(RuntimeError):
        env.retune("churn")
    item = env.families.get("churn")
    assert item["running"] is None and item["jobs"] == []


def test_a_lock_whose_start_has_not_happened_yet_is_busy_then_taken_over(env):
    """The lock is taken before StartExecution: a concurrent retune in between must not read the
    missing execution as a dead job (that started two jobs); after the grace period it is one."""
    from tuner.aws.families import _key as family_key
    from tuner.service import families as families_module

    env.register(family_spec())
    assert env.families.acquire("churn", "churn-crashed", previous=None, jobs=[])  # its Lambda then died
    with pytest.raises(FamilyBusyError, match="churn-crashed"):
        env.retune("churn")
    env.families.ddb.update_item(
        TableName=env.families.table,
        Key=family_key("churn"),
        UpdateExpression="SET running_since = :t",
        ExpressionAttributeValues={":t": {"S": "2025-05-01T00:00:00+00:00"}},
    )
    assert families_module.START_GRACE_SECONDS <= 3600
    taken = env.retune("churn")  # the start never happened: the lock is taken over
    assert env.families.get("churn")["running"] == taken["HyperParameterTuningJobName"]


def test_the_job_ended_event_releases_the_lock_and_starts_the_deferred_retune(env):
    env.register(family_spec())
    first = env.retune("churn")["HyperParameterTuningJobName"]
    env.retune("churn", "event", {"MaxNumberOfTrainingJobs": 3}, defer_if_busy=True)
    finish(env, first)
    detail = env.tuning.describe(first)
    out = env.on_tuning_job_state_change(json.loads(json.dumps(detail, default=str)))
    assert out["Released"] is True and out["Retune"]["Parents"] == [first]
    request = json.loads(env.sfn.describe_execution(executionArn=out["Retune"]["ExecutionArn"])["input"])
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3
    # a job of no family is ignored
    assert (
        env.on_tuning_job_state_change(
            {"HyperParameterTuningJobName": "other", "HyperParameterTuningJobStatus": "Completed"}
        )["FamilyName"]
        is None
    )


def test_a_state_change_event_names_a_job_and_its_status_comes_from_the_store(env):
    """A forged, stale or early event saying "Completed" cannot release the family's lock or
    deploy the running job's current best (docs/security.md)."""
    env.register(family_spec(AutoDeploy={"EndpointName": "churn-live"}))
    running = env.retune("churn")["HyperParameterTuningJobName"]
    finish(env, running, status="InProgress", value=0.9)  # stored, still running, with a best so far
    forged = {"HyperParameterTuningJobName": running, "HyperParameterTuningJobStatus": "Completed"}
    out = env.on_tuning_job_state_change(forged)
    assert out["FamilyName"] == "churn" and "Released" not in out and "Deploy" not in out
    assert env.families.get("churn")["running"] == running
    with pytest.raises(ClientError):
        env.sagemaker.describe_endpoint(EndpointName="churn-live")
    # the same event once the store says the job ended: the lock is released
    env.tuning.store.update_job(running, status="Completed", ended="2025-05-01T13:00:00+00:00")
    assert env.on_tuning_job_state_change(forged)["Released"] is True


def test_auto_deploy_creates_then_updates_only_when_the_margin_is_beaten(env):
    env.register(family_spec(AutoDeploy={"EndpointName": "churn-live", "Margin": 0.05}))
    sm = env.sagemaker

    def run(value: float) -> dict:
        job = env.retune("churn")["HyperParameterTuningJobName"]
        finish(env, job, value=value)
        return env.on_tuning_job_state_change(
            {"HyperParameterTuningJobName": job, "HyperParameterTuningJobStatus": "Completed"}
        )["Deploy"]

    first = run(0.50)
    assert first["Deployed"] is True and first["Updated"] is False
    endpoint = sm.describe_endpoint(EndpointName="churn-live")
    assert endpoint["EndpointConfigName"] == first["EndpointConfigName"]
    model = sm.describe_model(ModelName=first["EndpointConfigName"])
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"]
    # the one best-model deployment: the SageMaker SDK's framework-model environment (tuner deploy's too)
    assert model["PrimaryContainer"]["Environment"] == {
        "SAGEMAKER_PROGRAM": "train.py",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": REGION,
    }
    assert model["ExecutionRoleArn"] == ROLE
    # 0.47 is better (minimise) but not by 0.05: nothing deployed
    second = run(0.47)
    assert second["Deployed"] is False and "margin" in second["Reason"]
    # 0.40 beats 0.50 by 0.1: the endpoint is updated to the new config
    third = run(0.40)
    assert third["Deployed"] is True and third["Updated"] is True
    assert sm.updates == [{"EndpointName": "churn-live", "EndpointConfigName": third["EndpointConfigName"]}]
    assert env.describe("churn")["DeployedBest"]["Value"] == 0.40


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"Family": "f", "Trigger": "data", "Bucket": "b", "Key": "k"}, ("retune", "f", "data", {})),
        ({"Family": "f", "Trigger": "schedule"}, ("retune", "f", "schedule", {})),
        (
            {
                "source": "tuner",
                "detail-type": "Retune Requested",
                "detail": {"Family": "f", "Overrides": {"MaxNumberOfTrainingJobs": 2}},
            },
            ("retune", "f", "event", {"MaxNumberOfTrainingJobs": 2}),
        ),
        (
            {"source": "tuner", "detail-type": "Hyperparameter Tuning Job State Change", "detail": {}},
            ("state-change", None, "event", {}),
        ),
    ],
)
def test_events_of_the_retune_lambda(event, expected):
    assert parse_event(copy.deepcopy(event)) == expected


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Family": ""},
        {"detail-type": "Retune Requested", "detail": {}},
        {"Family": "f", "Overrides": {"Bogus": 1}},
    ],
)
def test_malformed_retune_events_are_refused(event):
    with pytest.raises(ValidationError):
        parse_event(event)


# ---- dollar limits (Budget.MaxSpendUSDPerRun / MaxSpendUSDPerMonth, docs/cost.md) ---------------
def _spend(svc: FamilyService, job: str, usd: float) -> float:
    """Finish ``job`` with one recorded trial billed for about ``usd`` on the base request's one
    ml.m5.large; returns what that trial costs by the price table (billable seconds x the hourly
    price / 3600, plus the tuner's overhead per trial)."""
    from tuner.core import cost

    table = cost.PriceTable.load()
    rate = table.training_hour(REGION, "ml.m5.large").usd / 3600
    overhead = cost.trial_overhead(table, REGION)
    seconds = max(1, round((usd - overhead) / rate))
    finish(svc, job)
    svc.tuning.store.put_trial(
        TrialRecord(job=job, number=1, params={"x": "3.0"}, training_job_name=f"{job}-001-abcdef12",
                    status="Completed", objective_status="Succeeded", final_objective=1.0, recorded=True,
                    started="2025-05-01T12:00:00+00:00", ended="2025-05-01T12:10:00+00:00",
                    billable_seconds=seconds)
    )
    return seconds * rate + overhead


def _budget_tag(svc: FamilyService, started: dict) -> float:
    request = json.loads(svc.sfn.describe_execution(executionArn=started["ExecutionArn"])["input"])
    [value] = [t["Value"] for t in request["Tags"] if t["Key"] == "tuner:MaxSpendUSD"]
    return float(value)


def test_a_monthly_dollar_limit_gives_each_run_what_is_left_then_refuses_until_the_next_month(env):
    from tuner.core.families import FamilyBudgetSpentError

    env.register(family_spec(Budget={"MaxNumberOfTrainingJobs": 2, "MaxSpendUSDPerRun": 1.0,
                                     "MaxSpendUSDPerMonth": 1.5}))
    # the first run: its per-run limit (less than the month's)
    first = env.retune("churn")
    assert _budget_tag(env, first) == 1.0
    spent = _spend(env, first["HyperParameterTuningJobName"], 0.9)
    # the second: what the month has left, recomputed from the first run's billable seconds
    second = env.retune("churn")
    assert _budget_tag(env, second) == pytest.approx(1.5 - spent, abs=1e-6)
    assert _budget_tag(env, second) <= 1.5 - spent  # rounded down, never above what is left
    assert env.describe("churn")["Spend"] == {
        "Month": "2025-05", "SpentThisMonthUSD": pytest.approx(spent, abs=1e-6),
        "MaxSpendUSDPerRun": 1.0, "MaxSpendUSDPerMonth": 1.5,
    }
    spent += _spend(env, second["HyperParameterTuningJobName"], 0.7)  # passes what was left
    assert spent > 1.5
    # the month is spent: a caller is told why, and how to retune now
    with pytest.raises(FamilyBudgetSpentError, match=r"MaxSpendUSDPerMonth \$1.5 in 2025-05"):
        env.retune("churn")
    # a schedule's retune is skipped (no error for EventBridge to retry), and starts nothing
    out = env.handle({"Family": "churn", "Trigger": "schedule"})
    assert out["Skipped"] is True and "2025-05" in out["Reason"]
    assert len(env.describe("churn")["TuningJobs"]) == 2
    # a new month starts afresh
    env.clock.now = datetime(2025, 6, 1, 0, 0, 0, tzinfo=UTC)
    third = env.retune("churn")
    assert _budget_tag(env, third) == 1.0
    assert env.describe("churn")["Spend"]["SpentThisMonthUSD"] == 0


def test_a_deferred_retune_skipped_for_the_month_is_dropped(env):
    env.register(family_spec(Budget={"MaxSpendUSDPerMonth": 0.5}))
    first = env.retune("churn")["HyperParameterTuningJobName"]
    assert env.retune("churn", "data", defer_if_busy=True)["Deferred"] is True
    _spend(env, first, 0.6)
    out = env.on_tuning_job_state_change({"HyperParameterTuningJobName": first})
    assert out["Released"] is True and out["Retune"]["Skipped"] is True
    assert "PendingRetune" not in env.describe("churn")


def test_the_base_requests_own_budget_tag_is_a_cap_too(env):
    request = base_request()
    request["Tags"] = [{"Key": "tuner:MaxSpendUSD", "Value": "0.25"}]
    env.register(family_spec(BaseRequest=request, Budget={"MaxSpendUSDPerMonth": 10}))
    assert _budget_tag(env, env.retune("churn")) == 0.25
    with pytest.raises(ValidationError, match="Budget.MaxSpendUSDPerRun"):
        env.register(family_spec("other", Budget={"MaxSpendUSDPerRun": -1}))
    with pytest.raises(ValidationError, match="BaseRequest.Tags"):
        bad = base_request()
        bad["Tags"] = [{"Key": "tuner:MaxSpendUSD", "Value": "lots"}]
        env.register(family_spec("other", BaseRequest=bad))


def test_an_ended_runs_spend_is_kept_on_the_family_and_not_read_again(env, monkeypatch):
    env.register(family_spec(Budget={"MaxNumberOfTrainingJobs": 2, "MaxSpendUSDPerMonth": 5}))
    first = env.retune("churn")["HyperParameterTuningJobName"]
    spent = _spend(env, first, 0.9)
    reads: list[str] = []
    real_spent = env.tuning.queries.spent
    monkeypatch.setattr(env.tuning.queries, "spent", lambda job: reads.append(job) or real_spent(job))
    # WHEN the job-ended event arrives (twice: EventBridge delivers at least once)
    for _ in range(2):
        env.on_tuning_job_state_change({"HyperParameterTuningJobName": first})
    # THEN the run's final spend is on the family item, once
    item = env.families.get("churn")
    assert item is not None
    assert item["spent"] == {first: {"Month": "2025-05", "USD": pytest.approx(spent)}}
    # AND the month's sum no longer reads that run's trials (describe, then the next retune)
    reads.clear()
    assert env.describe("churn")["Spend"]["SpentThisMonthUSD"] == pytest.approx(spent, abs=1e-6)
    second = env.retune("churn")
    assert reads == [] and _budget_tag(env, second) == pytest.approx(5 - spent, abs=1e-6)
    # AND a run without a kept spend (its event not arrived yet) is still read from its trials
    spent += _spend(env, second["HyperParameterTuningJobName"], 0.4)
    assert env.describe("churn")["Spend"]["SpentThisMonthUSD"] == pytest.approx(spent, abs=1e-6)
    assert reads == [second["HyperParameterTuningJobName"]]


def test_kept_spends_of_other_months_are_dropped_when_a_run_of_this_month_is_kept(env):
    env.register(family_spec(Budget={"MaxSpendUSDPerMonth": 5}))
    env.families.record_spend("churn", "churn-old", 1.25, "2025-04")
    env.families.record_spend("churn", "churn-old2", 0.5, "2025-04")
    env.families.record_spend("churn", "churn-new", 0.75, "2025-05")
    item = env.families.get("churn")
    assert item is not None and item["spent"] == {"churn-new": {"Month": "2025-05", "USD": 0.75}}
    assert env.families.record_spend("gone", "x", 1.0, "2025-05") is False


def test_a_hard_month_that_cannot_pay_one_trial_refuses_even_the_first_run(env):
    from tuner.core.families import FamilyBudgetSpentError

    # the base request's one ml.m5.large for up to 300 s costs more than a tenth of a cent
    request = base_request()
    request["Tags"] = [{"Key": "tuner:MaxSpendUSD", "Value": "10"}, {"Key": "tuner:SpendPolicy", "Value": "hard"}]
    env.register(family_spec(BaseRequest=request, Budget={"MaxSpendUSDPerMonth": 0.001}))
    assert env.executions.region == REGION  # the state machine's region prices the trial
    # WHEN the family's first run is asked for
    with pytest.raises(FamilyBudgetSpentError, match=r"cannot pay one trial's worst case") as err:
        env.retune("churn")
    # THEN it is refused before any execution starts, with how to retune now
    assert "raise Budget.MaxSpendUSDPerMonth" in str(err.value)
    assert env.sfn.list_executions(stateMachineArn=env.state_machine_arn)["executions"] == []
    assert env.describe("churn")["TuningJobs"] == []


def test_a_late_event_of_last_months_run_keeps_nothing_and_drops_nothing(env):
    env.register(family_spec(Budget={"MaxSpendUSDPerMonth": 5}))
    old = env.retune("churn")["HyperParameterTuningJobName"]  # created in May
    _spend(env, old, 0.5)
    env.clock.now = datetime(2025, 6, 2, 0, 0, 0, tzinfo=UTC)
    new = env.retune("churn")["HyperParameterTuningJobName"]  # created in June
    spent = _spend(env, new, 0.25)
    env.on_tuning_job_state_change({"HyperParameterTuningJobName": new})
    # WHEN May's run's event arrives late, in June
    env.on_tuning_job_state_change({"HyperParameterTuningJobName": old})
    # THEN June's kept spend stays, May's is not kept, and the month sums June's run only
    item = env.families.get("churn")
    assert item is not None and list(item["spent"]) == [new]
    assert env.describe("churn")["Spend"]["SpentThisMonthUSD"] == pytest.approx(spent, abs=1e-6)
