"""The local SageMaker stand-in running SageMaker's built-in XGBoost (algorithm mode) in moto: the
built-in's hyperparameter names, CSV and libsvm channels, its log format, model.tar.gz, and
FinalMetricDataList from the algorithm's own metrics; MetricDefinitions refused as SageMaker does."""
from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from moto import mock_aws
from tuner.constants import TRAINING_LOG_GROUP
from tuner.local.sagemaker import LocalSageMaker

from tests.builders import BUILTIN_XGBOOST, XGBOOST_IMAGE

REGION = "us-east-1"
BUCKET = "builtin-xgboost-test"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
LINEAR_LEARNER = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"


@pytest.fixture
def sm(monkeypatch, tmp_path):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        for channel in ("train", "validation"):
            s3.put_object(Bucket=BUCKET, Key=f"csv/{channel}/{channel}.csv",
                          Body=(BUILTIN_XGBOOST / "data" / channel / f"{channel}.csv").read_bytes())
            s3.put_object(Bucket=BUCKET, Key=f"libsvm/{channel}/part-0", Body=_libsvm(channel).encode())
        with LocalSageMaker(tmp_path / "jobs", poll_interval=0.02, stop_grace=0.5) as local:
            yield boto3.client("sagemaker", region_name=REGION), local
            assert local.wait_idle(30)


def _libsvm(channel: str) -> str:
    """The CSV example data as libsvm (``label index:value ...``), zero features left out."""
    rows = (BUILTIN_XGBOOST / "data" / channel / f"{channel}.csv").read_text().splitlines()[:120]
    out = []
    for row in rows:
        label, *features = row.split(",")
        out.append(" ".join([label] + [f"{i}:{v}" for i, v in enumerate(features) if float(v) != 0.0]))
    return "\n".join(out) + "\n"


def request(name: str, *, data: str = "csv", content_type: str | None = "text/csv", instances: int = 1,
            hps: dict | None = None, image: str = XGBOOST_IMAGE, **extra) -> dict:
    channels = []
    for channel in ("train", "validation"):
        c = {"ChannelName": channel,
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{data}/{channel}/",
                                             "S3DataDistributionType": "FullyReplicated"}}}
        if content_type:
            c["ContentType"] = content_type
        channels.append(c)
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": {"num_round": "8", "objective": "binary:logistic", "eval_metric": "auc",
                            "eta": "0.3", "max_depth": "3", **(hps or {})},
        "InputDataConfig": channels,
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        **extra,
    }


def finished(client, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        desc = client.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return desc
        assert time.monotonic() < deadline, f"{name} still {desc['TrainingJobStatus']}"
        time.sleep(0.05)


def lines(name: str, host: str = "algo-1") -> list[str]:
    logs = boto3.client("logs", region_name=REGION)
    streams = logs.describe_log_streams(logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{name}/{host}-")
    return [e["message"] for s in streams["logStreams"]
            for e in logs.get_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=s["logStreamName"],
                                         startFromHead=True)["events"]]


def model(desc: dict) -> xgb.Booster:
    bucket, key = desc["ModelArtifacts"]["S3ModelArtifacts"][5:].split("/", 1)
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        member = tar.extractfile("xgboost-model")
        assert member is not None
        booster = xgb.Booster()
        booster.load_model(bytearray(member.read()))
        return booster


def test_the_built_in_trains_on_csv_on_two_hosts_logs_its_format_and_reports_its_metrics(sm):
    client, local = sm
    # WHEN the built-in XGBoost image runs without a script, on two instances, with the objective AMT passes
    client.create_training_job(**request("bx-csv", instances=2, hps={"_tuning_objective_metric": "validation:auc",
                                                                     "eval_metric": "error"}))
    desc = finished(client, "bx-csv")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    # THEN each host logged one line per round in the built-in's format: the objective's auc added
    # to eval_metric, the metrics sorted, tabs shown as #011
    primary = [line for line in lines("bx-csv") if line.startswith("[")]
    assert len(primary) == 8 and primary[0].startswith("[0]#011train-auc:")
    assert "#011train-error:" in primary[0] and "#011validation-auc:" in primary[0]
    assert len([line for line in lines("bx-csv", "algo-2") if line.startswith("[")]) == 8
    # and FinalMetricDataList carries the last printed values of the algorithm's own metrics
    finals = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    last = dict(part.split(":", 1) for part in primary[-1].split("#011")[1:])
    assert finals == {"validation:auc": float(last["validation-auc"]),
                      "validation:error": float(last["validation-error"])}
    assert 0.9 < finals["validation:auc"] <= 1.0
    # and the model is the built-in's xgboost-model in model.tar.gz, the first host's
    booster = model(desc)
    assert booster.num_boosted_rounds() == 8
    assert "AlgorithmSpecification" in desc and "MetricDefinitions" not in desc["AlgorithmSpecification"]
    assert local.errors == []


def test_libsvm_channels_and_the_container_s_custom_metrics(sm):
    client, _ = sm
    client.create_training_job(**request("bx-svm", data="libsvm", content_type=None,
                                         hps={"eval_metric": "logloss,accuracy", "num_round": "4"}))
    desc = finished(client, "bx-svm")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    finals = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert set(finals) == {"validation:logloss", "validation:accuracy"} and 0.5 < finals["validation:accuracy"] <= 1


def test_early_stopping_watches_the_objective_on_the_validation_channel(sm):
    client, _ = sm
    client.create_training_job(**request("bx-early", hps={"num_round": "300", "eta": "1", "early_stopping_rounds": "3",
                                                          "_tuning_objective_metric": "validation:logloss"}))
    desc = finished(client, "bx-early")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    rounds = [line for line in lines("bx-early") if line.startswith("[")]
    assert 3 < len(rounds) < 300 and "#011validation-logloss:" in rounds[-1]


def test_metric_definitions_are_refused_for_the_built_in_as_sagemaker_does(sm):
    client, _ = sm
    bad = request("bx-md")
    bad["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "validation:auc", "Regex": "auc:([0-9.]+)"}]
    with pytest.raises(ClientError, match="You can't override the metric definitions for Amazon SageMaker"):
        client.create_training_job(**bad)


def test_the_same_image_with_a_script_is_not_the_built_in(sm):
    client, _ = sm
    script = request("bx-script", hps={"sagemaker_program": "train.py", "sagemaker_submit_directory": "s3://x/y"})
    script["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "auc", "Regex": "auc:([0-9.]+)"}]
    client.create_training_job(**script)  # accepted: script mode may define metrics
    # and run as script mode: it looks for the (here missing) sources, not for the emulation
    assert "could not download or extract sagemaker_submit_directory s3://x/y" in finished(
        client, "bx-script")["FailureReason"]


@pytest.mark.parametrize(("hps", "image", "reason"), [
    ({"max_dpeth": "3"}, XGBOOST_IMAGE, "ClientError: Extraneous hyperparameter found: max_dpeth"),
    ({"num_round": "many"}, XGBOOST_IMAGE, "ClientError: hyperparameter num_round='many' is not a number"),
    ({}, LINEAR_LEARNER, "emulates SageMaker's built-in XGBoost algorithm only, not Linear Learner"),
])
def test_what_the_emulation_refuses_fails_the_job_saying_why(sm, hps, image, reason):
    client, _ = sm
    name = f"bx-bad-{abs(hash(reason)) % 1000}"
    client.create_training_job(**request(name, hps=hps, image=image))
    desc = finished(client, name)
    assert desc["TrainingJobStatus"] == "Failed" and reason in desc["FailureReason"]


def test_the_example_data_is_what_make_data_writes(tmp_path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_data", BUILTIN_XGBOOST / "make_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for channel in ("train", "validation"):
        written = (tmp_path / channel / f"{channel}.csv").read_text()
        assert written == (BUILTIN_XGBOOST / "data" / channel / f"{channel}.csv").read_text()
    labels = np.loadtxt(tmp_path / "train" / "train.csv", delimiter=",")[:, 0]
    assert set(labels) == {0.0, 1.0} and len(labels) == 455
