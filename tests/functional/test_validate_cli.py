"""``tuner validate`` and ``tuner local`` run the same checks, every problem at once, and ``tuner
local`` runs them before it deploys anything (issue 16, one validation path)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tuner import cli

from tests.builders import EXAMPLES, SCRIPTS, tuning_request


def channel(uri: str) -> list[dict[str, Any]]:
    return [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}]


def write(tmp_path: Path, request: dict[str, Any]) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return path


@pytest.fixture
def no_deployment(monkeypatch):
    """``tuner local`` must refuse before it deploys: building the offline deployment fails the test."""

    class Refused:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("tuner local deployed a request that tuner validate refuses")

    monkeypatch.setattr("tuner.local.harness.LocalTuner", Refused)


def three_problems(tmp_path: Path) -> Path:
    """A local data folder that does not exist, a shape problem and a semantic one."""
    request = tuning_request("three", source="quick", objective_metric="nope", InputDataConfig=channel("no-data"))
    request["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] = str(SCRIPTS / "quick")
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = "four"
    return write(tmp_path, request)


def test_three_problems_are_three_lines_from_validate_and_from_local(tmp_path, capsys, no_deployment):
    path = three_problems(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["validate", str(path)]) == 2
    validate = capsys.readouterr().err
    assert cli.main(["local", str(path), "--output-dir", str(out)]) == 2
    local = capsys.readouterr()
    assert local.err == validate  # the same check, the same words
    lines = validate.splitlines()
    assert lines[0] == "tuner: error: 3 problems in the CreateHyperParameterTuningJob request:"
    assert [line.split(": ")[0] for line in lines[1:]] == [
        "- TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri",
        "- HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs",
        "- TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions",
    ]
    assert "Deploying" not in local.out and not out.exists()  # nothing deployed, nothing written


def test_validate_refuses_hyperband_without_max_resource_as_local_does(tmp_path, capsys, no_deployment):
    request = json.loads((EXAMPLES / "hyperband" / "tuning-job.json").read_text())
    del request["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"]  # MaxResource can't be inferred
    request["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] = str(EXAMPLES / "epochs")
    path = write(tmp_path, request)
    for argv in (["validate", str(path)], ["local", str(path), "--output-dir", str(tmp_path / "out")]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            "tuner: error: HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource: "
            "MaxResource is missing"
        ), err


def test_validate_accepts_local_data_paths_and_says_they_are_uploaded(capsys):
    example = EXAMPLES / "builtin-xgboost"
    assert cli.main(["validate", str(example / "tuning-job.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("builtin-xgboost: valid (")
    assert out[1] == f"Local paths (relative to {example}), uploaded to S3 by tuner local and tuner create:"
    assert out[2:] == [
        "  TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri: data/train",
        "  TrainingJobDefinition.InputDataConfig[1].DataSource.S3DataSource.S3Uri: data/validation/",
    ]


def test_validate_resolves_local_paths_against_base_dir(tmp_path, capsys):
    request = tuning_request("based", source="quick")  # sagemaker_submit_directory "quick"
    path = write(tmp_path, request)
    assert cli.main(["validate", str(path)]) == 2  # tmp_path holds no "quick" folder
    assert "the source directory 'quick' does not exist" in capsys.readouterr().err
    assert cli.main(["validate", str(path), "--base-dir", str(SCRIPTS)]) == 0
    assert "StaticHyperParameters.sagemaker_submit_directory: quick" in capsys.readouterr().out


def test_validate_says_what_only_the_deployment_checks(capsys):
    assert cli.main(["validate", str(EXAMPLES / "warm-start" / "tuning-job.json")]) == 0
    out = capsys.readouterr().out
    assert "Checked when the job is created (they need the deployment): the warm-start parents" in out


@pytest.mark.parametrize("request_file", sorted(p.relative_to(EXAMPLES).as_posix()
                                                for p in EXAMPLES.glob("*/*.json") if p.name != "family.json"))
def test_every_example_request_passes_validate(request_file, capsys):
    assert cli.main(["validate", str(EXAMPLES / request_file)]) == 0, capsys.readouterr().err
