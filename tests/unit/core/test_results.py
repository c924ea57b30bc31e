"""Response builders (``core.results``): counters, best job, not-improving count, list sorting and paging,
shapes."""
from __future__ import annotations

import pytest
from tuner.core import results
from tuner.core.naming import training_job_name
from tuner.core.records import JobRecord, TrialRecord
from tuner.shapes import assert_valid_output

from tests.builders import continuous, tuning_request

REQUEST = tuning_request("job", ranges=continuous(0, 1), max_jobs=6, max_parallel=2, seed=None)


def trial(n, status, value=None, retryable=False, ended=None):
    t = TrialRecord(
        job="job", number=n, params={"x": str(n / 10)}, training_job_name=training_job_name("job", n, {"x": str(n)})
    )
    t.status = status
    t.retryable = retryable
    t.recorded = status in ("Completed", "Failed", "Stopped")
    t.final_objective = value
    t.objective_status = "Succeeded" if value is not None else ("Pending" if not t.recorded else "Failed")
    t.ended = ended or (f"2026-01-01T00:00:{n:02d}+00:00" if t.recorded else None)
    t.started = "2026-01-01T00:00:00+00:00"
    return t


TRIALS = [
    trial(1, "Completed", 0.50),
    trial(2, "Completed", 0.30),
    trial(3, "Failed"),
    trial(4, "Failed", retryable=True),
    trial(5, "Completed", 0.299),  # < 1% better than 0.30: not an improvement
    trial(6, "InProgress"),
    trial(7, "Stopped", 0.40),
    trial(8, "Pending"),
]


def test_counters_as_sagemaker_counts():
    d = results.describe(JobRecord(name="job", request=REQUEST), TRIALS)
    assert d["TrainingJobStatusCounters"] == {
        "Completed": 3, "InProgress": 2, "RetryableError": 1, "NonRetryableError": 1, "Stopped": 1
    }
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 2, "Failed": 2}


def test_best_is_the_minimum_and_not_improving_counts_the_one_percent_rule():
    d = results.describe(JobRecord(name="job", request=REQUEST), TRIALS)
    assert d["BestTrainingJob"]["TrainingJobName"] == TRIALS[4].training_job_name
    assert d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize", "MetricName": "loss", "Value": 0.299
    }
    # improvements: t1 (first), t2; then t3, t4, t5 (<1%), t7 do not improve
    assert d["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 4
    assert_valid_output("DescribeHyperParameterTuningJob", d)


@pytest.mark.parametrize("sort_by", results.SORT_KEYS)
@pytest.mark.parametrize("order", ["Ascending", "Descending"])
def test_list_sorts_pages_and_validates(sort_by, order):
    job = JobRecord(name="job", request=REQUEST)
    seen = []
    token = None
    while True:
        page = results.list_training_jobs(job, TRIALS, SortBy=sort_by, SortOrder=order, MaxResults=3,
                                          **({"NextToken": token} if token else {}))
        assert_valid_output("ListTrainingJobsForHyperParameterTuningJob", page)
        seen.extend(page["TrainingJobSummaries"])
        token = page.get("NextToken")
        if not token:
            break
    expected = 4 if sort_by == "FinalObjectiveMetricValue" else len(TRIALS)  # jobs without a metric left out
    assert len(seen) == expected
    if sort_by == "FinalObjectiveMetricValue":
        values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in seen]
        assert values == sorted(values, reverse=order == "Descending")


def test_status_filter_and_pending_reported_in_progress():
    job = JobRecord(name="job", request=REQUEST)
    page = results.list_training_jobs(job, TRIALS, StatusEquals="InProgress", MaxResults=100)
    assert {s["TrainingJobName"] for s in page["TrainingJobSummaries"]} == {
        TRIALS[5].training_job_name, TRIALS[7].training_job_name
    }
