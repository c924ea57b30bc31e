"""tuner.shapes: requests and responses against botocore's SageMaker service model."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from tuner import shapes
from tuner.errors import ValidationError

from tests.builders import EVENT_REQUESTS, event_request

CREATE = "CreateHyperParameterTuningJob"
DESCRIBE = "DescribeHyperParameterTuningJob"
LIST = "ListTrainingJobsForHyperParameterTuningJob"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def problems_of(operation: str, params: dict[str, Any]) -> tuple[ValidationError, list[str]]:
    with pytest.raises(ValidationError) as info:
        shapes.validate_input(operation, params)
    return info.value, info.value.problems  # type: ignore[attr-defined]


# ---- validate_input ---------------------------------------------------------------------------
@pytest.mark.parametrize("file", EVENT_REQUESTS)
def test_examples_are_valid_input(file: str) -> None:
    shapes.validate_input(CREATE, event_request(file))


def test_missing_required_field_names_path_and_fix() -> None:
    r = event_request()
    del r["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]
    err, problems = problems_of(CREATE, r)
    assert err.field == "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs"
    assert str(err) == (
        "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs: "
        "missing required field; add it (an integer >= 1)"
    )
    assert problems == [str(err)]


def test_every_problem_is_listed() -> None:
    r = event_request()
    r["HyperParameterTuningJobName"] = "bad_name"
    r["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] = 60
    r["TrainingJobDefinition"]["Bogus"] = 1
    err, problems = problems_of(CREATE, r)
    text = str(err)
    assert text.startswith("3 problems")
    for path in (
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds",
        "TrainingJobDefinition.Bogus",
    ):
        assert any(p.startswith(f"{path}: ") for p in problems), problems
        assert path in text
    assert err.field in {p.split(": ")[0] for p in problems}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting ``a.b[0].c`` to ``value`` in a request."""

    def go(r: dict[str, Any]) -> None:
        keys = path.replace("[", ".[").split(".")
        node: Any = r
        for k in keys[:-1]:
            node = node[int(k[1:-1])] if k.startswith("[") else node[k]
        last = keys[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value

    return go


TJD = "TrainingJobDefinition"
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (id, mutation, path of the problem, a word of the message)
    (
        "wrong-type",
        _set("HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", "2"),
        "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs",
        "integer",
    ),
    (
        "unknown-field",
        _set("HyperParameterTuningJobConfig.Foo", 1),
        "HyperParameterTuningJobConfig.Foo",
        "remove it",
    ),
    (
        "integer-min",
        _set("HyperParameterTuningJobConfig.RandomSeed", -1),
        "HyperParameterTuningJobConfig.RandomSeed",
        ">= 0",
    ),
    (
        "integer-max",
        _set("HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds", 15_768_001),
        "HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds",
        "between 120 and 15768000",
    ),
    ("string-min", _set("HyperParameterTuningJobName", ""), "HyperParameterTuningJobName", "1-32 characters"),
    (
        "string-max",
        _set("HyperParameterTuningJobName", "a" * 33),
        "HyperParameterTuningJobName",
        "maximum 32",
    ),
    (
        "pattern-underscore",
        _set("HyperParameterTuningJobName", "my_job"),
        "HyperParameterTuningJobName",
        "pattern",
    ),
    (
        "pattern-trailing-hyphen",
        _set("HyperParameterTuningJobName", "job-"),
        "HyperParameterTuningJobName",
        "pattern",
    ),
    (
        "pattern-role",
        _set(f"{TJD}.RoleArn", "arn:aws:iam::1234:role/x-too-short"),
        f"{TJD}.RoleArn",
        "pattern",
    ),
    (
        "pattern-s3",
        _set(f"{TJD}.OutputDataConfig.S3OutputPath", "example-bucket/out"),
        f"{TJD}.OutputDataConfig.S3OutputPath",
        "pattern",
    ),
    (
        "enum",
        _set("HyperParameterTuningJobConfig.Strategy", "Evolution"),
        "HyperParameterTuningJobConfig.Strategy",
        "Bayesian",
    ),
    (
        "enum-nested",
        _set(f"{TJD}.AlgorithmSpecification.TrainingInputMode", "Stream"),
        f"{TJD}.AlgorithmSpecification.TrainingInputMode",
        "FastFile",
    ),
    (
        "enum-instance-type",
        _set(f"{TJD}.ResourceConfig.InstanceType", "m5.xlarge"),
        f"{TJD}.ResourceConfig.InstanceType",
        "ml.",
    ),
    (
        "list-max",
        _set(
            "HyperParameterTuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values",
            [str(i) for i in range(31)],
        ),
        "HyperParameterTuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values",
        "maximum 30",
    ),
    (
        "list-min",
        _set("HyperParameterTuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values", []),
        "HyperParameterTuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values",
        "1-30 items",
    ),
    (
        "map-max",
        _set(f"{TJD}.StaticHyperParameters", {f"k{i}": "v" for i in range(101)}),
        f"{TJD}.StaticHyperParameters",
        "maximum 100",
    ),
    ("map-key-pattern", _set(f"{TJD}.Environment", {"1BAD": "x"}), f"{TJD}.Environment{{1BAD}}", "pattern"),
    (
        "static-value-type",
        _set(f"{TJD}.StaticHyperParameters", {"epochs": 10}),
        f"{TJD}.StaticHyperParameters.epochs",
        "string",
    ),
    ("tag-key-max", _set("Tags", [{"Key": "k" * 129, "Value": "v"}]), "Tags[0].Key", "maximum 128"),
    ("tag-missing-value", _set("Tags", [{"Key": "k"}]), "Tags[0].Value", "missing required field"),
    (
        "float-type",
        _set(
            "HyperParameterTuningJobConfig.TuningJobCompletionCriteria",
            {"TargetObjectiveMetricValue": "high"},
        ),
        "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.TargetObjectiveMetricValue",
        "number",
    ),
]


@pytest.mark.parametrize("mutate, path, word", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_input_problem(mutate: Callable[[dict[str, Any]], None], path: str, word: str) -> None:
    request = event_request()
    mutate(request)
    err, problems = problems_of(CREATE, request)
    mine = [p for p in problems if p.startswith(f"{path}: ")]
    assert mine, problems
    assert any(word in p for p in mine), mine
    assert err.field == path or len(problems) > 1


@pytest.mark.parametrize("name", ["a", "A1", "job-1", "my--job", "Z" * 32, "sagemaker-xgboost-250101-1200"])
def test_real_names_match_the_pattern(name: str) -> None:
    r = event_request(name=name)
    shapes.validate_input(CREATE, r)


@pytest.mark.parametrize(
    "key, value", [("Cost Center", "é-1"), ("aws:cdk:path", "a/b=c+d@e"), ("Ключ", "значение")]
)
def test_unicode_tag_patterns_are_accepted(key: str, value: str) -> None:
    r = event_request()
    r["Tags"] = [{"Key": key, "Value": value}]
    shapes.validate_input(CREATE, r)


def test_java_patterns_compile_or_are_skipped() -> None:
    """Every pattern of the model compiles after translation, except a known few that are skipped."""
    model = shapes.service_model()
    skipped = []
    for name in model.shape_names:
        pat = model.shape_for(name).metadata.get("pattern")
        if pat and shapes._pattern(pat) is None:
            skipped.append(name)
    assert set(skipped) <= {"CustomerMetadataKey", "CustomerMetadataValue"}, skipped
    assert shapes._pattern(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)") is not None


@pytest.mark.parametrize(
    "when",
    ["2025-01-02T03:04:05Z", "2025-01-02T03:04:05+00:00", dt.datetime(2025, 1, 2, tzinfo=dt.UTC)],
)
def test_timestamps_as_strings_or_datetimes(when: Any) -> None:
    shapes.validate_input("ListHyperParameterTuningJobs", {"CreationTimeAfter": when, "MaxResults": 10})


def test_bad_timestamp() -> None:
    _, problems = problems_of("ListHyperParameterTuningJobs", {"CreationTimeAfter": "yesterday"})
    assert problems[0].startswith("CreationTimeAfter: ")


def test_unknown_operation() -> None:
    with pytest.raises(ValueError):
        shapes.validate_input("CreateTimeMachine", {})


def test_describe_explains_shapes() -> None:
    model = shapes.service_model()
    assert shapes.describe(model.shape_for("MaxParallelTrainingJobs")) == "an integer >= 1"
    assert (
        shapes.describe(model.shape_for("HyperParameterTuningMaxRuntimeInSeconds"))
        == "an integer between 120 and 15768000"
    )
    assert (
        shapes.describe(model.shape_for("HyperParameterTuningJobObjectiveType"))
        == "one of Maximize, Minimize"
    )
    assert "1-32 characters" in shapes.describe(model.shape_for("HyperParameterTuningJobName"))


# ---- validate_output --------------------------------------------------------------------------
def summary(n: int, *, created: Any = "2025-01-02T03:05:00+00:00") -> dict[str, Any]:
    return {
        "TrainingJobName": f"xgb-random-1-{n:03d}-0a1b2c3d",
        "TrainingJobArn": f"{ARN}:training-job/xgb-random-1-{n:03d}-0a1b2c3d",
        "TuningJobName": "xgb-random-1",
        "CreationTime": created,
        "TrainingStartTime": created,
        "TrainingEndTime": "2025-01-02T03:15:00Z",
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"eta": "0.1", "max_depth": "4"},
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "Type": "Maximize",
            "MetricName": "validation:auc",
            "Value": 0.91,
        },
        "ObjectiveStatus": "Succeeded",
    }


def describe_response() -> dict[str, Any]:
    request = event_request()
    return {
        "HyperParameterTuningJobName": "xgb-random-1",
        "HyperParameterTuningJobArn": f"{ARN}:hyper-parameter-tuning-job/xgb-random-1",
        "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
        "TrainingJobDefinition": request["TrainingJobDefinition"],
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "HyperParameterTuningEndTime": "2025-01-02T04:00:00+00:00",
        "LastModifiedTime": "2025-01-02T04:00:00.123456Z",
        "TrainingJobStatusCounters": {
            "Completed": 19,
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": 1,
            "Stopped": 0,
        },
        "ObjectiveStatusCounters": {"Succeeded": 19, "Pending": 0, "Failed": 1},
        "BestTrainingJob": summary(7),
        "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": 3},
        "ConsumedResources": {"RuntimeInSeconds": 3355},
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


def test_valid_describe_response() -> None:
    response = describe_response()
    assert shapes.validate_output(DESCRIBE, response) == []
    shapes.assert_valid_output(DESCRIBE, response)


def test_valid_list_response() -> None:
    response = {
        "TrainingJobSummaries": [summary(1), summary(2, created=dt.datetime(2025, 1, 2))],
        "NextToken": "abc",
    }
    assert shapes.validate_output(LIST, response) == []
    assert shapes.validate_output(LIST, {"TrainingJobSummaries": []}) == []


def _del(*keys: str) -> Callable[[dict[str, Any]], None]:
    def go(r: dict[str, Any]) -> None:
        node = r
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]

    return go


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "missing-status",
        _del("HyperParameterTuningJobStatus"),
        "HyperParameterTuningJobStatus: missing required field",
    ),
    ("missing-counters", _del("ObjectiveStatusCounters"), "ObjectiveStatusCounters: missing required field"),
    ("unknown-member", lambda r: r.update(BestJob={}), "BestJob: unknown field"),
    (
        "unknown-nested",
        lambda r: r["TrainingJobStatusCounters"].update(Failed=1),
        "TrainingJobStatusCounters.Failed: unknown field",
    ),
    (
        "bad-enum",
        lambda r: r.update(HyperParameterTuningJobStatus="Running"),
        "HyperParameterTuningJobStatus: 'Running' is not valid",
    ),
    (
        "counter-type",
        lambda r: r["ObjectiveStatusCounters"].update(Succeeded="19"),
        "ObjectiveStatusCounters.Succeeded: wrong type str",
    ),
    (
        "counter-bool",
        lambda r: r["ObjectiveStatusCounters"].update(Succeeded=True),
        "ObjectiveStatusCounters.Succeeded: wrong type bool",
    ),
    (
        "counter-negative",
        lambda r: r["ObjectiveStatusCounters"].update(Failed=-1),
        "ObjectiveStatusCounters.Failed: -1 is below",
    ),
    (
        "bad-time",
        lambda r: r.update(CreationTime="yesterday"),
        "CreationTime: 'yesterday' is not a timestamp",
    ),
    (
        "time-as-number",
        lambda r: r.update(LastModifiedTime=1735787045),
        "LastModifiedTime: 1735787045 is not a timestamp",
    ),
    (
        "summary-missing-tuned",
        _del("BestTrainingJob", "TunedHyperParameters"),
        "BestTrainingJob.TunedHyperParameters: missing",
    ),
    (
        "tuned-not-string",
        lambda r: r["BestTrainingJob"]["TunedHyperParameters"].update(eta=0.1),
        "BestTrainingJob.TunedHyperParameters.eta: wrong type float",
    ),
    (
        "metric-value-type",
        lambda r: r["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"].update(Value="0.9"),
        "BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value: wrong type str",
    ),
    (
        "objective-status",
        lambda r: r["BestTrainingJob"].update(ObjectiveStatus="Done"),
        "BestTrainingJob.ObjectiveStatus: 'Done'",
    ),
    (
        "arn-pattern",
        lambda r: r.update(HyperParameterTuningJobArn="xgb-random-1"),
        "HyperParameterTuningJobArn: 'xgb-random-1' does not match",
    ),
    (
        "config-echo",
        _del("HyperParameterTuningJobConfig", "ResourceLimits"),
        "HyperParameterTuningJobConfig.ResourceLimits: missing",
    ),
    ("not-a-dict", lambda r: r.update(ConsumedResources=[1]), "ConsumedResources: wrong type list"),
]


@pytest.mark.parametrize("mutate, problem", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_describe_response(mutate: Callable[[dict[str, Any]], None], problem: str) -> None:
    response = describe_response()
    mutate(response)
    problems = shapes.validate_output(DESCRIBE, response)
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(AssertionError, match="invalid DescribeHyperParameterTuningJob response"):
        shapes.assert_valid_output(DESCRIBE, response)


def test_broken_list_response() -> None:
    bad = summary(1)
    del bad["TrainingJobArn"]
    bad["TrainingJobStatus"] = "Succeeded"
    problems = shapes.validate_output(LIST, {"TrainingJobSummaries": [summary(2), bad]})
    assert "TrainingJobSummaries[1].TrainingJobArn: missing required field" in " ".join(problems)
    assert any(p.startswith("TrainingJobSummaries[1].TrainingJobStatus: 'Succeeded'") for p in problems)
    assert shapes.validate_output(LIST, {})[0].startswith("TrainingJobSummaries: missing required field")


def test_output_check_does_not_mutate() -> None:
    response = describe_response()
    before = copy.deepcopy(response)
    shapes.validate_output(DESCRIBE, response)
    assert response == before
