"""TunerClient against moto (DynamoDB table with its by-kind index, a Step Functions state machine
that is not executed): the differences from AMT that docs/parity.md lists, seen through the client.

The state machine's first step (``CreateTuningJob``) is played by ``first_step``: it reads the
execution's input and calls the create use case, as the create_job Lambda does."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from tuner.aws.store import JOB_SK, KIND, _to_item, _trial_sk
from tuner.client import TunerClient
from tuner.core.records import JobRecord, TrialRecord
from tuner.shapes import assert_valid_output

from tests.builders import categorical, tuning_request
from tests.functional.tables import create_tuner_table

ROLE = "arn:aws:iam::123456789012:role/StatesRole"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture
def sm():
    from tuner.local import atomic  # DynamoDB's conditional writes are atomic; moto's need a lock

    atomic.install()
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        create_tuner_table(session.client("dynamodb"))
        machine = session.client("stepfunctions").create_state_machine(name="Tuner", definition=PASS, roleArn=ROLE)
        outputs = {"StateMachineArn": machine["stateMachineArn"], "TableName": "tuner"}
        yield TunerClient(session=session, outputs=outputs)
    atomic.uninstall()


def first_step(sm: TunerClient, name: str) -> None:
    execution = sm.service.ports.executions.describe(name)
    sm.service.create_job(json.loads(execution["input"]), execution_arn=execution["executionArn"])


def names(page: dict) -> list[str]:
    return [s["HyperParameterTuningJobName"] for s in page["HyperParameterTuningJobSummaries"]]


def test_names_are_unique_regardless_of_case(sm):
    # GIVEN a job created as Case-Job and stored by its first step
    arn = sm.create_hyper_parameter_tuning_job(**tuning_request("Case-Job"))["HyperParameterTuningJobArn"]
    assert arn.endswith(":hyper-parameter-tuning-job/case-job")  # SageMaker's ARNs are lower case
    # (before its first step the name is reserved: execution names alone are case-sensitive)
    with pytest.raises(sm.exceptions.ResourceInUse, match="'Case-Job' is being created"):
        sm.create_hyper_parameter_tuning_job(**tuning_request("CASE-job"))
    early = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="case-JOB")  # from the execution
    assert early["HyperParameterTuningJobName"] == "Case-Job" and early["HyperParameterTuningJobStatus"] == "InProgress"
    first_step(sm, "Case-Job")
    # WHEN case-job is created THEN it is refused as SageMaker refuses it
    with pytest.raises(sm.exceptions.ResourceInUse) as err:
        sm.create_hyper_parameter_tuning_job(**tuning_request("case-job"))
    assert "'Case-Job' exists already" in err.value.response["Error"]["Message"]
    # AND the one job answers to any case under the name it was created with
    for name in ("case-job", "CASE-JOB"):
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        assert d["HyperParameterTuningJobName"] == "Case-Job" and d["HyperParameterTuningJobArn"] == arn
    assert names(sm.list_hyper_parameter_tuning_jobs()) == ["Case-Job"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []  # the ARN (lower case) finds it directly
    # AND one partition holds it, under the name's key
    items = sm.session.client("dynamodb").scan(TableName="tuner")["Items"]
    assert {i["pk"]["S"] for i in items if i["sk"]["S"] != "COUNTER"} == {"case-job"}  # + the quota counter


def test_a_job_stored_under_its_mixed_case_name_before_is_still_found(sm):
    """Items written before names were keyed by case stay where they are (a read fallback)."""
    ddb = sm.session.client("dynamodb")
    legacy = JobRecord(name="Legacy-Job", request=tuning_request("Legacy-Job"), status="Completed")
    ddb.put_item(TableName="tuner", Item={**_to_item(legacy, "Legacy-Job", JOB_SK), "kind": {"S": KIND}})
    trial = TrialRecord(job="Legacy-Job", number=1, params={"x": "2.0"}, training_job_name="Legacy-Job-001-0000abcd",
                        status="Completed", objective_status="Succeeded", final_objective=1.5, recorded=True)
    ddb.put_item(TableName="tuner", Item=_to_item(trial, "Legacy-Job", _trial_sk(1)))
    # by the exact name it was created with (how its Lambdas, training jobs and execution address it)
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="Legacy-Job")
    assert d["BestTrainingJob"]["TrainingJobName"] == "Legacy-Job-001-0000abcd"
    assert sm.service.store.update_job("Legacy-Job", failure_reason=None)  # writes reach the old item
    assert names(sm.list_hyper_parameter_tuning_jobs()) == ["Legacy-Job"]
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.create_hyper_parameter_tuning_job(**tuning_request("Legacy-Job"))


def test_list_shows_a_job_right_after_create_as_describe_does(sm):
    # GIVEN a job just created: its execution started, its first step not run
    sm.create_hyper_parameter_tuning_job(**tuning_request("just-made"))
    assert sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="just-made")[
        "HyperParameterTuningJobStatus"
    ] == "InProgress"
    # THEN this client lists it already (read your own writes)
    page = sm.list_hyper_parameter_tuning_jobs(StatusEquals="InProgress")
    assert_valid_output("ListHyperParameterTuningJobs", page)
    assert names(page) == ["just-made"]
    # AND once stored, while the index still lags, it is read from the table
    first_step(sm, "just-made")
    index = sm.service.store.list_jobs
    sm.service.store.list_jobs = lambda: [j for j in index() if j.name != "just-made"]  # the lag
    assert names(sm.list_hyper_parameter_tuning_jobs()) == ["just-made"]
    # AND another client (another session) sees what the index shows
    other = TunerClient(session=sm.session, outputs=sm.outputs)
    other._service = sm.service
    assert names(other.list_hyper_parameter_tuning_jobs()) == []


def test_grid_without_max_jobs_describes_the_combination_count(sm):
    request = tuning_request("grid-count", strategy="Grid", ranges=categorical("a", "b", "c"), max_jobs=None, seed=None)
    sm.create_hyper_parameter_tuning_job(**request)
    before = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="grid-count")  # from the execution
    first_step(sm, "grid-count")
    after = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="grid-count")
    for d in (before, after):
        assert_valid_output("DescribeHyperParameterTuningJob", d)
        config = d["HyperParameterTuningJobConfig"]
        assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3
        assert config["TrainingJobEarlyStoppingType"] == "Off"  # AMT's default, shown
        assert config["ParameterRanges"]["ContinuousParameterRanges"] == []  # all three lists
    summary = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"][0]
    assert summary["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3


def test_autotune_is_accepted_and_described_with_its_choices(sm):
    request = tuning_request("auto-job", strategy="Bayesian", max_jobs=None, auto_parameters={"x": "4.0", "tag": "v1"})
    sm.create_hyper_parameter_tuning_job(**request)
    first_step(sm, "auto-job")
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="auto-job")
    assert_valid_output("DescribeHyperParameterTuningJob", d)
    assert d["Autotune"] == {"Mode": "Enabled"}
    config = d["HyperParameterTuningJobConfig"]
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "x", "MinValue": "0.4", "MaxValue": "40", "ScalingType": "Logarithmic"}
    ]
    assert "AutoParameters" not in config["ParameterRanges"]
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 20
    assert config["TuningJobCompletionCriteria"] == {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    assert d["TrainingJobDefinition"]["StaticHyperParameters"]["tag"] == "v1"
    # a malformed one is refused with SageMaker's code, naming the member
    bad = tuning_request("auto-bad", auto_parameters={"x": "4.0"})
    del bad["Autotune"]
    with pytest.raises(ClientError) as err:
        sm.create_hyper_parameter_tuning_job(**bad)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "ParameterRanges.AutoParameters" in err.value.response["Error"]["Message"]
