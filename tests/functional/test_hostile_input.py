"""Hostile input against the service over moto DynamoDB, and against the CLI.

* A refused request stores at most the Failed job record (with the refusal as FailureReason) and
  never a trial, a claim or an InProgress job (hypothesis, mutated example requests).
* A trial whose logs cannot be parsed within the metric budgets gets a FailureReason that says so
  (``MetricSeries.error``).
* ``tuner validate`` / ``tuner local`` with a missing file, invalid JSON or a non-object exit
  non-zero with one clear line on stderr.
"""

from __future__ import annotations

import copy
import itertools
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from moto import mock_aws
from tuner import cli
from tuner.aws.store import DynamoStore
from tuner.core.naming import name_key
from tuner.core.records import FAILED, IN_PROGRESS
from tuner.core.request import parse_request
from tuner.errors import DuplicateTuningJobError, ValidationError
from tuner.service.jobs import MAX_REASON
from tuner.service.tuning import TuningService

from tests.builders import SEEDS, mutated
from tests.fakes import FakeBackend
from tests.functional.tables import create_tuner_table

EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"
OTHER_MACHINE = "arn:aws:states:us-east-1:123456789012:execution:TunerCopy:"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ddb():
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


_tables = itertools.count()


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(request=mutated())
def test_a_refused_request_stores_at_most_the_failed_job(ddb, request):
    # GIVEN an empty table WHEN the service creates the job (as the CreateTuningJob step does)
    table = f"t{next(_tables)}"
    create_tuner_table(ddb, table)
    service = TuningService.over(DynamoStore(table, ddb), backend=FakeBackend())  # DescribeAlgorithm: none
    original = copy.deepcopy(request)
    try:
        out = service.create_job(request, execution_arn=EXEC_ARN + str(request.get("HyperParameterTuningJobName")))
    except ValidationError as err:
        refused = err
    else:
        refused = None
    # the concurrent-jobs quota's bookkeeping (docs/quotas.md) aside
    scanned = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    items = [i for i in scanned if i["sk"]["S"] not in ("SLOT", "COUNTER")]
    assert request == original  # the caller's request is not modified
    if refused is None:
        # THEN an accepted request is one InProgress job record and nothing else
        assert [i["sk"]["S"] for i in items] == ["JOB"] and items[0]["status"]["S"] == IN_PROGRESS
        assert out["Laps"] and out["TuningJobName"] == request["HyperParameterTuningJobName"]
        return
    # THEN a refused one leaves nothing, or only the Failed job record carrying the refusal
    assert len(items) <= 1
    if items:
        item = items[0]
        assert item["sk"]["S"] == "JOB" and item["status"]["S"] == FAILED
        assert item["failure_reason"]["S"] == str(refused)[:MAX_REASON]  # bounded: the item must fit
        assert item["pk"]["S"] == name_key(request["HyperParameterTuningJobName"])
        assert item["name"]["S"] == request["HyperParameterTuningJobName"]
        assert int(item["next_trial"]["N"]) == 0


def test_a_refused_request_under_a_taken_name_leaves_the_stored_job_alone(ddb):
    create_tuner_table(ddb, "taken")
    service = TuningService.over(DynamoStore("taken", ddb))
    good = copy.deepcopy(SEEDS[0])
    name = good["HyperParameterTuningJobName"]
    service.create_job(good, execution_arn=EXEC_ARN + name)
    bad = copy.deepcopy(good)
    bad["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 0
    with pytest.raises(DuplicateTuningJobError):  # the same name through another state machine
        service.create_job(bad, execution_arn=OTHER_MACHINE + name)
    stored = service.store.get_job(name)
    assert stored.status == IN_PROGRESS and stored.execution_arn == EXEC_ARN + name
    assert stored.request == parse_request(good).raw  # as it runs (Grid's job count filled in)


# ---- a trial whose metrics cannot be read ---------------------------------------------------------
class _Backend:
    def __init__(self) -> None:
        self.started: list[dict] = []

    def start(self, request: dict) -> bool:
        self.started.append(request)
        return True

    def describe(self, name: str) -> dict:
        return {"TrainingJobName": name, "TrainingJobStatus": "Completed"}

    def stop(self, name: str) -> None:  # pragma: no cover - not reached
        pass


class _Tokens:
    def succeed(self, token: str, output: dict) -> bool:
        return True


class _Logs:
    def __init__(self, lines) -> None:
        self._lines = lines

    def lines(self, job: str):
        return self._lines()


def _one_trial(ddb, table: str, regex: str, lines) -> tuple[TuningService, str, int]:
    create_tuner_table(ddb, table)
    request = copy.deepcopy(SEEDS[0])
    request["HyperParameterTuningJobName"] = table
    algo = (request.get("TrainingJobDefinition") or request["TrainingJobDefinitions"][0])[
        "AlgorithmSpecification"
    ]
    metric = parse_request(request).definitions[0].objective_metric
    algo["MetricDefinitions"] = [{"Name": metric, "Regex": regex}]
    service = TuningService.over(DynamoStore(table, ddb), backend=_Backend(), logs=_Logs(lines), tokens=_Tokens())
    service.create_job(request, execution_arn=EXEC_ARN + table)
    started = service.next_trial(table, 1, 0, "token")
    service.record_training_job(started["TrainingJobName"])
    return service, table, started["TrialNumber"]


def test_an_unreadable_objective_gets_a_failure_reason_that_says_why(ddb):
    # (an exponential regex never gets this far: the request is refused, see the next test)
    from tuner.core import metrics

    service, name, n = _one_trial(
        ddb,
        "unreadable-b",
        r"loss: ([0-9.]+)",
        lambda: (f"loss: {i}" for i in range(metrics.MAX_LINES + 5)),
    )
    expected = "log lines"
    trial = service.store.get_trial(name, n)
    assert trial.recorded and trial.objective_status == "Failed" and trial.final_objective is None
    assert expected in trial.failure_reason


def test_a_catastrophic_metric_regex_is_refused_at_request_time():
    request = copy.deepcopy(SEEDS[0])
    algo = (request.get("TrainingJobDefinition") or request["TrainingJobDefinitions"][0])[
        "AlgorithmSpecification"
    ]
    algo["MetricDefinitions"].append({"Name": "hostile", "Regex": r"(a+)+$"})
    with pytest.raises(ValidationError) as info:
        parse_request(request)
    assert info.value.field.endswith("].Regex")


# ---- the CLI -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["validate", "local"])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (
            "{not json",
            "is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        ),
        ("[1, 2]", "must hold a JSON object"),
        ("", "is not valid JSON"),
    ],
)
def test_bad_cli_input_is_one_clear_line_and_a_non_zero_exit(tmp_path, capsys, command, content, expected):
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    argv = [command, str(path)] + (["--output-dir", str(tmp_path / "out")] if command == "local" else [])
    assert cli.main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("tuner: error: ") and expected in err and "\n" not in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing deployed or written


def test_an_invalid_request_is_explained_by_tuner_validate(tmp_path, capsys):
    request = copy.deepcopy(SEEDS[0])
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = "four"
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs" in err


def test_the_installed_entry_point_exits_non_zero_on_a_missing_file(tmp_path):
    missing = tmp_path / "nope.json"
    run = subprocess.run(
        [sys.executable, "-m", "tuner.cli", "validate", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"tuner: error: no such file: {missing}; "
        "give the path of a CreateHyperParameterTuningJob request (JSON)"
    )
    usage = subprocess.run(
        [sys.executable, "-m", "tuner.cli", "validate"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2 and "required: request" in usage.stderr


def _huge_refused_request(name: str) -> dict:
    """Within StartExecution's 256 KB input, with ~900 problems (each path names a 200-char key)."""
    request = copy.deepcopy(SEEDS[0])
    request["HyperParameterTuningJobName"] = name
    definition = request.pop("TrainingJobDefinition")
    definitions = []
    for i in range(10):
        d = copy.deepcopy(definition)
        d["DefinitionName"] = f"d{i}"
        d["StaticHyperParameters"] = {f"{i}-{k:03d}-" + "k" * 200: k for k in range(90)}  # ints: wrong type
        definitions.append(d)
    request["TrainingJobDefinitions"] = definitions
    return request


def test_a_refused_request_near_the_payload_limit_still_stores_its_failed_job(ddb):
    create_tuner_table(ddb, "huge")
    request = _huge_refused_request("huge")
    assert len(json.dumps(request)) < 256 * 1024
    service = TuningService.over(DynamoStore("huge", ddb))
    with pytest.raises(ValidationError):
        service.create_job(request, execution_arn=EXEC_ARN + "huge")
    job = service.store.get_job("huge")
    assert job is not None and job.status == FAILED
