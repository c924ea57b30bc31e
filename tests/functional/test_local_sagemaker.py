"""The local SageMaker stand-in, the EventBridge->Lambda shim and the source uploader, in moto."""
from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tuner.constants import SAGEMAKER_SOURCE, TRAINING_LOG_GROUP, TRAINING_STATE_CHANGE
from tuner.errors import ValidationError
from tuner.local import eventbridge
from tuner.local.sagemaker import LocalSageMaker
from tuner.sources import prepare_request_sources

REGION = "us-east-1"
BUCKET = "local-sagemaker-test"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
ACCURACY = r"Validation-accuracy: ([0-9\.]+)"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "xgboost"


@pytest.fixture
def faults():
    """name -> fault string returned by the stand-in's fault hook."""
    return {}


@pytest.fixture
def local_sm(aws, tmp_path, faults):
    sm = LocalSageMaker(tmp_path / "jobs", poll_interval=0.02, stop_grace=0.5,
                        fault=lambda name, request: faults.get(name))
    with sm:
        yield sm
        assert sm.wait_idle(20)


@pytest.fixture
def sm_client(local_sm):
    return boto3.client("sagemaker", region_name=REGION)


def _tgz(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def upload_script(code: str, key: str = "code/sourcedir.tar.gz", name: str = "train.py") -> str:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET, Key=key, Body=_tgz({name: textwrap.dedent(code)}))
    return f"s3://{BUCKET}/{key}"


def job_request(name: str, submit: str, *, hps: dict | None = None, max_runtime: int = 60,
                program: str = "train.py", **extra) -> dict:
    request = {
        "TrainingJobName": name,
        "HyperParameters": {"sagemaker_program": json.dumps(program),
                            "sagemaker_submit_directory": json.dumps(submit), **(hps or {})},
        "AlgorithmSpecification": {"TrainingImage": "local/sklearn:latest",
                                   "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "validation:accuracy",
                                                          "Regex": ACCURACY}]},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    request.update(extra)
    return request


def wait_status(client, name: str, statuses: tuple[str, ...], timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        desc = client.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] in statuses:
            return desc
        assert time.monotonic() < deadline, f"{name} still {desc['TrainingJobStatus']}"
        time.sleep(0.02)


def log_lines(job: str) -> list[str]:
    logs = boto3.client("logs", region_name=REGION)
    try:
        streams = logs.describe_log_streams(logGroupName=TRAINING_LOG_GROUP,
                                            logStreamNamePrefix=f"{job}/")["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=TRAINING_LOG_GROUP,
                                     logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        lines += [e["message"] for e in events]
    return lines


RUNNING_SCRIPT = """
    import json, os, sys, time
    print("ARGV " + json.dumps(sys.argv[1:]), flush=True)
    cfg = os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")
    print("HPFILE " + open(cfg).read(), flush=True)
    print("ENV " + json.dumps({k: os.environ.get(k) for k in
          ("SM_CHANNELS", "SM_HP_LEARNING_RATE", "SM_CURRENT_HOST", "MY_FLAG")}), flush=True)
    print("DATA " + json.dumps(sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"]))), flush=True)
    print("[1] Validation-accuracy: 0.50", flush=True)
    while not os.path.exists(os.path.join(os.environ["SM_INPUT_DIR"], "go")):
        time.sleep(0.02)
    print("[2] Validation-accuracy: 0.75", flush=True)
    print("a warning", file=sys.stderr, flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
        f.write("weights")
"""


def test_script_job_runs_streams_logs_and_completes(sm_client, local_sm):
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key="data/train/part-0.csv", Body=b"1,2,3\n")
    s3.put_object(Bucket=BUCKET, Key="data/train/sub/part-1.csv", Body=b"4,5,6\n")
    submit = upload_script(RUNNING_SCRIPT)
    request = job_request(
        "job-ok", submit, hps={"learning-rate": "0.1", "max_depth": "3"},
        Environment={"MY_FLAG": "on"}, RetryStrategy={"MaximumRetryAttempts": 2},
        Tags=[{"Key": "tuning-job", "Value": "t1"}],
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/train"}}}])
    sm_client.create_training_job(**request)

    desc = sm_client.describe_training_job(TrainingJobName="job-ok")
    assert desc["TrainingJobStatus"] == "InProgress"
    assert desc["Environment"] == {"MY_FLAG": "on"}
    assert desc["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert desc["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "validation:accuracy", "Regex": ACCURACY}]

    # Intermediate metrics are readable while the job runs.
    deadline = time.monotonic() + 15
    while not any("Validation-accuracy: 0.50" in line for line in log_lines("job-ok")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    desc = sm_client.describe_training_job(TrainingJobName="job-ok")
    assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("InProgress", "Training")
    (local_sm.job_dir("job-ok") / "opt/ml/input/go").write_text("")

    desc = wait_status(sm_client, "job-ok", ("Completed", "Failed", "Stopped"))
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert [m["MetricName"] for m in desc["FinalMetricDataList"]] == ["validation:accuracy"]
    assert desc["FinalMetricDataList"][0]["Value"] == 0.75
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert desc["TrainingTimeInSeconds"] >= 1 and desc["BillableTimeInSeconds"] >= 1
    assert desc["TrainingEndTime"] >= desc["TrainingStartTime"]
    artifact = desc["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{BUCKET}/output/job-ok/output/model.tar.gz"
    body = s3.get_object(Bucket=BUCKET, Key="output/job-ok/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.extractfile("model.txt").read() == b"weights"

    lines = log_lines("job-ok")
    argv = json.loads(next(x for x in lines if x.startswith("ARGV "))[5:])
    assert argv == ["--learning-rate", "0.1", "--max_depth", "3"]
    assert json.loads(next(x for x in lines if x.startswith("HPFILE "))[7:]) == {
        "learning-rate": "0.1", "max_depth": "3"}
    env = json.loads(next(x for x in lines if x.startswith("ENV "))[4:])
    assert env == {"SM_CHANNELS": '["train"]', "SM_HP_LEARNING_RATE": "0.1",
                   "SM_CURRENT_HOST": "algo-1", "MY_FLAG": "on"}
    assert json.loads(next(x for x in lines if x.startswith("DATA "))[5:]) == ["part-0.csv", "sub"]
    assert "a warning" in lines
    assert lines.index("[1] Validation-accuracy: 0.50") < lines.index("[2] Validation-accuracy: 0.75")
    streams = boto3.client("logs", region_name=REGION).describe_log_streams(
        logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix="job-ok/")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith("job-ok/algo-1-")

    summaries = sm_client.list_training_jobs()["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["TrainingJobStatus"]) for s in summaries] == [
        ("job-ok", "Completed")]
    assert [status for _, job, status in local_sm.transitions if job == "job-ok"] == [
        "InProgress", "Completed"]
    assert local_sm.errors == []


def test_failing_script_ends_failed_with_algorithm_error(sm_client):
    submit = upload_script("""
        print("starting")
        raise ValueError("bad hyperparameter combination")
    """)
    sm_client.create_training_job(**job_request("job-bad", submit))
    desc = wait_status(sm_client, "job-bad", ("Completed", "Failed", "Stopped"))
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["SecondaryStatus"] == "Failed"
    assert desc["FailureReason"].startswith("AlgorithmError: ")
    assert "ValueError: bad hyperparameter combination" in desc["FailureReason"]
    assert "ModelArtifacts" not in desc
    assert "starting" in log_lines("job-bad")


def test_duplicate_name_refused_and_concurrency_recorded(sm_client, local_sm):
    submit = upload_script("import time; time.sleep(0.6)")
    sm_client.create_training_job(**job_request("job-a", submit))
    sm_client.create_training_job(**job_request("job-b", submit))
    with pytest.raises(ClientError) as err:
        sm_client.create_training_job(**job_request("job-a", submit))
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    assert err.value.response["Error"]["Message"].startswith(
        "Training job names must be unique within an AWS account and region")
    assert local_sm.wait_idle(20)
    assert local_sm.max_in_progress == 2
    for name in ("job-a", "job-b"):
        assert sm_client.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed"


def test_stop_sends_sigterm_then_sigkill(sm_client):
    submit = upload_script("""
        import signal, time
        signal.signal(signal.SIGTERM, lambda *a: print("got SIGTERM, ignoring", flush=True))
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """)
    sm_client.create_training_job(**job_request("job-stop", submit))
    deadline = time.monotonic() + 15
    while "ready" not in log_lines("job-stop"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    sm_client.stop_training_job(TrainingJobName="job-stop")
    desc = sm_client.describe_training_job(TrainingJobName="job-stop")
    assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("Stopping", "Stopping")
    sm_client.stop_training_job(TrainingJobName="job-stop")  # no-op while Stopping
    desc = wait_status(sm_client, "job-stop", ("Stopped", "Failed", "Completed"))
    assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert time.monotonic() - started < 10
    assert "got SIGTERM, ignoring" in log_lines("job-stop")
    with pytest.raises(ClientError) as err:
        sm_client.stop_training_job(TrainingJobName="job-stop")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == (
        "The request was rejected because the training job is in status Stopped.")
    with pytest.raises(ClientError) as err:
        sm_client.stop_training_job(TrainingJobName="no-such-job")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_max_runtime_stops_the_job(sm_client):
    submit = upload_script("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
    started = time.monotonic()
    sm_client.create_training_job(**job_request("job-slow", submit, max_runtime=1))
    desc = wait_status(sm_client, "job-slow", ("Stopped", "Failed", "Completed"))
    assert time.monotonic() - started < 8
    assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert "ModelArtifacts" in desc  # SageMaker uploads what the model dir holds on a stop


@pytest.mark.filterwarnings("ignore:Exception.*does not match an error shape:UserWarning")
def test_fault_hook(sm_client, faults):
    submit = upload_script("print('never runs')")
    faults["job-ise"] = "InternalServerError"
    sm_client.create_training_job(**job_request("job-ise", submit))
    desc = wait_status(sm_client, "job-ise", ("Stopped", "Failed", "Completed"))
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("InternalServerError")

    faults["job-generic"] = "ClientError: Data download failed"
    sm_client.create_training_job(**job_request("job-generic", submit))
    desc = wait_status(sm_client, "job-generic", ("Stopped", "Failed", "Completed"))
    assert desc["FailureReason"] == "ClientError: Data download failed"

    no_retry = boto3.client("sagemaker", region_name=REGION,
                            config=Config(retries={"total_max_attempts": 1}))
    for fault, code in (("Throttling:create", "ThrottlingException"),
                        ("ResourceLimitExceeded:create", "ResourceLimitExceeded")):
        faults["job-refused"] = fault
        with pytest.raises(ClientError) as err:
            no_retry.create_training_job(**job_request("job-refused", submit))
        assert err.value.response["Error"]["Code"] == code
        if code == "ResourceLimitExceeded":  # SageMaker's message, the request's type's quota full
            assert err.value.response["Error"]["Message"].startswith(
                "The account-level service limit 'ml.m5.large for training job usage' is 1 Instances, with "
                "current utilization of 1 Instances and a request delta of 1 Instances.")
    faults.pop("job-refused")
    with pytest.raises(ClientError):
        sm_client.describe_training_job(TrainingJobName="job-refused")


def test_an_account_quota_refuses_what_would_exceed_it_with_sagemakers_message(sm_client, local_sm):
    # GIVEN a quota of 3 ml.m5.large and jobs holding 2 + 1 of them
    local_sm.quotas = {"ml.m5.large": 3}
    submit = upload_script("import time; time.sleep(1.5)")
    two = {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 5}
    sm_client.create_training_job(**job_request("quota-a", submit, ResourceConfig=two))
    sm_client.create_training_job(**job_request("quota-b", submit))
    # WHEN one more instance of that type is asked for THEN SageMaker's refusal, word for word
    with pytest.raises(ClientError) as err:
        sm_client.create_training_job(**job_request("quota-c", submit))
    assert err.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert err.value.response["Error"]["Message"] == (
        "The account-level service limit 'ml.m5.large for training job usage' is 3 Instances, with current "
        "utilization of 3 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request "
        "an increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an "
        "increase for this quota.")
    # other types, and managed spot jobs (a quota of their own on AWS, not modelled), are not refused
    other = {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5}
    sm_client.create_training_job(**job_request("quota-other", submit, ResourceConfig=other))
    sm_client.create_training_job(**job_request("quota-spot", submit, EnableManagedSpotTraining=True,
                                                StoppingCondition={"MaxRuntimeInSeconds": 60,
                                                                   "MaxWaitTimeInSeconds": 60}))
    # a job that ends frees its instances
    wait_status(sm_client, "quota-a", ("Completed",))
    sm_client.create_training_job(**job_request("quota-c", submit))
    assert local_sm.wait_idle(20)
    refused_job = [t for t in local_sm.transitions if t[1] == "quota-c"]
    assert [s for _, _, s in refused_job] == ["InProgress", "Completed"]  # created once, after the refusal


def _lambda_function(name: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name, Runtime="python3.12", Role=role["Role"]["Arn"],
        Handler="handler.handler", Code={"ZipFile": buf.getvalue()})["FunctionArn"]


def test_state_change_events_reach_a_lambda_target(sm_client, local_sm, monkeypatch):
    from moto.awslambda.models import LambdaFunction

    received: list[tuple[str, dict]] = []

    def recorder(self, event=None):
        received.append((self.function_name, event))
        return "", False, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", recorder)
    eventbridge.reset()
    eventbridge.install_lambda_delivery()
    try:
        events = boto3.client("events", region_name=REGION)
        fn_arn = _lambda_function("training-event")
        events.put_rule(Name="training-finished", EventPattern=json.dumps({
            "source": [SAGEMAKER_SOURCE], "detail-type": [TRAINING_STATE_CHANGE],
            "detail": {"TrainingJobStatus": ["Completed", "Failed", "Stopped"]}}))
        events.put_targets(Rule="training-finished", Targets=[{"Id": "fn", "Arn": fn_arn}])
        # a schedule rule (the sweeper's) gets no events on AWS; moto's empty pattern matches all
        events.put_rule(Name="schedule-only", ScheduleExpression="rate(1 minute)")
        events.put_targets(Rule="schedule-only", Targets=[{"Id": "fn", "Arn": _lambda_function("scheduled")}])
        events.put_rule(Name="every-change", EventPattern=json.dumps({
            "source": [SAGEMAKER_SOURCE]}))
        events.put_targets(Rule="every-change", Targets=[{
            "Id": "fn", "Arn": fn_arn, "InputTransformer": {
                "InputPathsMap": {"job": "$.detail.TrainingJobName",
                                  "status": "$.detail.TrainingJobStatus",
                                  "secondary": "$.detail.SecondaryStatus"},
                "InputTemplate": '{"job": <job>, "status": <status>, "secondary": <secondary>}'}}])

        submit = upload_script("print('[3] Validation-accuracy: 0.9')")
        sm_client.create_training_job(**job_request(
            "job-evt", submit, Tags=[{"Key": "team", "Value": "ml"}]))
        wait_status(sm_client, "job-evt", ("Completed", "Failed", "Stopped"))
        assert local_sm.wait_idle(10)  # the final event is put after the status changes
        assert eventbridge.wait_deliveries(10)
    finally:
        eventbridge.uninstall_lambda_delivery()

    assert eventbridge.delivery_errors() == []
    assert "scheduled" not in {name for name, _ in received}
    full = [e for _, e in received if "detail" in e]
    assert len(full) == 1
    event = full[0]
    assert event["source"] == SAGEMAKER_SOURCE and event["detail-type"] == TRAINING_STATE_CHANGE
    assert event["resources"] == [event["detail"]["TrainingJobArn"]]
    assert event["account"] == "123456789012" and event["region"] == REGION
    assert len(event["time"]) == 20 and event["time"].endswith("Z")
    detail = event["detail"]
    assert detail["TrainingJobName"] == "job-evt"
    assert (detail["TrainingJobStatus"], detail["SecondaryStatus"]) == ("Completed", "Completed")
    assert detail["Tags"] == {"team": "ml"}
    assert isinstance(detail["CreationTime"], int) and detail["CreationTime"] > 1_600_000_000_000
    assert detail["TrainingEndTime"] >= detail["TrainingStartTime"] >= detail["CreationTime"]
    assert detail["FinalMetricDataList"][0]["Value"] == 0.9
    assert isinstance(detail["FinalMetricDataList"][0]["Timestamp"], int)
    assert detail["HyperParameters"]["sagemaker_program"] == '"train.py"'

    transformed = [e for _, e in received if "detail" not in e]
    assert all(e["job"] == "job-evt" for e in transformed)
    assert sorted((e["status"], e["secondary"]) for e in transformed) == sorted([
        ("InProgress", "Starting"), ("InProgress", "Training"), ("InProgress", "Uploading"),
        ("Completed", "Completed")])
    assert {name for name, _ in received} == {"training-event"}


def test_delivery_errors_are_collected(aws, monkeypatch):
    from moto.awslambda.models import LambdaFunction

    def broken(self, event=None):
        raise RuntimeError("handler exploded")

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", broken)
    eventbridge.reset()
    eventbridge.install_lambda_delivery()
    try:
        events = boto3.client("events", region_name=REGION)
        fn_arn = _lambda_function("broken")
        events.put_rule(Name="all", EventPattern=json.dumps({"source": ["test"]}))
        events.put_targets(Rule="all", Targets=[
            {"Id": "sfn", "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
             "RoleArn": ROLE},
            {"Id": "fn", "Arn": fn_arn}])
        events.put_events(Entries=[{"Source": "test", "DetailType": "x", "Detail": "{}"}])
        assert eventbridge.wait_deliveries(5)
    finally:
        eventbridge.uninstall_lambda_delivery()
    errors = eventbridge.delivery_errors()
    assert len(errors) == 2
    assert any("handler exploded" in e for e in errors)
    assert any("NotImplementedError" in e for e in errors)  # moto cannot deliver to states


def test_prepare_request_sources_uploads_and_rewrites(aws, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    (tmp_path / "src" / "util.py").write_text("X = 1\n")
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "a.csv").write_text("1,2\n")
    s3 = boto3.client("s3", region_name=REGION)
    definition = {
        "StaticHyperParameters": {"sagemaker_program": '"train.py"',
                                  "sagemaker_submit_directory": '"src"'},
        "AlgorithmSpecification": {"TrainingImage": "x", "TrainingInputMode": "File"},
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "data/train"}}},
            {"ChannelName": "extra", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/already/there"}}}],
    }
    request = {
        "HyperParameterTuningJobName": "tj",
        "TrainingJobDefinition": definition,
        "TrainingJobDefinitions": [{
            "DefinitionName": "second",
            "StaticHyperParameters": {
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": f"file://{tmp_path / 'src'}"}},
            {"DefinitionName": "remote",
             "StaticHyperParameters": {"sagemaker_submit_directory": f"s3://{BUCKET}/x.tar.gz"}}],
    }
    out = prepare_request_sources(request, tmp_path, s3, BUCKET, "tuning/tj")

    assert request["TrainingJobDefinition"]["StaticHyperParameters"][
        "sagemaker_submit_directory"] == '"src"'  # the input is not modified
    hps = out["TrainingJobDefinition"]["StaticHyperParameters"]
    assert hps["sagemaker_submit_directory"] == json.dumps(
        f"s3://{BUCKET}/tuning/tj/training/source/sourcedir.tar.gz")
    body = s3.get_object(Bucket=BUCKET, Key="tuning/tj/training/source/sourcedir.tar.gz")[
        "Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert sorted(tar.getnames()) == ["train.py", "util.py"]
    channels = out["TrainingJobDefinition"]["InputDataConfig"]
    assert channels[0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{BUCKET}/tuning/tj/training/input/train/")
    assert s3.get_object(Bucket=BUCKET, Key="tuning/tj/training/input/train/a.csv")[
        "Body"].read() == b"1,2\n"
    assert channels[1]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/already/there"
    second, remote = out["TrainingJobDefinitions"]
    assert second["StaticHyperParameters"]["sagemaker_submit_directory"] == (
        f"s3://{BUCKET}/tuning/tj/second/source/sourcedir.tar.gz")
    assert remote["StaticHyperParameters"]["sagemaker_submit_directory"] == (
        f"s3://{BUCKET}/x.tar.gz")

    bad = {"TrainingJobDefinition": {"StaticHyperParameters": {
        "sagemaker_submit_directory": "missing-dir"}}}
    with pytest.raises(ValidationError, match="missing-dir"):
        prepare_request_sources(bad, tmp_path, s3, BUCKET, "p")
    bad_data = {"TrainingJobDefinition": {"InputDataConfig": [{
        "ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "nope/"}}}]}}
    with pytest.raises(ValidationError) as err:
        prepare_request_sources(bad_data, tmp_path, s3, BUCKET, "p")
    assert err.value.field == "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri"


def test_a_source_folder_without_the_program_is_refused_before_anything_is_packed(aws, tmp_path):
    # GIVEN a checkout-like folder whose sources live one level down, and "." resolved against it
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    (tmp_path / "README.md").write_text("a checkout\n")
    s3 = boto3.client("s3", region_name=REGION)

    def request(submit: str, program: str | None = "train.py") -> dict:
        hps = {"sagemaker_submit_directory": submit}
        if program is not None:
            hps["sagemaker_program"] = json.dumps(program)  # as the SageMaker SDK encodes it
        return {"HyperParameterTuningJobName": "tj", "TrainingJobDefinition": {"StaticHyperParameters": hps}}

    # WHEN "." names the checkout, THEN it is refused, naming the field, the folder and the fix
    with pytest.raises(ValidationError) as err:
        prepare_request_sources(request("."), tmp_path, s3, BUCKET, "guard")
    message = str(err.value)
    assert err.value.field == "TrainingJobDefinition.StaticHyperParameters.sagemaker_submit_directory"
    assert str(tmp_path.resolve()) in message and "'train.py'" in message and "sagemaker_program" in message
    # a folder with no program named, a single file that is not the program: refused too
    with pytest.raises(ValidationError, match="needs the static hyperparameter sagemaker_program"):
        prepare_request_sources(request("src", program=None), tmp_path, s3, BUCKET, "guard")
    with pytest.raises(ValidationError, match="the file 'README.md'"):
        prepare_request_sources(request("README.md"), tmp_path, s3, BUCKET, "guard")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="guard/")  # nothing packed

    # the folder holding the program, or the program file itself, is uploaded and reported
    lines: list[str] = []
    out = prepare_request_sources(request("src"), tmp_path, s3, BUCKET, "guard", report=lines.append)
    uri = f"s3://{BUCKET}/guard/training/source/sourcedir.tar.gz"
    assert out["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] == uri
    assert lines == [f"uploaded TrainingJobDefinition's sagemaker_submit_directory 'src' "
                     f"({tmp_path.resolve() / 'src'}) to {uri}"]
    single = prepare_request_sources(request("src/train.py"), tmp_path, s3, BUCKET, "single")
    body = s3.get_object(Bucket=BUCKET, Key="single/training/source/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["train.py"]
    assert single["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"].startswith("s3://")


def test_xgboost_example_runs_through_the_stand_in(sm_client, tmp_path):
    request = {"TrainingJobDefinition": {"StaticHyperParameters": {
        "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(str(EXAMPLE))}}}
    prepared = prepare_request_sources(request, tmp_path, boto3.client("s3", region_name=REGION),
                                       BUCKET, "examples")
    submit = json.loads(prepared["TrainingJobDefinition"]["StaticHyperParameters"][
        "sagemaker_submit_directory"])
    sm_client.create_training_job(**job_request(
        "xgb-1", submit, hps={"learning-rate": "0.2", "max-depth": "3", "num-round": "20",
                              "epochs": "5", "unknown-knob": "1"}))
    desc = wait_status(sm_client, "xgb-1", ("Completed", "Failed", "Stopped"), timeout=40)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    accuracy = [m for m in desc["FinalMetricDataList"] if m["MetricName"] == "validation:accuracy"]
    assert accuracy and 0.7 < accuracy[0]["Value"] <= 1.0  # a hard task: 0.75-0.86 over the ranges
    lines = [x for x in log_lines("xgb-1") if "Validation-accuracy:" in x]
    assert len(lines) == 4 and lines[0].startswith("[5] ") and lines[-1].startswith("[20] ")
    key = desc["ModelArtifacts"]["S3ModelArtifacts"].split(f"s3://{BUCKET}/", 1)[1]
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "xgboost-model.json" in tar.getnames()


def test_a_local_path_the_file_system_cannot_look_up_is_refused_as_input(tmp_path):
    """A path too long to look up (OSError from the file system) is a ValidationError naming the
    field, never a traceback."""
    from tuner.errors import ValidationError
    from tuner.sources import prepare_request_sources

    request = {"TrainingJobDefinition": {"StaticHyperParameters": {
        "sagemaker_submit_directory": "x" * 5000, "sagemaker_program": "train.py"}}}
    with pytest.raises(ValidationError, match="sagemaker_submit_directory: the source directory .* does not exist"):
        prepare_request_sources(request, tmp_path, None, "bucket", "prefix")
