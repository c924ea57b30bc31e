"""The local SageMaker stand-in answers in SageMaker's shapes: every response it serves passes
botocore's output-shape validation (``tuner.shapes.validate_output``), both on the wire and as
boto3 parses it; DescribeTrainingJob has ``OutputDataConfig.KmsKeyId``; AddTags / ListTags /
DeleteTags work on its training jobs (moto's raise ``AttributeError``), so the SageMaker SDK's
``Estimator.attach`` works on a stand-in job."""
from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tuner.local.sagemaker import LocalSageMaker
from tuner.shapes import service_model, validate_output

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "local-sagemaker-shapes"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/quick:latest"
TAGS = [{"Key": "team", "Value": "ml"}, {"Key": "project", "Value": "shapes"}]
STAND_IN_OPERATIONS = {"CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "ListTrainingJobs",
                       "AddTags", "ListTags", "DeleteTags"}
# The one member botocore's model requires that the stand-in leaves out: ModelArtifacts before the
# model has been uploaded (InProgress, and Failed before the upload; tests/functional/
# test_local_sagemaker.py asserts that a failed job's describe has none). Anything else is a failure.
NO_ARTIFACTS = "ModelArtifacts: missing required field (an object with S3ModelArtifacts)"

# Waits for <SM_INPUT_DIR>/go (so a test can look at the job InProgress), then writes a model.
WAITING_SCRIPT = """
    import os, time
    print("ready", flush=True)
    while not os.path.exists(os.path.join(os.environ["SM_INPUT_DIR"], "go")):
        time.sleep(0.02)
    print("loss: 0.25", flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
        f.write("weights")
"""


# ---- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def local_sm(aws, tmp_path):
    sm = LocalSageMaker(tmp_path / "jobs", poll_interval=0.02, stop_grace=0.5)
    with sm:
        yield sm
        assert sm.wait_idle(20)


class Recorder:
    """Every SageMaker response a client received: (operation, parsed response, wire body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def __call__(self, http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any) -> None:
        if http_response is None or http_response.status_code >= 300:
            return  # errors have their own shape
        body = json.loads(http_response.content or b"{}")
        self.calls.append((model.name, parsed, _datetimes(body, model.output_shape)))


@pytest.fixture
def recorded(local_sm):
    recorder = Recorder()
    client = boto3.client("sagemaker", region_name=REGION)
    client.meta.events.register("after-call.sagemaker", recorder)
    return client, recorder


@pytest.fixture
def sm(recorded):
    return recorded[0]


# ---- helpers ---------------------------------------------------------------------------------
def _datetimes(value: Any, shape: Any) -> Any:
    """A wire body with its timestamps (epoch seconds on the JSON wire) as datetimes; the rest,
    unknown members included, as sent."""
    if shape is None:
        return value
    t = shape.type_name
    if t == "timestamp" and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    if t == "structure" and isinstance(value, dict):
        return {k: _datetimes(v, shape.members.get(k)) for k, v in value.items()}
    if t == "list" and isinstance(value, list):
        return [_datetimes(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: _datetimes(v, shape.value) for k, v in value.items()}
    return value


def upload_script(code: str, key: str) -> str:
    buf = io.BytesIO()
    data = textwrap.dedent(code).encode()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=buf.getvalue())
    return f"s3://{BUCKET}/{key}"


def job_request(name: str, submit: str, **extra: Any) -> dict[str, Any]:
    """A script-mode CreateTrainingJob request, as the SageMaker SDK's Estimator sends one."""
    return {
        "TrainingJobName": name,
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": json.dumps(submit), "epochs": "2"},
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}]},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        **extra,
    }


def wait_status(client: Any, name: str, statuses: tuple[str, ...], timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        desc = client.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] in statuses:
            return desc
        assert time.monotonic() < deadline, f"{name} still {desc['TrainingJobStatus']}"
        time.sleep(0.02)


def wait_ready(local_sm: LocalSageMaker, name: str, timeout: float = 15) -> None:
    """Until the job's script has printed "ready" (it runs, InProgress / Training)."""
    deadline = time.monotonic() + timeout
    job = local_sm._jobs[(ACCOUNT, REGION, name)]
    while not any(text == "ready" for _, _, text in list(job.lines)):
        assert time.monotonic() < deadline, f"{name} never printed ready"
        time.sleep(0.02)


def go(local_sm: LocalSageMaker, name: str) -> None:
    (local_sm.job_dir(name) / "opt/ml/input/go").write_text("")


def expected_problems(operation: str, response: dict[str, Any]) -> list[str]:
    """What validate_output may say: nothing, except NO_ARTIFACTS for a job without a model yet."""
    if operation == "DescribeTrainingJob" and "ModelArtifacts" not in response:
        assert response["TrainingJobStatus"] in ("InProgress", "Stopping", "Failed"), response
        return [NO_ARTIFACTS]
    return []


def error(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


# ---- every response validates --------------------------------------------------------------
def test_every_response_the_stand_in_serves_validates(recorded, local_sm):
    sm, recorder = recorded
    submit = upload_script(WAITING_SCRIPT, "code/waiting.tar.gz")
    failing = upload_script("import sys\nsys.exit('bad hyperparameters')", "code/failing.tar.gz")
    # GIVEN a job that runs (and waits), one that fails and one that is stopped
    sm.create_training_job(**job_request("job-ok", submit, Tags=TAGS))
    sm.create_training_job(**job_request("job-bad", failing))
    sm.create_training_job(**job_request("job-stop", submit))
    wait_ready(local_sm, "job-ok")
    wait_ready(local_sm, "job-stop")
    # WHEN every operation the stand-in serves is called, in each state of a job
    assert sm.describe_training_job(TrainingJobName="job-ok")["TrainingJobStatus"] == "InProgress"
    summaries = sm.list_training_jobs()["TrainingJobSummaries"]
    arn = next(s["TrainingJobArn"] for s in summaries if s["TrainingJobName"] == "job-ok")
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    sm.list_tags(ResourceArn=arn)
    sm.delete_tags(ResourceArn=arn, TagKeys=["stage"])
    sm.stop_training_job(TrainingJobName="job-stop")
    sm.describe_training_job(TrainingJobName="job-stop")  # Stopping (or Stopped already)
    go(local_sm, "job-ok")
    for name in ("job-ok", "job-bad", "job-stop"):
        wait_status(sm, name, ("Completed", "Failed", "Stopped"))
    sm.list_training_jobs(StatusEquals="Completed", SortBy="Name", MaxResults=10)
    sm.list_tags(ResourceArn=arn)
    # THEN each response (the wire body with unknown members and all, and boto3's parse of it)
    # passes botocore's output-shape validation
    assert {op for op, _, _ in recorder.calls} == STAND_IN_OPERATIONS
    statuses = set()
    for op, parsed, wire in recorder.calls:
        expected = expected_problems(op, parsed)
        assert validate_output(op, parsed) == expected, (op, parsed)
        assert validate_output(op, wire) == expected, (op, wire)
        if op == "DescribeTrainingJob":
            statuses.add(parsed["TrainingJobStatus"])
            assert parsed["OutputDataConfig"]["KmsKeyId"] == ""
    assert {"InProgress", "Completed", "Failed", "Stopped"} <= statuses
    # ... and so does the stand-in's own Describe view, before moto's serializer (which drops
    # members the shape does not have): no Tags member any more
    for job in local_sm._jobs.values():
        view = job.describe()
        assert "Tags" not in view
        assert validate_output("DescribeTrainingJob", view) == expected_problems("DescribeTrainingJob", view)
    assert local_sm.errors == []


def test_describe_shows_output_kms_key_id_as_sagemaker_does(sm, local_sm):
    submit = upload_script("print('loss: 1.0')", "code/quick.tar.gz")
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    sm.create_training_job(**job_request("no-key", submit))
    sm.create_training_job(**job_request("with-key", submit, OutputDataConfig={
        "S3OutputPath": f"s3://{BUCKET}/output", "KmsKeyId": key}))
    # no key given: "" (SageMaker then uses the account's default S3 key); a key given: that key
    no_key = wait_status(sm, "no-key", ("Completed", "Failed"))
    assert no_key["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/output", "KmsKeyId": ""}
    assert wait_status(sm, "with-key", ("Completed", "Failed"))["OutputDataConfig"]["KmsKeyId"] == key
    # the stored request is not changed (the job runs what was asked)
    assert "KmsKeyId" not in local_sm._jobs[(ACCOUNT, REGION, "no-key")].request["OutputDataConfig"]
    # the state-change event's detail is the same Describe view
    detail = local_sm._jobs[(ACCOUNT, REGION, "no-key")].event_detail()
    assert detail["OutputDataConfig"]["KmsKeyId"] == ""


# ---- tags --------------------------------------------------------------------------------------
def test_add_list_delete_tags_on_a_training_job(sm, local_sm):
    submit = upload_script("print('loss: 1.0')", "code/quick.tar.gz")
    arn = sm.create_training_job(**job_request("Tagged-Job", submit, Tags=TAGS))["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/tagged-job"  # lower case
    # GIVEN the tags of CreateTrainingJob
    assert sm.list_tags(ResourceArn=arn)["Tags"] == TAGS
    # WHEN tags are added: a key given again is overwritten in place, a new one is appended
    added = sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "infra"}, {"Key": "cost", "Value": "42"}])
    current = [{"Key": "team", "Value": "infra"}, {"Key": "project", "Value": "shapes"},
               {"Key": "cost", "Value": "42"}]
    assert added["Tags"] == current  # AddTagsOutput: the tags associated with the resource
    assert sm.list_tags(ResourceArn=arn, MaxResults=50)["Tags"] == current
    # a key given in another case is another key (tag keys are case sensitive)
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "Team", "Value": "x"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["Team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == current
    # AND the state-change event of the job shows the tags it has now
    job = local_sm._jobs[(ACCOUNT, REGION, "Tagged-Job")]
    assert job.event_detail()["Tags"] == {"team": "infra", "project": "shapes", "cost": "42"}
    # WHEN tags are deleted (a key the job does not have is ignored)
    assert sm.delete_tags(ResourceArn=arn, TagKeys=["team", "cost", "no-such-key"]) is not None
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "project", "Value": "shapes"}]
    # an ARN in other case names the same job (the stand-in's choice: ARNs hold names in lower case)
    assert sm.list_tags(ResourceArn=arn.replace("tagged-job", "Tagged-Job"))["Tags"] == [
        {"Key": "project", "Value": "shapes"}]
    wait_status(sm, "Tagged-Job", ("Completed", "Failed"))


def test_tag_requests_are_checked_like_sagemaker(sm, local_sm):
    submit = upload_script("print('loss: 1.0')", "code/quick.tar.gz")
    arn = sm.create_training_job(**job_request("checked", submit, Tags=TAGS))["TrainingJobArn"]
    # at most 50 tags per resource: refused, nothing changed
    code, message = error(lambda: sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)]))
    assert code == "ValidationException" and "at most 50" in message
    assert sm.list_tags(ResourceArn=arn)["Tags"] == TAGS
    # the model's patterns and bounds (botocore checks only types and minimums before sending)
    code, message = error(lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a#b", "Value": "v"}]))
    assert code == "ValidationException" and "Tags[0].Key" in message
    code, message = error(lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v" * 257}]))
    assert code == "ValidationException" and "Tags[0].Value" in message
    # no page token was ever given out
    code, _ = error(lambda: sm.list_tags(ResourceArn=arn, NextToken="abc"))
    assert code == "ValidationException"
    # unknown resources: ValidationException, as SageMaker answers (moto raised AttributeError)
    code, message = error(lambda: sm.list_tags(ResourceArn=arn + "-gone"))
    assert code == "ValidationException" and "Could not find training job" in message
    tuning_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/some-tuning-job"
    for call in (lambda: sm.list_tags(ResourceArn=tuning_arn),
                 lambda: sm.add_tags(ResourceArn=tuning_arn, Tags=TAGS),
                 lambda: sm.delete_tags(ResourceArn=tuning_arn, TagKeys=["team"])):
        code, message = error(call)
        assert code == "ValidationException" and "TunerClient" in message
    # another account's or region's ARN does not name this job
    code, _ = error(lambda: sm.list_tags(ResourceArn=arn.replace(REGION, "eu-west-1")))
    assert code == "ValidationException"
    wait_status(sm, "checked", ("Completed", "Failed"))


def test_tags_of_other_resources_are_moto_s(sm):
    # GIVEN a moto resource (not the stand-in's)
    sm.create_model(ModelName="m1", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": IMAGE}, Tags=[{"Key": "a", "Value": "1"}])
    arn = sm.describe_model(ModelName="m1")["ModelArn"]
    # WHEN it is tagged THEN moto answers, as before the stand-in
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]} == {"a", "b"}
    sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]


def test_uninstall_restores_moto(aws, tmp_path):
    from moto.sagemaker.responses import SageMakerResponse

    before = {n: SageMakerResponse.__dict__.get(n) for n in (
        "create_training_job", "describe_training_job", "stop_training_job", "list_tags", "add_tags", "delete_tags")}
    with LocalSageMaker(tmp_path / "jobs"):
        assert all(SageMakerResponse.__dict__.get(n) is not f for n, f in before.items())
    assert {n: SageMakerResponse.__dict__.get(n) for n in before} == before


# ---- the SageMaker SDK on a stand-in job ---------------------------------------------------------
def test_sdk_estimator_attach_reads_kms_key_id_and_tags(sm, local_sm):
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sagemaker = pytest.importorskip("sagemaker")
    from sagemaker.estimator import Estimator

    submit = upload_script(WAITING_SCRIPT, "code/waiting.tar.gz")
    sm.create_training_job(**job_request("sdk-attach", submit, Tags=TAGS))
    wait_ready(local_sm, "sdk-attach")
    go(local_sm, "sdk-attach")
    session = sagemaker.Session(boto_session=boto3.session.Session(region_name=REGION), sagemaker_client=sm)
    # WHEN the SDK attaches to the job (describe, ListTags, wait)
    estimator = Estimator.attach("sdk-attach", sagemaker_session=session)
    # THEN it is the job's estimator
    desc = sm.describe_training_job(TrainingJobName="sdk-attach")
    assert desc["TrainingJobStatus"] == "Completed"
    assert estimator.model_data == desc["ModelArtifacts"]["S3ModelArtifacts"]
    assert estimator.image_uri == IMAGE
    assert estimator.hyperparameters() == desc["HyperParameters"]
    assert estimator.output_kms_key == ""
    assert estimator.tags == TAGS
    assert estimator.latest_training_job.name == "sdk-attach"


def test_service_model_shapes_assumed_here():
    """The members this file relies on, in botocore's model (a newer botocore may move them)."""
    model = service_model()
    assert model.shape_for("KmsKeyId").metadata.get("min") == 0  # "" is a valid KmsKeyId
    assert "Tags" not in model.operation_model("DescribeTrainingJob").output_shape.members
    assert "ModelArtifacts" in model.operation_model("DescribeTrainingJob").output_shape.required_members
    assert model.shape_for("TagList").metadata.get("max") == 50
