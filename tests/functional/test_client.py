"""TunerClient over an in-memory store and stubbed AWS clients (botocore Stubber): shapes, errors,
filters, pagination and delegation. The full path through the deployed stack is in tests/e2e."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from tuner.aws.stepfunctions import Executions
from tuner.client import TunerClient
from tuner.core.records import JobRecord, TrialRecord
from tuner.service.tuning import TuningService
from tuner.shapes import assert_valid_output

from tests.builders import continuous, tuning_request

SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Tuner"
OUTPUTS = {"StateMachineArn": SM_ARN, "TableName": "tuner", "BucketName": "tuner-bucket"}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self.trials: dict[str, list[TrialRecord]] = {}

    def get_job(self, name):
        return copy.deepcopy(self.jobs.get(name))

    def reserve_name(self, name, at, *, replace=None):
        return None  # names reserved across cases: tests/functional/test_client_parity.py

    def reserved(self, name):
        return None

    def list_jobs(self):
        return list(self.jobs.values())

    def list_trials(self, name):
        return list(self.trials.get(name, []))

    def open_trials(self, name):
        return [t for t in self.list_trials(name) if not t.recorded or t.task_token]

    def get_trial(self, name, number):
        return next((copy.deepcopy(t) for t in self.trials.get(name, []) if t.number == number), None)

    def update_job(self, name, *, expect_status=None, **values):
        job = self.jobs[name]
        if expect_status and job.status not in expect_status:
            return False
        for k, v in values.items():
            setattr(job, k, v)
        return True

    def update_trial(self, name, number, *, only_unrecorded=False, attempt_of=None, **values):
        for t in self.trials.get(name, []):
            if attempt_of is not None and t.training_job_name != attempt_of:
                continue
            if t.number == number and not (only_unrecorded and t.recorded):
                for k, v in values.items():
                    setattr(t, k, v)
                return True
        return False


class Backend:
    def __init__(self) -> None:
        self.stopped: list[str] = []

    def stop(self, name):
        self.stopped.append(name)


def quick(name: str, *, max_jobs: int = 2, max_parallel: int = 1) -> dict:
    """A Random request for the quick script over x in [0.5, 8]."""
    return tuning_request(
        name, source="quick", strategy="Random", ranges=continuous(0.5, 8), max_jobs=max_jobs, max_parallel=max_parallel
    )


def add_job(store, name, status="Completed", minutes=0, n=3):
    created = (T0 + timedelta(minutes=minutes)).isoformat()
    req = quick(name, max_jobs=n, max_parallel=2)
    store.jobs[name] = JobRecord(
        name=name,
        request=req,
        status=status,
        created=created,
        last_modified=created,
        ended=None if status == "InProgress" else created,
        execution_arn=SM_ARN.replace("stateMachine", "execution") + ":" + name,
    )
    store.trials[name] = [
        TrialRecord(
            job=name,
            number=i,
            params={"x": str(i)},
            training_job_name=f"{name}-{i:03d}-0000abcd",
            status="Completed" if status != "InProgress" or i < n else "InProgress",
            created=created,
            started=created,
            ended=created if (status != "InProgress" or i < n) else None,
            final_objective=float(abs(i - 2)) if (status != "InProgress" or i < n) else None,
            objective_status="Succeeded" if (status != "InProgress" or i < n) else "Pending",
            recorded=status != "InProgress" or i < n,
        )
        for i in range(1, n + 1)
    ]


@pytest.fixture()
def env():
    session = boto3.session.Session(region_name="us-east-1")
    client = TunerClient(session=session, outputs=OUTPUTS)
    store, backend = MemoryStore(), Backend()
    sfn = session.client("stepfunctions")
    client._service = TuningService.over(store, backend=backend, executions=Executions(sfn, SM_ARN))
    stub = Stubber(sfn)
    stub.activate()
    yield client, store, backend, stub
    stub.deactivate()


def code(err: pytest.ExceptionInfo) -> str:
    return err.value.response["Error"]["Code"]


def test_create_starts_the_execution_named_after_the_job(env):
    client, store, _, stub = env
    req = quick("new-job", max_jobs=2, max_parallel=1)
    stub.add_response(
        "start_execution",
        {"executionArn": "arn:x", "startDate": T0},
        {"stateMachineArn": SM_ARN, "name": "new-job", "input": ANY},
    )
    r = client.create_hyper_parameter_tuning_job(**req)
    assert (
        r["HyperParameterTuningJobArn"]
        == "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/new-job"
    )
    assert_valid_output("CreateHyperParameterTuningJob", r)
    stub.assert_no_pending_responses()


def test_create_errors_have_sagemaker_codes(env):
    client, store, _, stub = env
    add_job(store, "taken")
    req = quick("taken", max_jobs=2, max_parallel=1)
    with pytest.raises(client.exceptions.ResourceInUse):
        client.create_hyper_parameter_tuning_job(**req)
    bad = copy.deepcopy(req)
    bad["HyperParameterTuningJobName"] = "fresh"
    bad["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 0
    with pytest.raises(ClientError) as err:
        client.create_hyper_parameter_tuning_job(**bad)
    assert code(err) == "ValidationException" and "MaxParallelTrainingJobs" in str(err.value)
    stub.add_client_error("start_execution", "ExecutionAlreadyExists")
    req["HyperParameterTuningJobName"] = "started-before"
    with pytest.raises(ClientError) as err:
        client.create_hyper_parameter_tuning_job(**req)
    assert code(err) == "ResourceInUse"
    warm = copy.deepcopy(req)
    warm["HyperParameterTuningJobName"] = "warm"
    warm["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "ghost"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.create_hyper_parameter_tuning_job(**warm)


def test_describe_shape_and_sdk_view(env):
    client, store, _, stub = env
    add_job(store, "done")
    d = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="done")
    assert_valid_output("DescribeHyperParameterTuningJob", d)
    assert d["BestTrainingJob"]["TunedHyperParameters"] == {"x": "2"}
    definition = d["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"]["_tuning_objective_metric"] == "loss"
    assert (
        "_tuning_objective_metric"
        not in store.jobs["done"].request["TrainingJobDefinition"]["StaticHyperParameters"]
    )
    stub.add_client_error("describe_execution", "ExecutionDoesNotExist")
    with pytest.raises(client.exceptions.ResourceNotFound) as err:
        client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="missing")
    assert code(err) == "ResourceNotFound"


def test_describe_before_the_first_step_answers_from_the_execution(env):
    client, _, _, stub = env
    req = quick("starting", max_jobs=2, max_parallel=1)
    import json

    stub.add_response(
        "describe_execution",
        {
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:Tuner:starting",
            "stateMachineArn": SM_ARN,
            "status": "RUNNING",
            "startDate": T0,
            "input": json.dumps(req),
        },
    )
    d = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="starting")
    assert d["HyperParameterTuningJobStatus"] == "InProgress"
    assert d["TrainingJobStatusCounters"]["Completed"] == 0
    assert_valid_output("DescribeHyperParameterTuningJob", d)


def test_list_tuning_jobs_filters_sorts_and_pages(env):
    client, store, _, _ = env
    for i, (name, status) in enumerate(
        [("alpha", "Completed"), ("beta", "InProgress"), ("alpha-2", "Stopped")]
    ):
        add_job(store, name, status=status, minutes=i)
    r = client.list_hyper_parameter_tuning_jobs()
    assert_valid_output("ListHyperParameterTuningJobs", r)
    assert [j["HyperParameterTuningJobName"] for j in r["HyperParameterTuningJobSummaries"]] == [
        "alpha-2",
        "beta",
        "alpha",
    ]
    assert r["HyperParameterTuningJobSummaries"][1]["TrainingJobStatusCounters"]["InProgress"] == 1
    names = lambda r: [j["HyperParameterTuningJobName"] for j in r["HyperParameterTuningJobSummaries"]]  # noqa: E731
    assert names(
        client.list_hyper_parameter_tuning_jobs(NameContains="ALPHA", SortBy="Name", SortOrder="Ascending")
    ) == ["alpha", "alpha-2"]
    assert names(client.list_hyper_parameter_tuning_jobs(StatusEquals="InProgress")) == ["beta"]
    assert names(client.list_hyper_parameter_tuning_jobs(CreationTimeAfter=T0 + timedelta(seconds=30))) == [
        "alpha-2",
        "beta",
    ]
    assert names(client.list_hyper_parameter_tuning_jobs(CreationTimeBefore=T0 + timedelta(seconds=30))) == [
        "alpha"
    ]
    page1 = client.list_hyper_parameter_tuning_jobs(MaxResults=2, SortBy="Name", SortOrder="Ascending")
    page2 = client.list_hyper_parameter_tuning_jobs(
        MaxResults=2, SortBy="Name", SortOrder="Ascending", NextToken=page1["NextToken"]
    )
    assert names(page1) + names(page2) == ["alpha", "alpha-2", "beta"] and "NextToken" not in page2
    with pytest.raises(ClientError) as err:
        client.list_hyper_parameter_tuning_jobs(MaxResults=0)
    assert code(err) == "ValidationException"


def test_list_training_jobs_and_paginator(env):
    client, store, _, _ = env
    add_job(store, "many", n=5)
    r = client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="many",
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Ascending",
        MaxResults=2,
    )
    assert_valid_output("ListTrainingJobsForHyperParameterTuningJob", r)
    assert [s["TunedHyperParameters"]["x"] for s in r["TrainingJobSummaries"]] == ["2", "1"] and r[
        "NextToken"
    ]
    pages = list(
        client.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName="many", PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [2, 2, 1]
    assert len(client.all_training_jobs("many")) == 5


def test_stop(env):
    client, store, backend, _ = env
    add_job(store, "running", status="InProgress")
    assert_valid_output(
        "StopHyperParameterTuningJob",
        client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="running"),
    )
    assert store.jobs["running"].status == "Stopping" and backend.stopped == ["running-003-0000abcd"]
    add_job(store, "finished")
    with pytest.raises(ClientError) as err:
        client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="finished")
    assert code(err) == "ValidationException"


def test_everything_else_is_the_real_sagemaker_client(env):
    client, _, _, _ = env
    assert client.meta.region_name == "us-east-1" and client.meta.service_model.service_name == "sagemaker"
    with Stubber(client._sm) as sm_stub:
        sm_stub.add_response("list_endpoints", {"Endpoints": []})
        assert client.list_endpoints()["Endpoints"] == []
    assert client.can_paginate("list_training_jobs") and callable(client.create_model)
    with pytest.raises(AttributeError):
        client.no_such_operation  # noqa: B018
