"""Training output kept and shown: the local SageMaker stand-in writes each job's output to
``<folder>/<job>.log`` as it is printed, and ``tuner logs JOB`` prints it, from a ``tuner local``
output directory or from CloudWatch Logs (moto)."""
from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time

import boto3
import pytest
from tuner import cli
from tuner.constants import TRAINING_LOG_GROUP
from tuner.local.sagemaker import LocalSageMaker
from tuner.local.training_process import TrainingLogs

REGION = "us-east-1"
BUCKET = "training-logs-test"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

SCRIPT = """
    import os, sys, time
    host = os.environ["SM_CURRENT_HOST"]
    print(f"hello from {host}", flush=True)
    print(f"a warning from {host}", file=sys.stderr, flush=True)
    if os.environ.get("SM_HP_WAIT") == "yes":
        print("waiting", flush=True)
        time.sleep(60)
    if os.environ.get("SM_HP_FAIL") == host:  # after the other hosts have printed
        time.sleep(1)
        sys.exit("boom")
"""


def submit() -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = textwrap.dedent(SCRIPT).encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key="code.tar.gz", Body=buf.getvalue())
    return f"s3://{BUCKET}/code.tar.gz"


def create(client, name: str, *, hosts: int = 1, **hps: str) -> None:
    client.create_training_job(
        TrainingJobName=name,
        HyperParameters={"sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(submit()), **hps},
        AlgorithmSpecification={"TrainingImage": "local/sklearn:latest", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": hosts, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )


def wait(client, name: str, statuses: tuple[str, ...] = ("Completed", "Failed", "Stopped")) -> dict:
    deadline = time.monotonic() + 30
    while (d := client.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] not in statuses:
        assert time.monotonic() < deadline, d["TrainingJobStatus"]
        time.sleep(0.05)
    return d


@pytest.fixture
def stand_in(aws, tmp_path):
    sm = LocalSageMaker(tmp_path / "jobs", poll_interval=0.02, stop_grace=0.5)
    sm.training_logs = TrainingLogs(tmp_path / "out" / cli.TRAINING_LOGS)
    with sm:
        yield sm, boto3.client("sagemaker", region_name=REGION)
        assert sm.wait_idle(20)


def test_each_job_output_is_a_file_hosts_named_and_kept_after_a_failure(stand_in, tmp_path, capsys):
    sm, client = stand_in
    create(client, "two-hosts", hosts=2, fail="algo-1")
    assert wait(client, "two-hosts")["TrainingJobStatus"] == "Failed"
    assert sm.wait_idle(20)
    lines = (tmp_path / "out" / cli.TRAINING_LOGS / "two-hosts.log").read_text().splitlines()
    # the primary host's lines as printed, the other host's named; stdout and stderr both
    assert "hello from algo-1" in lines and "a warning from algo-1" in lines and "boom" in lines
    assert "[algo-2] hello from algo-2" in lines and "[algo-2] a warning from algo-2" in lines
    assert lines[0].startswith("Invoking script with the following command:")
    # tuner logs JOB --output-dir prints the file
    assert cli.main(["logs", "two-hosts", "--output-dir", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    # tuner logs JOB (deployed: CloudWatch Logs) prints every host's lines, host by host
    assert cli.main(["logs", "two-hosts", "--region", REGION]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown.index("hello from algo-1") < shown.index("hello from algo-2")
    assert sorted(shown) == sorted(line.removeprefix("[algo-2] ") for line in lines)


def test_a_running_job_file_grows_as_it_prints_and_a_stop_keeps_it(stand_in, tmp_path):
    sm, client = stand_in
    create(client, "slow", wait="yes")
    path = tmp_path / "out" / cli.TRAINING_LOGS / "slow.log"
    deadline = time.monotonic() + 20
    while not (path.is_file() and "waiting" in path.read_text()):  # no delivery lag for the file
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.stop_training_job(TrainingJobName="slow")
    assert wait(client, "slow")["TrainingJobStatus"] == "Stopped"
    assert sm.wait_idle(20)
    assert "waiting" in path.read_text().splitlines()


def test_tuner_logs_says_why_there_is_nothing_to_show(aws, tmp_path, capsys):
    out = tmp_path / "out"
    (out / cli.TRAINING_LOGS).mkdir(parents=True)
    (out / cli.TRAINING_LOGS / "job-001-abc.log").write_text("one\n")
    (out / "training-jobs.json").write_text(json.dumps({"TrainingJobSummaries": [
        {"TrainingJobName": "job-001-abc"},
        {"TrainingJobName": "job-002-abc", "FailureReason": "ClientError: no such source"},
    ]}))
    assert cli.main(["logs", "job-002-abc", "--output-dir", str(out)]) == 2
    assert "job-002-abc printed nothing (it failed before its script started: ClientError: no such source)" in \
        capsys.readouterr().err
    assert cli.main(["logs", "job-009-abc", "--output-dir", str(out)]) == 2
    assert "no training job job-009-abc in the run in" in capsys.readouterr().err
    assert cli.main(["logs", "x", "--output-dir", str(tmp_path / "empty")]) == 2
    assert "holds no tuner local run" in capsys.readouterr().err
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=TRAINING_LOG_GROUP)
    assert cli.main(["logs", "never-ran", "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tuner: error: no log events for training job never-ran") and err.count("\n") == 1
