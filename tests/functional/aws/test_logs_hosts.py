"""Multi-instance training jobs: one log stream per host, ``algo-1`` ... ``algo-N``.

CloudWatchLogSource groups a job's streams by host, orders hosts by number (``algo-2`` before
``algo-10``, which text order gets wrong), pages every stream with its own token, and reads the
primary host (``algo-1``) unless told otherwise. Checked with botocore's Stubber, then against the
local SageMaker stand-in in moto, which runs the script once per host and delivers its lines late.
"""
from __future__ import annotations

import io
import tarfile
import textwrap
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws
from tuner.aws.logs import CloudWatchLogSource, host_order, stream_host
from tuner.constants import TRAINING_LOG_GROUP
from tuner.local.sagemaker import LocalSageMaker

GROUP = TRAINING_LOG_GROUP
JOB = "job-001-abc"
REGION = "us-east-1"
BUCKET = "hosts-test"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


# ---- Stubber: the adapter alone --------------------------------------------------------------------
def _streams(names: list[str]) -> tuple:
    return ("describe_log_streams", {"logStreams": [{"logStreamName": n} for n in names]},
            {"logGroupName": GROUP, "logStreamNamePrefix": f"{JOB}/"})


def _page(stream: str, messages: list[str], forward: str, sent: str | None = None) -> tuple:
    response = {"events": [{"timestamp": 1_700_000_000_000 + i, "message": m, "ingestionTime": 1}
                           for i, m in enumerate(messages)],
                "nextForwardToken": forward, "nextBackwardToken": "b/0"}
    expected: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": stream, "startFromHead": True}
    if sent is not None:
        expected["nextToken"] = sent
    return "get_log_events", response, expected


def _stream_pages(stream: str, pages: list[list[str]]) -> list[tuple]:
    """A stream read to its end: each page sends the token the previous one gave (the same token
    names in every stream: each stream is paged with its own)."""
    calls, sent = [], None
    for i, messages in enumerate(pages):
        calls.append(_page(stream, messages, f"f/{i + 1}", sent))
        sent = f"f/{i + 1}"
    calls.append(_page(stream, [], sent or "f/0", sent))  # the token sent comes back: the end
    return calls


def _queue(stub, *calls: tuple) -> None:
    for method, response, expected in calls:
        stub.add_response(method, response, expected)


HOST_STREAMS = [f"{JOB}/algo-10-1700000000", f"{JOB}/algo-1-1700000000", f"{JOB}/algo-2-1700000000"]


def test_the_primary_host_is_read_by_default(stubbed) -> None:
    client, stub = stubbed("logs")
    # GIVEN three hosts' streams, listed in text order (algo-1, algo-10, algo-2)
    _queue(stub, _streams(sorted(HOST_STREAMS)),
           *_stream_pages(f"{JOB}/algo-1-1700000000", [["epoch 1 loss: 0.5"], ["epoch 2 loss: 0.4"]]))
    # THEN only algo-1's stream is read, to its end (no request for another host's stream)
    assert list(CloudWatchLogSource(client).lines(JOB)) == ["epoch 1 loss: 0.5", "epoch 2 loss: 0.4"]


def test_every_host_in_host_number_order_each_stream_with_its_own_token(stubbed) -> None:
    client, stub = stubbed("logs")
    _queue(stub, _streams(sorted(HOST_STREAMS)),
           *_stream_pages(f"{JOB}/algo-1-1700000000", [["1a"], ["1b"]]),
           *_stream_pages(f"{JOB}/algo-2-1700000000", [["2a", "2b"]]),
           *_stream_pages(f"{JOB}/algo-10-1700000000", [["10a"], [], ["10b"]]))
    assert list(CloudWatchLogSource(client).lines(JOB, host=None)) == ["1a", "1b", "2a", "2b", "10a", "10b"]


def test_another_host_by_name(stubbed) -> None:
    client, stub = stubbed("logs")
    _queue(stub, _streams(HOST_STREAMS), *_stream_pages(f"{JOB}/algo-10-1700000000", [["ten"]]))
    assert list(CloudWatchLogSource(client).lines(JOB, host="algo-10")) == ["ten"]


def test_a_host_that_restarted_is_read_stream_by_stream_oldest_first(stubbed) -> None:
    """A host's new container writes a new stream (a later epoch); 999 sorts after 1000 as text."""
    client, stub = stubbed("logs")
    older, newer = f"{JOB}/algo-1-999", f"{JOB}/algo-1-1000"
    _queue(stub, _streams([newer, f"{JOB}/algo-2-999", older]),
           *_stream_pages(older, [["before the restart"]]),
           *_stream_pages(newer, [["after the restart"]]))
    assert list(CloudWatchLogSource(client).lines(JOB)) == ["before the restart", "after the restart"]


def test_hosts_lists_the_streams_by_host(stubbed) -> None:
    client, stub = stubbed("logs")
    _queue(stub, _streams([*sorted(HOST_STREAMS), f"{JOB}/custom"]))
    assert CloudWatchLogSource(client).hosts(JOB) == {
        "algo-1": [f"{JOB}/algo-1-1700000000"], "algo-2": [f"{JOB}/algo-2-1700000000"],
        "algo-10": [f"{JOB}/algo-10-1700000000"], "custom": [f"{JOB}/custom"]}


def test_stream_names_and_host_order() -> None:
    assert stream_host(JOB, f"{JOB}/algo-12-1700000000") == ("algo-12", 1700000000)
    assert stream_host(JOB, f"{JOB}/odd") == ("odd", -1)
    assert sorted(["algo-10", "b", "algo-2", "algo-1"], key=host_order) == ["algo-1", "algo-2", "algo-10", "b"]


# ---- moto: the stand-in's hosts and its delivery lag -------------------------------------------------
HOSTS_SCRIPT = """
    import json, os, sys, time
    host = os.environ["SM_CURRENT_HOST"]
    n = int(host.split("-")[1])
    cfg = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json")))
    print(f"{host} master={os.environ['SM_IS_MASTER']} hosts={len(json.loads(os.environ['SM_HOSTS']))} "
          f"config={cfg['current_host']}", flush=True)
    for epoch in (1, 2):
        print(f"epoch {epoch} loss: {n / 100 + 1 / epoch:.4f}", flush=True)
    if os.environ.get("FAIL_HOST") == host:
        sys.exit(f"{host} gave up")
    if os.environ.get("FAIL_HOST"):
        time.sleep(20)  # still running when the failing host ends: stopped then
"""


@pytest.fixture
def moto_aws(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            data = textwrap.dedent(HOSTS_SCRIPT).encode()
            info = tarfile.TarInfo("train.py")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=buf.getvalue())
        yield


@pytest.fixture
def stand_in(moto_aws, tmp_path):
    sm = LocalSageMaker(tmp_path / "jobs", poll_interval=0.02, stop_grace=0.5)
    with sm:
        yield sm
        assert sm.wait_idle(30)


def _create(name: str, hosts: int, **extra: Any) -> None:
    boto3.client("sagemaker", region_name=REGION).create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File",
                                "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}]},
        HyperParameters={"sagemaker_program": '"train.py"',
                         "sagemaker_submit_directory": f'"s3://{BUCKET}/code/sourcedir.tar.gz"'},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": hosts, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60}, **extra)


def _ended(name: str) -> dict[str, Any]:
    sm = boto3.client("sagemaker", region_name=REGION)
    deadline = time.monotonic() + 30
    while (desc := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return desc


def test_the_stand_in_runs_every_host_and_the_source_reads_them_by_host(stand_in) -> None:
    # GIVEN a job on 10 instances (hosts algo-1 .. algo-10)
    _create("multi", 10)
    desc = _ended("multi")
    assert stand_in.wait_idle(30)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    source = CloudWatchLogSource(boto3.client("logs", region_name=REGION))
    # THEN there is one stream per host, and the script ran on each host as that host
    assert list(source.hosts("multi")) == [f"algo-{n}" for n in range(1, 11)]
    every = list(source.lines("multi", host=None))
    firsts = [line.split()[0] for line in every if line.startswith("algo-")]
    assert firsts == [f"algo-{n}" for n in range(1, 11)]  # host-number order
    assert "algo-1 master=true hosts=10 config=algo-1" in every
    assert "algo-7 master=false hosts=10 config=algo-7" in every
    # the primary host is what lines() reads by default; its values are FinalMetricDataList's
    primary = list(source.lines("multi"))
    assert [line for line in primary if "loss" in line] == ["epoch 1 loss: 1.0100", "epoch 2 loss: 0.5100"]
    assert [(m["MetricName"], m["Value"]) for m in desc["FinalMetricDataList"]] == [("loss", 0.51)]
    assert list(source.lines("multi", host="algo-10"))[-1] == "epoch 2 loss: 0.6000"
    # the primary host's values are published to CloudWatch, as SageMaker publishes them
    points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs", MetricName="loss",
        Dimensions=[{"Name": "TrainingJobName", "Value": "multi"}],
        StartTime=desc["TrainingStartTime"], EndTime=desc["TrainingEndTime"].replace(year=2100),
        Period=60, Statistics=["Minimum", "Maximum", "SampleCount"])["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == 2
    assert min(p["Minimum"] for p in points) == 0.51 and max(p["Maximum"] for p in points) == 1.01
    assert stand_in.errors == []


def test_a_failing_secondary_host_fails_the_job_with_its_error(stand_in) -> None:
    started = time.monotonic()
    _create("multi-fail", 3, Environment={"FAIL_HOST": "algo-3"})
    desc = _ended("multi-fail")
    # THEN the job fails with the failing host's error, and the hosts still running were stopped
    assert desc["TrainingJobStatus"] == "Failed" and time.monotonic() - started < 15
    assert desc["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError: exit code 1")
    assert "algo-3 gave up" in desc["FailureReason"]


def test_lines_land_after_the_status_change_with_a_delivery_lag(stand_in) -> None:
    stand_in.log_lag = 3.0  # far more than the time from the last print to Completed
    source = CloudWatchLogSource(boto3.client("logs", region_name=REGION))
    _create("lagged", 1)
    desc = _ended("lagged")
    # WHEN the job has just Completed, its last lines are not in CloudWatch Logs yet ...
    assert desc["TrainingJobStatus"] == "Completed"
    assert "epoch 2 loss: 0.5100" not in list(source.lines("lagged"))
    # ... but FinalMetricDataList already has the last value
    assert desc["FinalMetricDataList"][0]["Value"] == 0.51
    # THEN they arrive about log_lag seconds later
    assert stand_in.wait_idle(10)
    assert list(source.lines("lagged"))[-1] == "epoch 2 loss: 0.5100"
