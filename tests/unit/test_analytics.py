"""Analytics rows/DataFrame and the report's pure parts (no AWS, no moto)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from tuner import analytics, report

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def summary(
    i: int,
    x: float,
    color: str,
    value: float | None,
    status: str = "Completed",
    definition: str | None = None,
):
    s = {
        "TrainingJobName": f"job-{i:03d}-abc",
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/job-{i:03d}-abc",
        "CreationTime": T0 + timedelta(seconds=i),
        "TrainingStartTime": T0 + timedelta(seconds=i),
        "TrainingEndTime": T0 + timedelta(seconds=i + 2.5),
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"x": str(x), "color": color},
        "ObjectiveStatus": "Succeeded" if value is not None else "Failed",
    }
    if value is not None:
        s["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": "Minimize",
            "MetricName": "loss",
            "Value": value,
        }
    if definition:
        s["TrainingJobDefinitionName"] = definition
    return s


DESCRIBE = {
    "HyperParameterTuningJobName": "job",
    "HyperParameterTuningJobStatus": "Completed",
    "CreationTime": T0,
    "HyperParameterTuningJobConfig": {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0.1", "MaxValue": "10", "ScalingType": "Logarithmic"}
            ],
            "CategoricalParameterRanges": [{"Name": "color", "Values": ["red", "green", "blue"]}],
        },
    },
    "TrainingJobStatusCounters": {
        "Completed": 30,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 1,
        "Stopped": 0,
    },
}


def jobs(n: int = 30):
    rng = random.Random(0)
    out = []
    for i in range(1, n + 1):
        x = 10 ** rng.uniform(-1, 1)
        out.append(
            summary(i, round(x, 4), rng.choice(["red", "green", "blue"]), abs(x - 3) + rng.uniform(0, 0.01))
        )
    out.append(summary(n + 1, 1.0, "red", None, status="Failed"))
    return out


def test_rows_have_the_sdk_columns_and_values():
    r = analytics.row(summary(1, 2.5, "red", 0.5))
    assert r == {
        "x": 2.5,
        "color": "red",
        "TrainingJobName": "job-001-abc",
        "TrainingJobStatus": "Completed",
        "FinalObjectiveValue": 0.5,
        "TrainingStartTime": T0 + timedelta(seconds=1),
        "TrainingEndTime": T0 + timedelta(seconds=3.5),
        "TrainingElapsedTimeSeconds": 2.5,
    }
    failed = analytics.row(summary(2, 1.0, "red", None, status="Failed"))
    assert failed["FinalObjectiveValue"] is None
    multi = analytics.row(summary(3, 1.0, "red", 1.0, definition="algo-a"), multi_definition=True)
    assert multi["TrainingJobDefinitionName"] == "algo-a"


def test_dataframe_and_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    df = analytics.to_dataframe(jobs(5))
    assert list(df.columns) == ["color", "x", *analytics.BASE_COLUMNS]
    assert len(df) == 6 and df["FinalObjectiveValue"].isna().sum() == 1
    multi = analytics.to_dataframe([summary(1, 1.0, "red", 1.0, definition="a")], multi_definition=True)
    assert multi["TrainingJobDefinitionName"].tolist() == ["a"]

    class Client:  # any SageMaker-style client: two pages
        def describe_hyper_parameter_tuning_job(self, **kw):
            return DESCRIBE

        def list_training_jobs_for_hyper_parameter_tuning_job(self, **kw):
            all_jobs = jobs(5)
            if kw.get("NextToken"):
                return {"TrainingJobSummaries": all_jobs[3:]}
            return {"TrainingJobSummaries": all_jobs[:3], "NextToken": "t"}

    path = analytics.TuningJobAnalytics("job", Client()).export_csv(tmp_path / "jobs.csv")
    back = pd.read_csv(path)
    assert len(back) == 6 and "TrainingElapsedTimeSeconds" in back.columns


def test_importance_finds_the_hyperparameter_that_matters():
    scores = report.importance(jobs(40), report.parameter_ranges(DESCRIBE))
    assert set(scores) == {"x", "color"}
    assert scores["x"] > 0.5 > scores["color"]
    assert report.importance(jobs(1), report.parameter_ranges(DESCRIBE)) == {}


def test_render_embeds_every_chart(tmp_path):
    pytest.importorskip("matplotlib")
    path = report.write_report(DESCRIBE, jobs(12), tmp_path)
    page = path.read_text()
    assert page.count("data:image/png;base64,") == len(report.CHARTS)
    assert "http://" not in page and "https://" not in page  # self-contained
    for file, _ in report.CHARTS:
        assert (tmp_path / file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.count("<tr") == 1 + 13  # header + every job
    # no scored job at all still renders (empty charts with a message)
    empty = report.write_report(DESCRIBE, [summary(1, 1.0, "red", None, status="Failed")], tmp_path / "empty")
    assert empty.read_text().count("data:image/png;base64,") == len(report.CHARTS)
