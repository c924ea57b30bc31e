"""Metrics as AWS delivers them, through the offline loop: CloudWatch Logs lines land after the
training job's status changed (the stand-in's delivery lag, on by default), yet every trial records
the last value its script printed; and the metrics SageMaker publishes to CloudWatch are there for
the SageMaker SDK's ``TrainingJobAnalytics``."""
from __future__ import annotations

import os

import pytest
from tuner.constants import TRAINING_LOG_GROUP
from tuner.local import offline_client
from tuner.local.training_process import DEFAULT_LOG_LAG, LOG_LAG_ENV

from tests.builders import continuous, logged, start_and_wait, training_jobs, tuning_request

pytestmark = pytest.mark.e2e
NAME = "lag-e2e"


def _last_ingestion_ms(lt, training_job: str) -> int:
    """When the last line of a job's primary stream reached (moto's) CloudWatch Logs."""
    logs = lt.session.client("logs")
    streams = logs.describe_log_streams(logGroupName=TRAINING_LOG_GROUP,
                                        logStreamNamePrefix=f"{training_job}/algo-1-")["logStreams"]
    events = logs.get_log_events(logGroupName=TRAINING_LOG_GROUP, startFromHead=True,
                                 logStreamName=streams[0]["logStreamName"])["events"]
    return max(e["ingestionTime"] for e in events)


@pytest.fixture(scope="module")
def lagged_job(local_tuner):
    # GIVEN the offline loop with its default delivery lag
    assert LOG_LAG_ENV in os.environ or local_tuner.log_lag == DEFAULT_LOG_LAG
    assert local_tuner.log_lag >= 0.5
    request = tuning_request(NAME, source="quick", ranges=continuous(0.5, 6), max_jobs=4, max_parallel=2,
                             static={"epochs": "4"})
    # WHEN a tuning job runs through it
    describe = start_and_wait(local_tuner, request, timeout=600)
    return describe, training_jobs(local_tuner, NAME)


def test_every_trial_records_the_last_value_its_script_printed(local_tuner, lagged_job):
    describe, jobs = lagged_job
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert len(jobs) == 4 and describe["ObjectiveStatusCounters"]["Succeeded"] == 4
    sm = local_tuner.session.client("sagemaker")
    late = 0
    for job in jobs:
        name = job["TrainingJobName"]
        printed = logged(local_tuner, name)  # every line, read after the stand-in went idle
        assert len(printed) == 4
        # THEN the recorded objective is exactly the last value printed, for every trial, and the
        # recorded series (what early stopping and Hyperband compare with) is every value printed
        assert job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == printed[-1]
        assert local_tuner.service.store.get_trial(NAME, int(name.split("-")[-2])).series == printed
        described = sm.describe_training_job(TrainingJobName=name)
        assert described["FinalMetricDataList"][0]["MetricName"] == "loss"
        assert described["FinalMetricDataList"][0]["Value"] == printed[-1]
        end_ms = described["TrainingEndTime"].timestamp() * 1000
        late += _last_ingestion_ms(local_tuner, name) > end_ms
    # and the lag was real: the last lines of every job reached CloudWatch Logs after it had ended
    assert late == len(jobs)
    best = describe["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(
        j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs)


def test_training_job_analytics_returns_rows_offline(local_tuner, lagged_job):
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sagemaker = pytest.importorskip("sagemaker", reason="the SageMaker SDK is a test dependency")
    from sagemaker.analytics import TrainingJobAnalytics

    _, jobs = lagged_job
    name = jobs[0]["TrainingJobName"]
    printed = logged(local_tuner, name)
    with offline_client(local_tuner=local_tuner, sweep_interval=2.0) as sm:
        session = sagemaker.Session(boto_session=sm.session, sagemaker_client=sm)
        # WHEN the SDK reads the job's training curve (CloudWatch, /aws/sagemaker/TrainingJobs)
        df = TrainingJobAnalytics(name, metric_names=["loss"], sagemaker_session=session).dataframe()
        by_second = TrainingJobAnalytics(name, metric_names=["loss"], sagemaker_session=session,
                                         period=1).dataframe()
    # THEN it has rows: averages of the values the script printed, per period
    assert len(df) >= 1 and set(df["metric_name"]) == {"loss"}
    assert set(df.columns) == {"timestamp", "metric_name", "value"}
    for frame in (df, by_second):
        assert frame["value"].between(min(printed) - 1e-9, max(printed) + 1e-9).all()
    assert len(by_second) >= len(df)
