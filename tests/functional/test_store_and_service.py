"""The DynamoDB store and the service's idempotency, against moto (DynamoDB, SageMaker, Logs, SFN)."""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from tuner.aws.store import DynamoStore
from tuner.core.records import JobRecord, TrialRecord
from tuner.errors import DuplicateTuningJobError, ValidationError
from tuner.service.jobs import load
from tuner.service.tuning import TuningService
from tuner.wiring import build_service

from tests.functional.tables import create_tuner_table

EVENTS = Path(__file__).resolve().parents[1] / "events"
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"


@pytest.fixture
def aws():
    from tuner.local import atomic  # DynamoDB's conditional writes are atomic; moto's need a lock

    atomic.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_tuner_table(ddb)
        yield boto3.session.Session(region_name="us-east-1")
    atomic.uninstall()


@pytest.fixture
def store(aws):
    return DynamoStore("tuner", aws.client("dynamodb"))


def request(name="job-a", **config):
    r = json.loads((EVENTS / "request_random.json").read_text())
    r["HyperParameterTuningJobName"] = name
    r["HyperParameterTuningJobConfig"].update(config)
    return r


def test_claims_are_idempotent_per_key_and_never_exceed_the_budget(store):
    store.create_job(JobRecord(name="j", request={}))
    assert store.claim_trial("j", "1#0", 5) == 1
    assert store.claim_trial("j", "1#0", 5) == 1  # a retried step gets the same trial
    results: list[int | None] = []
    lock = threading.Lock()

    def claim(lap: int) -> None:
        for it in range(3):
            n = store.claim_trial("j", f"{lap + 2}#{it}", 5)
            with lock:
                results.append(n)

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    taken = sorted(n for n in results if n is not None)
    assert taken == [2, 3, 4, 5]  # every number once, none beyond MaxNumberOfTrainingJobs
    assert store.get_job("j").next_trial == 5


def test_trials_put_once_and_results_recorded_once(store):
    t = TrialRecord(job="j", number=1, params={"x": "1"}, training_job_name="j-001-00000000")
    assert store.put_trial(t) is t
    again = store.put_trial(TrialRecord(job="j", number=1, params={"x": "2"}, training_job_name="other"))
    assert again.params == {"x": "1"}  # the stored one wins
    assert store.update_trial("j", 1, only_unrecorded=True, status="Completed", final_objective=0.5, recorded=True)
    assert not store.update_trial("j", 1, only_unrecorded=True, status="Failed", recorded=True)
    stored = store.get_trial("j", 1)
    assert (stored.status, stored.final_objective) == ("Completed", 0.5)


def test_duplicate_name_is_refused_but_the_same_execution_is_idempotent(aws):
    svc = build_service("tuner", session=aws)
    out = svc.create_job(request(), execution_arn=EXEC_ARN + "job-a")
    assert out == {
        "TuningJobName": "job-a", "Laps": [1, 2, 3, 4], "MaxParallel": 4, "LapTrials": 1000, "StartJitter": 0
    }
    assert svc.create_job(request(), execution_arn=EXEC_ARN + "job-a") == out  # Lambda retry
    with pytest.raises(DuplicateTuningJobError, match="exists already"):  # the same name, another machine
        svc.create_job(request(), execution_arn=EXEC_ARN.replace(":Tuner:", ":TunerCopy:") + "job-a")
    assert svc.describe("job-a")["HyperParameterTuningJobStatus"] == "InProgress"


def test_invalid_request_stores_only_a_failed_job_naming_the_field(aws):
    svc = build_service("tuner", session=aws)
    bad = request("job-bad", ResourceLimits={"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 0})
    with pytest.raises(ValidationError) as err:
        svc.create_job(bad, execution_arn=EXEC_ARN + "job-bad")
    assert "MaxParallelTrainingJobs" in str(err.value)
    d = svc.describe("job-bad")
    assert d["HyperParameterTuningJobStatus"] == "Failed"
    assert "MaxParallelTrainingJobs" in d["FailureReason"]
    assert svc.store.list_trials("job-bad") == []


def test_a_duplicated_event_is_counted_once_and_an_used_token_is_harmless(aws):
    svc = build_service("tuner", session=aws)
    svc.create_job(request("job-e", Strategy="Random"), execution_arn=EXEC_ARN + "job-e")
    name = "job-e-001-0badc0de"
    svc.store.claim_trial("job-e", "1#0", 20)
    svc.store.put_trial(TrialRecord(job="job-e", number=1, params={"max_depth": "3"}, training_job_name=name,
                                    status="InProgress", task_token="not-a-live-token"))
    sm = aws.client("sagemaker")  # moto: the job is Completed at once
    sm.create_training_job(
        TrainingJobName=name, AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole", OutputDataConfig={"S3OutputPath": "s3://b/o"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=f"{name}/algo-1-1")
    logs.put_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=f"{name}/algo-1-1",
        logEvents=[
            {"timestamp": int(time.time() * 1000) + i, "message": f"validation-auc:{v}"}
            for i, v in enumerate([0.7, "nan", 0.8, "junk"])
        ],
    )
    first = svc.record_training_job(name)
    second = svc.record_training_job(name)  # the same event delivered twice
    assert first["Status"] == second["Status"] == "Completed"
    assert "LapWoken" in first  # moto accepts any token; a used one is tolerated either way
    t = svc.store.get_trial("job-e", 1)
    assert t.final_objective == 0.8 and t.series == [0.7, 0.8]  # latest value; NaN and garbage skipped
    d = svc.describe("job-e")
    assert d["TrainingJobStatusCounters"]["Completed"] == 1
    assert d["ObjectiveStatusCounters"]["Succeeded"] == 1
    assert svc.record_training_job("unrelated-training-job")["Ignored"]


def test_a_job_failed_twice_keeps_the_first_reason_and_publishes_once(aws):
    # GIVEN a consumer of the tuner's state-change events (a rule delivering to a log group)
    logs, events = aws.client("logs"), aws.client("events")
    logs.create_log_group(logGroupName="/consumer")
    events.put_rule(Name="capture", EventPattern=json.dumps({"source": ["tuner"]}))
    consumer = "arn:aws:logs:us-east-1:123456789012:log-group:/consumer"
    events.put_targets(Rule="capture", Targets=[{"Id": "l", "Arn": consumer}])
    svc = build_service("tuner", session=aws)
    svc.create_job(request("job-f"), execution_arn=EXEC_ARN + "job-f")
    # WHEN a lap marks it Failed with its own error, then the parent's MarkFailed with the Map Run's
    svc.fail_job("job-f", {"Error": "RuntimeError", "Cause": "the lap's own error"})
    svc.fail_job("job-f", {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "a child failed"})
    # THEN the first reason stays, and one Failed event was published
    assert "the lap's own error" in svc.describe("job-f")["FailureReason"]
    statuses = [
        json.loads(e["message"])["detail"]["HyperParameterTuningJobStatus"]
        for s in logs.describe_log_streams(logGroupName="/consumer")["logStreams"]
        for e in logs.get_log_events(logGroupName="/consumer", logStreamName=s["logStreamName"])["events"]
    ]
    assert sorted(statuses) == ["Failed", "InProgress"]


class _CountingStore:
    """The real store, counting the reads of a tuning job's whole trial list and of its open trials."""

    def __init__(self, store):
        self._store, self.lists, self.opens = store, 0, 0

    def list_trials(self, name):
        self.lists += 1
        return self._store.list_trials(name)

    def open_trials(self, name):
        self.opens += 1
        return self._store.open_trials(name)

    def __getattr__(self, attr):
        return getattr(self._store, attr)


@pytest.mark.parametrize(
    ("strategy", "retries", "reads_per_step"),
    [("Random", False, 0), ("Grid", False, 0), ("Random", True, 0), ("Bayesian", False, 1)],
)
def test_steps_read_the_trial_list_only_when_they_need_it(aws, strategy, retries, reads_per_step):
    """At 10,000 trials a full read of the trials dominates a step: Grid and Random over a
    continuous range propose from the trial number, and only RetryStrategy needs the retry scan
    (of the open trials, not the list)."""
    name = f"job-{strategy.lower()}-{retries}".lower()
    r = request(name, Strategy=strategy)
    if strategy == "Grid":
        r["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
            "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart", "gblinear"]}]
        }
        r["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 3
    if not retries:
        del r["TrainingJobDefinition"]["RetryStrategy"]
    svc = build_service("tuner", session=aws)
    svc.create_job(r, execution_arn=EXEC_ARN + name)
    counting = _CountingStore(svc.store)
    svc = TuningService(dataclasses.replace(svc.ports, store=counting))
    started = [svc.next_trial(name, lap, 0, f"token-{lap}") for lap in (1, 2, 3)]
    assert [s["TrialNumber"] for s in started] == [1, 2, 3]
    params = [counting.get_trial(name, n).params for n in (1, 2, 3)]
    assert len({json.dumps(p, sort_keys=True) for p in params}) == 3  # three different proposals
    if reads_per_step:
        assert counting.lists >= 3 * reads_per_step
    else:
        assert counting.lists == 0
    assert (counting.opens >= 3) if retries else (counting.opens == 0)


def test_a_warm_start_parent_is_read_once_per_container(aws):
    """A terminal parent's trials never change: proposals read them once, then check the job item."""
    from tuner.core.records import TrialRecord

    svc = build_service("tuner", session=aws)
    parent = request("parent", Strategy="Bayesian")
    del parent["TrainingJobDefinition"]["RetryStrategy"]
    svc.create_job(parent, execution_arn=EXEC_ARN + "parent")
    for n in range(1, 4):
        svc.store.put_trial(TrialRecord(
            job="parent", number=n, params={"max_depth": str(n + 2), "eta": "0.1", "subsample": "0.8",
                                            "booster": "gbtree"},
            training_job_name=f"parent-00{n}-0000000{n}", status="Completed", objective_status="Succeeded",
            final_objective=0.5 + n / 10, recorded=True,
        ))
    # claimed, as a lap claims a trial before storing it (the store reads up to next_trial)
    svc.store.update_job("parent", status="Completed", ended="2026-11-28T00:00:00+00:00", next_trial=3)
    child = request("child", Strategy="Bayesian")
    del child["TrainingJobDefinition"]["RetryStrategy"]
    child["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "TransferLearning",
    }
    svc.create_job(child, execution_arn=EXEC_ARN + "child")
    reads: list[str] = []
    original = svc.store.list_trials

    def counting(name):
        reads.append(name)
        return original(name)

    svc.store.list_trials = counting
    for lap in (1, 2, 3):
        svc.next_trial("child", lap, 0, f"token-{lap}")
    assert reads.count("parent") == 1 and reads.count("child") >= 3
    # the parent's three results reached every proposal (not only the first)
    assert len(svc.proposals.parent_observations(load(svc.store, "child")[1])) == 3
