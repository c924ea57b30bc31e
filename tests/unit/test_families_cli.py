"""``tuner family ...``: argument handling (the service is replaced by a recorder)."""

from __future__ import annotations

import argparse
import json

import pytest
from tuner import families_cli
from tuner.errors import ValidationError

from tests.builders import EXAMPLES

EXAMPLE = EXAMPLES / "retuning" / "family.json"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def register(self, spec, *, replace=False):
        self.calls.append(("register", spec["FamilyName"], replace))
        return {"FamilyName": spec["FamilyName"]}

    def list_families(self):
        self.calls.append(("list",))
        return [{"FamilyName": "a"}]

    def describe(self, name):
        self.calls.append(("describe", name))
        return {"FamilyName": name}

    def retune(self, name, trigger, overrides):
        self.calls.append(("retune", name, trigger, overrides))
        return {"FamilyName": name, "HyperParameterTuningJobName": f"{name}-20250101000000"}


@pytest.fixture
def cli(monkeypatch):
    recorder = Recorder()
    seen: list[argparse.Namespace] = []

    def fake_service(args):
        seen.append(args)
        return recorder

    monkeypatch.setattr(families_cli, "service", fake_service)
    parser = argparse.ArgumentParser(prog="tuner")
    families_cli.register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> tuple[int, Recorder, list[argparse.Namespace]]:
        args = parser.parse_args(list(argv))
        return args.func(args), recorder, seen

    return run


def test_register_reads_and_validates_the_file_then_calls_the_service(cli, capsys):
    code, rec, seen = cli(
        "family", "register", str(EXAMPLE), "--replace", "--stack-name", "Other", "--region", "eu-west-1"
    )
    assert code == 0 and rec.calls == [("register", "xgboost-churn", True)]
    assert (seen[0].stack_name, seen[0].region) == ("Other", "eu-west-1")
    assert json.loads(capsys.readouterr().out) == {"FamilyName": "xgboost-churn"}


def test_register_refuses_a_bad_file_before_any_aws_call(cli, tmp_path):
    bad = tmp_path / "f.json"
    bad.write_text('{"FamilyName": "x"}')
    with pytest.raises(ValidationError, match="BaseRequest"):
        cli("family", "register", str(bad))
    bad.write_text("[1]")
    with pytest.raises(ValidationError, match="JSON object"):
        cli("family", "register", str(bad))
    with pytest.raises(ValidationError, match="no such file"):
        cli("family", "register", str(tmp_path / "missing.json"))


def test_list_describe_and_retune(cli, capsys):
    assert cli("family", "list")[0] == 0
    assert json.loads(capsys.readouterr().out) == {"Families": [{"FamilyName": "a"}]}
    cli("family", "describe", "churn")
    code, rec, seen = cli("family", "retune", "churn", "--overrides", '{"MaxNumberOfTrainingJobs": 4}')
    assert rec.calls[-2:] == [
        ("describe", "churn"),
        ("retune", "churn", "cli", {"MaxNumberOfTrainingJobs": 4}),
    ]
    assert seen[-1].stack_name == "SageMakerTuner" and seen[-1].region is None


def test_retune_overrides_from_a_file(cli, tmp_path):
    f = tmp_path / "o.json"
    f.write_text('{"WarmStartType": "TransferLearning"}')
    _, rec, _ = cli("family", "retune", "churn", "--overrides", f"@{f}")
    assert rec.calls[-1] == ("retune", "churn", "cli", {"WarmStartType": "TransferLearning"})


@pytest.mark.parametrize(
    "argv",
    [
        ["family"],
        ["family", "describe"],
        ["family", "retune"],
        ["family", "register"],
        ["family", "retune", "churn", "--overrides", "{not json"],
        ["family", "retune", "churn", "--overrides", '{"Strategy": "Random"}'],
        ["family", "retune", "churn", "--overrides", '{"MaxNumberOfTrainingJobs": 0}'],
        ["family", "delete", "churn"],
    ],
)
def test_bad_arguments_exit_with_usage(cli, argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(*argv)
    assert exit_.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_the_real_service_reports_a_missing_stack_as_a_tuner_error(monkeypatch):
    from moto import mock_aws
    from tuner.errors import TuningError

    with mock_aws():
        args = argparse.Namespace(stack_name="NoSuchStack", region="us-east-1")
        with pytest.raises(TuningError, match="NoSuchStack"):
            families_cli.service(args)
