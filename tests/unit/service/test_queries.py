"""Queries on fakes: the one describe every surface answers with."""
from __future__ import annotations

import pytest
from tuner.errors import TuningJobNotFoundError
from tuner.shapes import assert_valid_output

from tests.builders import tuning_request
from tests.fakes import FakeAws, MemoryStore

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"


def _job(aws: FakeAws, name: str, values: list[float | None], **kw) -> None:
    aws.service.create_job(tuning_request(name, **kw), EXEC + name)
    for i, v in enumerate(values, 1):
        aws.store.add_trial(name, i, v)
    aws.store.update_job(name, status="Completed", ended="2026-01-01T12:00:00+00:00")


@pytest.mark.parametrize("kind", ["IdenticalDataAndAlgorithm", "TransferLearning"])
def test_overall_best_covers_the_parents_for_an_identical_warm_start_only(kind):
    aws = FakeAws()
    _job(aws, "parent", [0.5, 0.2])  # minimise: 0.2 is the best anywhere
    _job(aws, "child", [0.4, None], warm_start=["parent"], warm_start_type=kind)
    d = aws.service.describe("child")
    assert_valid_output("DescribeHyperParameterTuningJob", d)
    assert d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.4
    if kind == "IdenticalDataAndAlgorithm":
        assert d["OverallBestTrainingJob"]["TuningJobName"] == "parent"
        assert d["OverallBestTrainingJob"]["TrainingJobName"] == "parent-002-0000abcd"
    else:  # AMT: the objective values of another dataset or algorithm are not comparable
        assert "OverallBestTrainingJob" not in d


def test_convergence_time_is_described_and_the_event_carries_the_completion_reason():
    aws = FakeAws()
    _job(aws, "conv", [0.3])
    aws.store.update_job(
        "conv", convergence_detected="2026-01-01T12:05:00.000+00:00", completion_reason="Converged"
    )
    d = aws.service.describe("conv")
    assert d["TuningJobCompletionDetails"]["ConvergenceDetectedTime"].isoformat() == "2026-01-01T12:05:00+00:00"
    aws.service.lifecycle.publish("conv")
    assert aws.events.details[-1]["TuningJobCompletionReason"] == "Converged"
    converged_at = aws.events.details[-1]["TuningJobCompletionDetails"]["ConvergenceDetectedTime"]
    assert converged_at.startswith("2026-01-01T12:05")


def test_describe_answers_from_the_execution_before_the_first_step_and_not_found_without_one():
    aws = FakeAws()
    aws.executions.start("early", tuning_request("early"))
    d = aws.service.describe("early")
    assert d["HyperParameterTuningJobStatus"] == "InProgress" and d["TrainingJobStatusCounters"]["Completed"] == 0
    assert aws.service.list_training_jobs("early") == {"TrainingJobSummaries": []}
    with pytest.raises(TuningJobNotFoundError, match="no tuning job named 'nobody'"):
        aws.service.describe("nobody")


def test_list_jobs_filters_sorts_and_pages():
    aws = FakeAws()
    for name in ("alpha", "beta", "alpha-2"):
        _job(aws, name, [0.1])
        aws.clock.advance(60)
    page = aws.service.list_jobs(NameContains="ALPHA", SortBy="Name", SortOrder="Ascending", MaxResults=1)
    assert [s["HyperParameterTuningJobName"] for s in page["HyperParameterTuningJobSummaries"]] == ["alpha"]
    rest = aws.service.list_jobs(
        NameContains="alpha", SortBy="Name", SortOrder="Ascending", NextToken=page["NextToken"]
    )
    assert [s["HyperParameterTuningJobName"] for s in rest["HyperParameterTuningJobSummaries"]] == ["alpha-2"]
    assert_valid_output("ListHyperParameterTuningJobs", rest)


class LaggingIndex(MemoryStore):
    """A store whose job index has not caught up yet (a DynamoDB GSI is eventually consistent):
    ``list_jobs`` leaves out the jobs named in ``unlisted``; reads by name are consistent."""

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.unlisted: set[str] = set()

    def list_jobs(self):
        return [j for j in super().list_jobs() if j.name not in self.unlisted]


def test_list_merges_the_callers_recent_jobs_the_index_does_not_show_yet():
    aws = FakeAws()
    store = aws.store = aws.service.ports.store = LaggingIndex(aws.clock)  # the index lags
    _job(aws, "old", [0.1])
    aws.clock.advance(60)
    aws.service.create_job(tuning_request("Stored-Late"), EXEC + "Stored-Late")  # stored, not indexed
    store.unlisted.add("Stored-Late")
    aws.clock.advance(60)
    aws.service.submit(tuning_request("not-stored"))  # started, its first step not run yet
    # WITHOUT the caller's recent jobs the index is all there is
    names = [s["HyperParameterTuningJobName"] for s in aws.service.list_jobs()["HyperParameterTuningJobSummaries"]]
    assert names == ["old"]
    # WITH them (any case), both are listed, sorted, filtered and paged like the rest
    recent = ["stored-late", "not-stored", "old", "never-created"]
    out = aws.service.list_jobs(recent=recent, SortBy="Name", MaxResults=2)
    assert_valid_output("ListHyperParameterTuningJobs", out)
    rest = aws.service.list_jobs(recent=recent, SortBy="Name", MaxResults=2, NextToken=out["NextToken"])
    pages = out["HyperParameterTuningJobSummaries"] + rest["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in pages] == ["old", "not-stored", "Stored-Late"]  # descending
    filtered = aws.service.list_jobs(recent=recent, StatusEquals="InProgress", SortBy="Name", SortOrder="Ascending")
    assert [s["HyperParameterTuningJobName"] for s in filtered["HyperParameterTuningJobSummaries"]] == [
        "Stored-Late", "not-stored"
    ]
