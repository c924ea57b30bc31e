"""Recording a finished job's metrics as AWS delivers them, on fakes: FinalMetricDataList gives the
final value when it has a usable one; the logs (the series, or the final value without the list) are
given time to settle, within a bound."""
from __future__ import annotations

from datetime import timedelta

import pytest
from tuner.service.record import LogSettle, RecordResult, reported_finals

from tests.builders import tuning_request
from tests.fakes import T0, FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"


class Setup:
    """One started trial of a one-job tuning job, and a recorder whose sleep moves the fake clock."""

    def __init__(self, settle: LogSettle | None = None) -> None:
        self.aws = FakeAws()
        self.aws.service.create_job(tuning_request("job", max_jobs=1), EXEC + "job")
        self.training = self.aws.service.next_trial("job", 1, 0, "token")["TrainingJobName"]
        self.slept: list[float] = []
        self.recorder = RecordResult(self.aws.service.ports, self.aws.service.limits,
                                     settle=settle or LogSettle(interval=1.0, max_wait=15.0), sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.aws.clock.advance(seconds)

    def finish(self, status: str = "Completed", *, final: float | None = None, ended_ago: float = 0.0,
               **fields) -> None:
        if final is not None:
            fields["FinalMetricDataList"] = [{"MetricName": "loss", "Value": final, "Timestamp": self.aws.clock()}]
        self.aws.backend.finish(self.training, status, TrainingEndTime=self.aws.clock() - timedelta(seconds=ended_ago),
                                **fields)

    def record(self):
        self.recorder.record_training_job(self.training)
        return self.aws.store.get_trial("job", 1)


def test_final_metric_data_list_gives_the_final_value_and_the_logs_catch_up_for_the_series():
    s = Setup()
    # GIVEN logs whose last lines have not arrived yet, and SageMaker's final value
    s.aws.logs.by_job[s.training] = ["epoch 1 loss: 0.9"]
    s.aws.logs.late[s.training] = [["epoch 2 loss: 0.5"], ["epoch 3 loss: 0.4"]]
    s.finish(final=0.4)
    # WHEN the job is recorded at its Completed event
    trial = s.record()
    # THEN the final value is FinalMetricDataList's, and the logs were re-read until they reached it
    assert (trial.final_objective, trial.objective_status, trial.status) == (0.4, "Succeeded", "Completed")
    assert trial.series == [0.9, 0.5, 0.4] and trial.metrics == {"loss": 0.4}
    assert s.slept == [1.0, 1.0] and s.aws.logs.reads == [(s.training, "algo-1")] * 3


def test_final_metric_data_list_wins_when_the_logs_never_reach_it():
    s = Setup(LogSettle(interval=1.0, max_wait=4.0))
    s.aws.logs.by_job[s.training] = ["loss: 0.9", "loss: 0.7"]
    s.finish(final=0.6)
    trial = s.record()
    # waited at most max_wait for the logs, then kept the list's value and ended the series with it
    assert trial.final_objective == 0.6 and trial.series == [0.9, 0.7, 0.6]
    assert s.slept == [1.0] * 4


def test_complete_logs_that_end_with_the_list_value_are_read_once():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.9", "loss: 0.4"]
    s.finish(final=0.4)
    assert s.record().series == [0.9, 0.4] and s.slept == []


def test_a_list_value_with_logs_from_long_ago_is_not_waited_for():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.9"]
    s.finish(final=0.4, ended_ago=60.0)
    trial = s.record()
    assert trial.final_objective == 0.4 and trial.series == [0.9, 0.4] and s.slept == []


def test_without_the_objective_in_the_list_the_logs_are_read_until_two_reads_agree():
    s = Setup()
    # GIVEN no FinalMetricDataList, and the last line landing after the first read
    s.aws.logs.by_job[s.training] = ["loss: 0.9"]
    s.aws.logs.late[s.training] = [["loss: 0.3"]]
    s.finish()
    trial = s.record()
    # THEN the recorder read again until two reads agreed, and took the settled last value
    assert trial.final_objective == 0.3 and trial.series == [0.9, 0.3]
    assert s.slept == [1.0, 1.0] and len(s.aws.logs.reads) == 3


def test_settling_is_bounded_by_max_wait_after_the_job_ended():
    s = Setup(LogSettle(interval=2.0, max_wait=7.0))
    # GIVEN logs that keep changing on every read (never settle)
    s.aws.logs.by_job[s.training] = ["loss: 1.0"]
    s.aws.logs.late[s.training] = [[f"loss: 0.{i}"] for i in range(9, 0, -1)]
    s.finish(ended_ago=1.0)
    trial = s.record()
    # THEN it waited at most max_wait after the job's end (1 s had passed), and recorded the last read
    assert sum(s.slept) == pytest.approx(6.0) and s.slept == [2.0, 2.0, 2.0]
    assert trial.final_objective == 0.7 and trial.objective_status == "Succeeded"


def test_a_job_that_ended_long_ago_is_read_once():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.8"]
    s.aws.logs.late[s.training] = [["loss: 0.2"]]  # would land after the read; the settle rule says it cannot
    s.finish(ended_ago=60.0)
    assert s.record().final_objective == 0.8 and s.slept == [] and len(s.aws.logs.reads) == 1


def test_a_describe_without_an_end_time_is_read_once():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.8"]
    s.aws.backend.finish(s.training)  # the fake's describe: no TrainingEndTime, no LastModifiedTime
    assert s.record().final_objective == 0.8 and s.slept == []


def test_settled_logs_without_the_objective_fail_the_objective_after_the_wait():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["training without printing the objective"]
    s.finish()
    trial = s.record()
    assert trial.objective_status == "Failed" and trial.final_objective is None
    assert "emitted no value" in trial.failure_reason
    assert s.slept == [1.0]  # two reads agreed: nothing was still arriving


def test_a_failed_job_is_not_waited_for():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.5"]
    s.finish("Failed", FailureReason="AlgorithmError: boom")
    trial = s.record()
    assert trial.status == "Failed" and trial.final_objective is None and s.slept == []


def test_a_stopped_job_takes_its_final_value_from_the_list_too():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.9"]
    s.aws.logs.late[s.training] = [["loss: 0.8"]]
    s.finish("Stopped", final=0.8)
    trial = s.record()
    assert (trial.status, trial.final_objective, trial.objective_status) == ("Stopped", 0.8, "Succeeded")
    assert trial.series == [0.9, 0.8] and s.slept == [1.0]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.3", True, None])
def test_an_unusable_list_value_is_ignored_and_the_logs_decide(value):
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.5"]
    s.finish(FinalMetricDataList=[{"MetricName": "loss", "Value": value, "Timestamp": T0}])
    assert s.record().final_objective == 0.5 and s.slept == [1.0]


def test_a_stale_list_entry_from_before_the_last_training_phase_is_ignored():
    s = Setup()
    s.aws.logs.by_job[s.training] = ["loss: 0.5"]
    restarted = s.aws.clock() - timedelta(seconds=30)
    s.finish(
        FinalMetricDataList=[{"MetricName": "loss", "Value": 0.1, "Timestamp": restarted - timedelta(seconds=60)}],
        SecondaryStatusTransitions=[
            {"Status": "Training", "StartTime": restarted - timedelta(seconds=300)},
            {"Status": "Interrupted", "StartTime": restarted - timedelta(seconds=120)},
            {"Status": "Training", "StartTime": restarted},
        ],
    )
    assert s.record().final_objective == 0.5


def test_reported_finals_rules():
    start = T0
    desc = {
        "TrainingStartTime": start,
        "FinalMetricDataList": [
            {"MetricName": "loss", "Value": 0.25, "Timestamp": start + timedelta(seconds=5)},
            {"MetricName": "acc", "Value": 1, "Timestamp": start - timedelta(milliseconds=500)},  # within tolerance
            {"MetricName": "old", "Value": 2.0, "Timestamp": start - timedelta(seconds=5)},  # stale
            {"MetricName": "bad", "Value": float("nan")},
            {"MetricName": "untimed", "Value": 3.0},
        ],
    }
    assert reported_finals(desc) == {"loss": 0.25, "acc": 1.0, "untimed": 3.0}
    assert reported_finals({}) == {}
    # times as the event gives them (epoch milliseconds) or as text work as well
    ms = int(start.timestamp() * 1000)
    assert reported_finals({"TrainingStartTime": ms, "FinalMetricDataList": [
        {"MetricName": "loss", "Value": 0.5, "Timestamp": ms - 10_000}]}) == {}
    assert reported_finals({"TrainingStartTime": start.isoformat(), "FinalMetricDataList": [
        {"MetricName": "loss", "Value": 0.5, "Timestamp": (start + timedelta(seconds=1)).isoformat()}]}) == {
        "loss": 0.5}
