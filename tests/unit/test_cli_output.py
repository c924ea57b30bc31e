"""What `tuner local` and `--wait` print: the leaderboard (the effective objective, definitions, stop
marks), the progress line (failures, jobs without a metric), the completion point and overshoot."""
from __future__ import annotations

import io

import pytest
from tuner.cli_common import Progress, completion_point, failure_tail, leaderboard, stop_note
from tuner.core.completion import REASON_NOT_IMPROVING
from tuner.core.objective import job_maximizes
from tuner.core.records import COMPLETED, STOPPED, TrialRecord

from tests.builders import job_summary, training_definition, tuning_request


def ranked(board: str) -> list[str]:
    """The training job names in the leaderboard's order."""
    return [line.split()[-1] for line in board.splitlines()[1:] if line[:4].strip().isdigit()]


def test_a_minimize_job_with_definitions_is_ranked_best_first_with_each_definition_shown():
    request = tuning_request(
        "multi",
        definitions=[
            training_definition(name="wide", objective=("Minimize", "validation-loss"), ranges={}),
            training_definition(name="narrow", objective=("Minimize", "validation-loss"), ranges={}),
        ],
    )
    summaries = [
        job_summary(1, 1.0, "red", 0.9, definition="wide"),
        job_summary(2, 2.0, "red", 0.1, definition="narrow"),
        job_summary(3, 3.0, "red", 0.5, definition="wide"),
    ]
    for s in summaries:  # the per-definition objective, as trial_summary writes it
        s["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] = "validation-loss"
    board = leaderboard(summaries, job_maximizes(request))
    assert ranked(board) == ["job-002-abc", "job-003-abc", "job-001-abc"]
    header, first = board.splitlines()[:2]
    assert "validation-loss" in header and "definition" in header  # the metric's name, not "objective"
    assert "narrow" in first and "0.1" in first


def test_one_definition_has_no_definition_column_and_hyperparameters_are_short():
    board = leaderboard([job_summary(1, 0.05466050711608227, "red", 2.0)], maximize=False)
    assert "definition" not in board
    assert "x=0.0546605" in board and "color=red" in board


def test_stopped_jobs_are_marked_and_jobs_without_a_value_are_counted_by_kind():
    summaries = [
        job_summary(1, 1.0, "red", 0.2),
        job_summary(2, 2.0, "red", 0.3, status="Stopped"),
        job_summary(3, 3.0, "red", None, status="Failed"),
        job_summary(4, 4.0, "red", None),  # completed, no metric
    ]
    board = leaderboard(summaries, maximize=False, notes={"job-002-abc": "early-stopped at epoch 4"})
    lines = board.splitlines()
    at = next(i for i, line in enumerate(lines) if line.rstrip().endswith("job-002-abc"))
    assert lines[at + 2].strip() == "early-stopped at epoch 4"
    assert lines[-1] == "(2 training job(s) without an objective value: failed 1, no metric 1)"
    # beyond the top: counted, with how many of them were Stopped
    board = leaderboard(summaries, maximize=False, top=1)
    assert "(1 more with an objective value, 1 of them Stopped)" in board.splitlines()


def trial(n: int, status: str, value: float | None = None, *, ended: str | None = None, started: str | None = "s",
          stopped_by: str | None = None, series: list[float] | None = None, rung: int = 0) -> TrialRecord:
    return TrialRecord(
        job="j", number=n, params={"x": str(n)}, training_job_name=f"j-{n:03d}-abc", status=status,
        final_objective=value, objective_status="Succeeded" if value is not None else "Failed",
        ended=ended or f"2025-01-01T00:00:{n:02d}", started=started, stopped_by=stopped_by,
        series=series or [], rung=rung, recorded=True,
    )


@pytest.mark.parametrize(
    ("record", "note"),
    [
        (trial(1, COMPLETED, 0.1), None),
        (trial(2, STOPPED, 0.4, stopped_by="EarlyStopping: value 0.4 at step 3 is worse than the median 0.2",
               series=[0.9, 0.6, 0.4]), "stopped by early stopping at epoch 3 (last epoch 3)"),
        (trial(3, STOPPED, 0.5, stopped_by="Hyperband: not in the top 1 of 3 at rung 3", series=[0.9, 0.5, 0.5]),
         "stopped by Hyperband at rung 3 (last epoch 3)"),
        (trial(4, STOPPED, 0.7, stopped_by="StopTuningJob", series=[0.7]),
         "stopped by StopHyperParameterTuningJob (last epoch 1)"),
        (trial(5, STOPPED, None, stopped_by="StopTuningJob", started=None),
         "never started (the tuning job ended first)"),
        (trial(6, STOPPED, None, stopped_by=f"{REASON_NOT_IMPROVING} (3 ...)"),
         f"stopped by the tuning job's end ({REASON_NOT_IMPROVING} (3 ...)) (no objective value yet)"),
    ],
)
def test_stop_note_says_what_cut_a_job_and_where(record, note):
    assert stop_note(record) == note


def test_completion_point_and_overshoot_follow_the_completion_rule():
    criteria = {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 2}}
    trials = [
        trial(1, COMPLETED, 1.0),
        trial(2, COMPLETED, 0.5),  # the best
        trial(3, COMPLETED, 0.9),
        trial(4, COMPLETED, 0.8),  # the 2nd without improvement: met after 4 finished
        trial(5, STOPPED, 0.95, ended="2025-01-01T00:00:30", stopped_by=REASON_NOT_IMPROVING),  # was running
        trial(6, STOPPED, None, ended="2025-01-01T00:00:31", started=None),  # claimed, never started
    ]
    assert completion_point(criteria, trials, maximize=False) == (4, 5)
    assert completion_point(criteria, trials[:3], maximize=False) is None
    assert completion_point(None, trials, maximize=False) is None


def describe(completed=0, failed=0, objective_failed=0, running=1, status="InProgress", best=None):
    return {
        "HyperParameterTuningJobStatus": status,
        "TrainingJobStatusCounters": {"Completed": completed, "InProgress": running, "RetryableError": 0,
                                      "NonRetryableError": failed, "Stopped": 0},
        "ObjectiveStatusCounters": {"Succeeded": completed, "Pending": running, "Failed": objective_failed},
        **({"BestTrainingJob": best} if best else {}),
    }


def test_progress_counts_jobs_without_a_metric_and_shows_each_failure_once():
    crash = "AlgorithmError: ExecuteUserScriptError: exit code 1\nTraceback (most recent call last):\n" + \
        "\n".join(f'  File "train.py", line {i}' for i in range(10)) + "\nValueError: bad x"
    jobs = [job_summary(1, 1.0, "red", 0.5)]
    calls = []

    def listing():
        calls.append(1)
        return list(jobs)

    out = io.StringIO()
    progress = Progress(5, out, jobs=listing, log_hint=lambda name: f"logs/{name}.log")
    progress(describe())
    assert "failed 0  no metric 0" in out.getvalue()
    progress(describe())  # nothing new: the jobs are not listed again
    assert len(calls) == 1
    silent = job_summary(2, 2.0, "red", None)
    silent["FailureReason"] = "The training job emitted no value for the objective metric 'loss'"
    failed = job_summary(3, 3.0, "red", None, status="Failed")
    failed["FailureReason"] = crash
    again = job_summary(4, 4.0, "red", None, status="Failed")
    again["FailureReason"] = crash
    jobs += [silent, failed, again]
    progress(describe(completed=2, failed=2, objective_failed=3))
    text = out.getvalue()
    assert "failed 2  no metric 1" in text.splitlines()[-1]
    assert "job-003-abc failed; output: logs/job-003-abc.log" in text
    assert failure_tail(crash) in text and "ValueError: bad x" in text and 'line 0"' not in text
    assert "job-004-abc failed (the same reason as job-003-abc); output: logs/job-004-abc.log" in text
    assert "job-002-abc completed without an objective value; output: logs/job-002-abc.log" in text
    assert text.count("job-003-abc failed") == 1


def test_progress_without_a_listing_shows_no_metric_count():
    out = io.StringIO()
    Progress(3, out)(describe())
    assert "no metric" not in out.getvalue() and "failed 0" in out.getvalue()


def test_failure_tail_keeps_the_kind_and_the_last_lines():
    assert failure_tail("A\nB\nC\nD\nE") == "    A\n    ...\n    C\n    D\n    E"
    assert failure_tail("A: one line") == "    A: one line"
