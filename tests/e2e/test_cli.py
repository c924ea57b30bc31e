"""The tuner CLI against the stack deployed into moto (in-process: the session's moto is the AWS)."""

from __future__ import annotations

import json

import pytest
from tuner import cli
from tuner.local import offline_client
from tuner.shapes import assert_valid_output

from tests.builders import SCRIPTS, SDK_ANALYTICS_COLUMNS, continuous, tuning_request

pytestmark = pytest.mark.e2e
STACK = ["--region", "us-east-1"]
# `tuner create` uploads the sources from a local folder, as the SDK does
SUBMIT_FOLDER = {"sagemaker_submit_directory": str(SCRIPTS / "quick")}


@pytest.fixture(scope="module")
def client(local_tuner):
    with offline_client(local_tuner=local_tuner, sweep_interval=2.0) as sm:
        sm.session.client("s3").create_bucket(Bucket="tuner-e2e-output")
        yield sm


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished(client, tmp_path_factory):
    """A tuning job created with `tuner create --wait` (sources uploaded from a local folder)."""
    request = tuning_request(
        "cli-e2e", source="quick", max_jobs=4, max_parallel=2, ranges=continuous(0.5, 8), static=SUBMIT_FOLDER
    )
    path = tmp_path_factory.mktemp("cli") / "request.json"
    path.write_text(json.dumps(request))
    return path


def test_create_wait_describe_list_jobs_best(client, finished, capsys):
    code, out, err = run(capsys, "create", str(finished), *STACK, "--wait", "--poll", "0.5")
    assert code == 0, err
    describe = json.loads(out)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert "done 4/4" in err and "best" in err  # live progress on stderr, JSON on stdout
    code, out, _ = run(capsys, "describe", "cli-e2e", *STACK)
    assert code == 0 and json.loads(out)["BestTrainingJob"] == describe["BestTrainingJob"]
    code, out, _ = run(capsys, "describe", "cli-e2e", *STACK, "--table")
    assert "Status" in out and "Completed" in out and describe["BestTrainingJob"]["TrainingJobName"] in out
    code, out, _ = run(capsys, "list", *STACK, "--name-contains", "cli-")
    listed = json.loads(out)
    assert [j["HyperParameterTuningJobName"] for j in listed["HyperParameterTuningJobSummaries"]] == [
        "cli-e2e"
    ]
    code, out, _ = run(capsys, "list", *STACK, "--table")
    assert code == 0 and "cli-e2e" in out and "Strategy" in out
    code, out, _ = run(capsys, "training-jobs", "cli-e2e", *STACK, "--sort-by", "FinalObjectiveMetricValue")
    jobs = json.loads(out)["TrainingJobSummaries"]
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs]
    assert len(jobs) == 4 and values == sorted(values)
    code, out, _ = run(capsys, "training-jobs", "cli-e2e", *STACK, "--table")
    assert code == 0 and out.count("cli-e2e-") == 4
    code, out, _ = run(capsys, "best", "cli-e2e", *STACK)
    assert json.loads(out)["TrainingJobName"] == describe["BestTrainingJob"]["TrainingJobName"]
    # the JSON is SageMaker's shape (times as ISO strings)
    assert_valid_output("DescribeHyperParameterTuningJob", describe)


def test_analytics_csv_and_deploy_best(client, finished, capsys, tmp_path):
    pytest.importorskip("pandas")
    if run(capsys, "describe", "cli-e2e", *STACK)[0] != 0:
        run(capsys, "create", str(finished), *STACK, "--wait", "--poll", "0.5")
    code, out, err = run(capsys, "analytics", "cli-e2e", *STACK, "--csv", str(tmp_path / "jobs.csv"))
    assert code == 0 and len(json.loads(out)["Rows"]) == 4
    header = (tmp_path / "jobs.csv").read_text().splitlines()[0].split(",")
    assert header == ["x", *SDK_ANALYTICS_COLUMNS]
    # deploy the best model: model + endpoint config + endpoint, in moto
    code, out, err = run(capsys, "deploy", "cli-e2e", *STACK, "--endpoint-name", "cli-best")
    assert code == 0, err
    deployed = json.loads(out)
    best = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="cli-e2e")[
        "BestTrainingJob"
    ]
    training = client.describe_training_job(TrainingJobName=best["TrainingJobName"])
    model = client.describe_model(ModelName=deployed["ModelName"])
    assert model["PrimaryContainer"]["Image"] == training["AlgorithmSpecification"]["TrainingImage"]
    assert model["PrimaryContainer"]["ModelDataUrl"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"
    # the endpoint configuration is named after the model (one per best training job), so a new
    # best can be deployed to the same endpoint with UpdateEndpoint
    assert deployed["EndpointConfigName"] == deployed["ModelName"] == best["TrainingJobName"]
    config = client.describe_endpoint_config(EndpointConfigName=deployed["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == deployed["ModelName"]
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    endpoint = client.describe_endpoint(EndpointName="cli-best")
    assert endpoint["EndpointConfigName"] == deployed["EndpointConfigName"]
    # the local stand-in serves the best model with the script's model_fn/predict_fn (value - x)
    client.get_waiter("endpoint_in_service").wait(
        EndpointName="cli-best", WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
    x = float(training["HyperParameters"]["x"])
    answer = client.session.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="cli-best", Body=json.dumps([[4.0]]), ContentType="application/json")
    assert json.loads(answer["Body"].read()) == [[pytest.approx(4.0 - x)]]


def test_stop_from_the_cli(client, capsys, tmp_path):
    request = tuning_request(
        "cli-stop", source="quick", max_jobs=20, ranges=continuous(0.5, 8), static={**SUBMIT_FOLDER, "epochs": "40"}
    )
    path = tmp_path / "stop.json"
    path.write_text(json.dumps(request))
    code, out, err = run(capsys, "create", str(path), *STACK)
    assert code == 0, err
    assert json.loads(out)["HyperParameterTuningJobArn"].endswith(":hyper-parameter-tuning-job/cli-stop")
    code, out, err = run(capsys, "stop", "cli-stop", *STACK, "--wait", "--poll", "0.5", "--timeout", "120")
    assert code == 0, err
    stopped = json.loads(out)
    assert stopped["HyperParameterTuningJobStatus"] == "Stopped"
    assert (
        stopped["TrainingJobStatusCounters"]["Completed"] + stopped["TrainingJobStatusCounters"]["Stopped"]
        < 20
    )
    code, _, err = run(capsys, "stop", "cli-stop", *STACK)
    assert code == 2 and "ValidationException" in err


def test_bad_input_is_one_clear_line(client, capsys, tmp_path):
    code, _, err = run(capsys, "create", str(tmp_path / "missing.json"), *STACK)
    assert code == 2 and "no such file" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "create", str(bad), *STACK)
    assert code == 2 and "not valid JSON" in err and "line 1" in err
    code, _, err = run(capsys, "describe", "never-created", *STACK)
    assert code == 2 and err.startswith("tuner: error: ResourceNotFound:")
    code, _, err = run(capsys, "describe", "x", "--region", "us-east-1", "--stack-name", "NoSuchStack")
    assert code == 2 and "no tuner stack named 'NoSuchStack'" in err
    invalid = tuning_request(
        "cli-invalid", source="quick", strategy="Grid", max_jobs=5, ranges=continuous(0.5, 8), static=SUBMIT_FOLDER
    )
    path = tmp_path / "invalid.json"
    path.write_text(json.dumps(invalid))
    code, _, err = run(capsys, "create", str(path), *STACK)
    assert code == 2 and "ValidationException" in err
