"""Analytics (``tuner.analytics``): the SDK's rows, DataFrame and CSV (no AWS, no moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tuner import analytics

from tests.builders import T0, job_describe, job_summaries, job_summary


def test_rows_have_the_sdk_columns_and_values():
    r = analytics.row(job_summary(1, 2.5, "red", 0.5))
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
    failed = analytics.row(job_summary(2, 1.0, "red", None, status="Failed"))
    assert failed["FinalObjectiveValue"] is None
    multi = analytics.row(job_summary(3, 1.0, "red", 1.0, definition="algo-a"), multi_definition=True)
    assert multi["TrainingJobDefinitionName"] == "algo-a"


def test_dataframe_and_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    df = analytics.to_dataframe(job_summaries(5))
    assert list(df.columns) == ["color", "x", *analytics.BASE_COLUMNS]
    assert len(df) == 6 and df["FinalObjectiveValue"].isna().sum() == 1
    multi = analytics.to_dataframe([job_summary(1, 1.0, "red", 1.0, definition="a")], multi_definition=True)
    assert multi["TrainingJobDefinitionName"].tolist() == ["a"]

    class Client:  # any SageMaker-style client: two pages
        def describe_hyper_parameter_tuning_job(self, **kw):
            return job_describe()

        def list_training_jobs_for_hyper_parameter_tuning_job(self, **kw):
            all_jobs = job_summaries(5)
            if kw.get("NextToken"):
                return {"TrainingJobSummaries": all_jobs[3:]}
            return {"TrainingJobSummaries": all_jobs[:3], "NextToken": "t"}

    path = analytics.TuningJobAnalytics("job", Client()).export_csv(tmp_path / "jobs.csv")
    back = pd.read_csv(path)
    assert len(back) == 6 and "TrainingElapsedTimeSeconds" in back.columns
