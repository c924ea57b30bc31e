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


# ---- beyond the SageMaker shapes: series, stops and the completion reason -------------------------
def _stopped_jobs():
    """FakeAws with an early-stopping job and a Hyperband job whose sweep stopped trials, recorded
    as Stopped (the monitor's own reasons on the trials)."""
    from tests.builders import tuning_request
    from tests.fakes import FakeAws

    aws = FakeAws()
    median = tuning_request("median", strategy="Bayesian", max_jobs=8, max_parallel=4, early_stopping="Auto")
    hyperband = tuning_request("hyperband", strategy="Hyperband", max_jobs=8, max_parallel=4,
                               strategy_config={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}})
    for req in (median, hyperband):
        name = req["HyperParameterTuningJobName"]
        aws.service.create_job(req, aws.executions.start(name, req))
        jobs = [aws.service.next_trial(name, lap, 0, f"{name}-{lap}")["TrainingJobName"] for lap in (1, 2, 3, 4)]
        for k, job in enumerate(jobs):  # the fourth is the worst; three values each
            aws.logs.by_job[job] = [f"loss: {9.0 if k == 3 else 1.0 + k / 10}" for _ in range(3)]
    stopped = [a["TrainingJobName"] for a in aws.service.sweep()["Actions"] if a["Action"] == "Stop"]
    for job in stopped:
        aws.backend.finish(job, "Stopped")
        aws.service.record_training_job(job)
    return aws, stopped


def test_details_give_each_job_its_series_and_the_step_where_the_monitor_stopped_it():
    aws, stopped = _stopped_jobs()
    early = analytics.details(aws, "median")
    assert early is not None and early.completion_reason is None
    (job,) = [j for j in stopped if j.startswith("median-")]
    p = early.progress[job]
    # GIVEN the median rule judged the job after its third value
    assert p.series == (9.0, 9.0, 9.0) and p.stopped_by.startswith("EarlyStopping")
    assert (p.stopper, p.decided_at) == ("EarlyStopping", 3)
    assert p.note("Stopped") == "stopped by early stopping at epoch 3 (last epoch 3)"
    assert analytics.ending("Stopped", p) == "EarlyStopping"
    running = [q for name, q in early.progress.items() if name != job]
    assert len(running) == 3 and all(q.stopper is None and q.note("InProgress") == "" for q in running)

    bands = analytics.details(aws, "hyperband")
    cut = [bands.progress[j] for j in stopped if j.startswith("hyperband-")]
    assert cut and all((q.stopper, q.decided_at) == ("Hyperband", 3) for q in cut)
    assert cut[0].note("Stopped") == "stopped by Hyperband at rung 3 (last epoch 3)"


def test_details_need_the_tuners_service():
    class SageMaker:  # a plain SageMaker client has no tuner store
        pass

    assert analytics.details(SageMaker(), "job") is None


@pytest.mark.parametrize(
    ("stopped_by", "series", "status", "stopper", "decided_at", "note", "ending"),
    [
        (None, (1.0, 0.5), "Completed", None, None, "", "Completed"),
        (None, (1.0,), "Stopped", None, None, "stopped (last epoch 1)", "Stopped"),
        (None, (), "Stopped", None, None, "stopped (no objective value yet)", "Stopped"),
        ("EarlyStopping: value 2 at step 4 is worse than the median 1", (3.0,) * 6, "Stopped",
         "EarlyStopping", 4, "stopped by early stopping at epoch 4 (last epoch 6)", "EarlyStopping"),
        ("Hyperband: not in the top 1 of 3 at rung 3", (1.0,) * 10, "Completed", "Hyperband", 3,
         "Hyperband at rung 3 asked to stop it; it completed first (last epoch 10)", "Completed"),
        ("Hyperband: reached MaxResource 9", (1.0,) * 9, "Stopped", "Hyperband", 9,
         "stopped by Hyperband at MaxResource 9 (last epoch 9)", "Hyperband"),
        ("StopTuningJob", (1.0, 0.9), "Stopped", "StopTuningJob", None,
         "stopped by StopHyperParameterTuningJob (last epoch 2)", "Stopped"),
        ("TargetObjectiveMetricValue reached (0.1 <= 0.2)", (0.3,), "Stopped",
         "TargetObjectiveMetricValue reached (0.1 <= 0.2)", None,
         "stopped by the tuning job's end (TargetObjectiveMetricValue reached (0.1 <= 0.2)) (last epoch 1)",
         "Stopped"),
        ("EarlyStopping: no step named", (1.0,), "Failed", "EarlyStopping", None,
         "early stopping asked to stop it; it ended Failed (last epoch 1)", "Failed"),
    ],
)
def test_progress_says_who_stopped_a_job_and_where(stopped_by, series, status, stopper, decided_at, note, ending):
    p = analytics.Progress(series, stopped_by)
    assert (p.stopper, p.decided_at, p.note(status), analytics.ending(status, p)) == (
        stopper, decided_at, note, ending
    )


def test_progress_of_a_trial_that_never_ran_or_ran_past_the_stored_series():
    from tuner.core.metrics import MAX_SERIES

    never = analytics.Progress((), "StopTuningJob", started=False)
    assert never.note("Stopped") == "never started (the tuning job ended first)"
    long = analytics.Progress((1.0,) * MAX_SERIES, "StopTuningJob")
    assert long.note("Stopped") == f"stopped by StopHyperParameterTuningJob (last epoch {MAX_SERIES}+)"


def test_analytics_give_the_completion_reason():
    from tests.builders import tuning_request
    from tests.fakes import FakeAws

    aws = FakeAws()
    request = tuning_request("target", max_jobs=4, max_parallel=1)
    request["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {"TargetObjectiveMetricValue": 2.0}
    aws.service.create_job(request, aws.executions.start("target", request))
    job = aws.service.next_trial("target", 1, 0, "t1")["TrainingJobName"]
    aws.logs.by_job[job] = ["loss: 1.5"]
    aws.backend.finish(job, "Completed")
    aws.service.record_training_job(job)
    a = analytics.TuningJobAnalytics("target", aws)
    assert a.completion_reason().startswith("TargetObjectiveMetricValue reached")


def _noisy_job(noise: float, lucky: float = 0.0):
    """A Minimize job over x in [0, 10]: (x - 3)^2 / 10 plus Gaussian noise, each of 8 values of x
    trained 3 times (as a retrained configuration scores differently: the noise is visible to the
    model); one training at x = 7 gets a lucky draw ``lucky`` below everything else."""
    import numpy as np

    rng = np.random.default_rng(4)
    describe = job_describe()
    config = describe["HyperParameterTuningJobConfig"]
    config["ParameterRanges"] = {
        "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"}]
    }
    config["HyperParameterTuningJobObjective"] = {"Type": "Minimize", "MetricName": "loss"}
    xs = np.repeat([0.5, 1.5, 3.0, 4.5, 5.5, 7.0, 8.5, 9.5], 3)
    values = (xs - 3) ** 2 / 10 + rng.normal(0, noise, xs.size)
    far = int(np.flatnonzero(xs == 7.0)[0])  # true value 1.6, far from the best (0 at x = 3)
    values[far] = float(np.min(values)) - lucky
    summaries = []
    for i, (x, v) in enumerate(zip(xs, values, strict=True)):
        s = job_summary(i + 1, float(x), "red", float(v))
        s["TunedHyperParameters"] = {"x": repr(float(x))}
        summaries.append(s)
    return describe, summaries, summaries[far]["TrainingJobName"]


class _Client:
    def __init__(self, describe, summaries):
        self.describe, self.summaries = describe, summaries

    def describe_hyper_parameter_tuning_job(self, **kw):
        return self.describe

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **kw):
        return {"TrainingJobSummaries": self.summaries}


def test_the_models_pick_passes_over_a_lucky_draw_on_a_noisy_objective():
    pytest.importorskip("scipy")
    describe, summaries, lucky = _noisy_job(noise=0.4, lucky=0.3)
    pick = analytics.TuningJobAnalytics("job", _Client(describe, summaries)).model_pick()
    assert pick["BestObservedTrainingJobName"] == lucky  # what AMT reports: the lucky draw at x = 6.6
    assert pick["TrainingJobName"] != lucky
    assert abs(float(pick["TunedHyperParameters"]["x"]) - 3) < 1.5  # the model's pick is near the optimum
    assert 0 < pick["NoiseShare"] < 1
    # a noiseless objective: the pick is the best observed
    describe, summaries, _ = _noisy_job(noise=0.0)
    pick = analytics.TuningJobAnalytics("job", _Client(describe, summaries)).model_pick()
    assert pick["TrainingJobName"] == pick["BestObservedTrainingJobName"]
    assert analytics.TuningJobAnalytics("job", _Client(describe, summaries[:1])).model_pick() is None
