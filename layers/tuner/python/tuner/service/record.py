"""Recording a finished training job: its metrics, its status, a retry, and the lap's wake-up.

Called by the training_event Lambda (SageMaker's "Training Job State Change" event), by the
monitor's sweep when that event was lost, and by a lap whose wait timed out. Idempotent: the
result is written conditionally (only while the trial is unrecorded), so a duplicated event or
a second caller changes nothing, and a token already used is not an error.

Metrics as AWS delivers them (docs/reliability.md, "Metrics as AWS delivers them"): CloudWatch
Logs lines arrive seconds after the job's status changed, so the logs read at the Completed event
can lack the last values. The final value of a metric is therefore ``DescribeTrainingJob``'s
``FinalMetricDataList`` entry when there is a usable one (a finite value, not stale: see
``reported_finals``). The intermediate series still comes from the logs (the primary host's), and
early stopping and Hyperband compare later trials with it step by step, so it must be whole too:
for a Completed or Stopped job the logs are re-read, within a bound (``LogSettle``), until they
reach the list's final value, or, when the list has no usable entry for the objective, until two
reads agree. A series that never reaches the list's value ends with it.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tuner.core.metrics import MetricSeries, parse_metrics, thin
from tuner.core.naming import parse_training_job_name, training_job_name
from tuner.core.records import COMPLETED, FAILED, IN_PROGRESS, PENDING, STOPPED, TERMINAL_TRIAL, TrialRecord
from tuner.service.jobs import RETRYABLE_FAILURE, definition_named, iso_or_none, load
from tuner.service.limits import Limits
from tuner.service.ports import Ports

log = logging.getLogger(__name__)

#: A FinalMetricDataList entry this much older than the job's last Training phase is stale
#: (timestamps are compared after rounding on the way, hence the tolerance).
STALE_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class LogSettle:
    """How long the logs of a finished (Completed or Stopped) job are given to arrive.

    The logs are read; they are settled when their objective series ends with FinalMetricDataList's
    final value, or, when the list has no usable entry for the objective, when two reads in a row
    find the same values (for every metric: how many values, the last one, any error). Until then,
    and while less than ``max_wait`` seconds have passed since the job ended (``TrainingEndTime``,
    else ``LastModifiedTime``, on the service's clock), they are read again every ``interval``
    seconds. So a job that ended ``max_wait`` seconds ago or earlier (a lost event recovered by the
    sweeper, a lap that timed out) is read once, and no recording sleeps more than ``max_wait``
    seconds in all. A describe without either time, and a Failed job, are read once. The SageMaker
    Python SDK pauses (``poll``, 10 s by default) and reads once more after a job ended, for the
    same reason (``sagemaker.session._logs_for_job``).
    """

    interval: float = 1.0
    max_wait: float = 15.0


@dataclass
class _Metrics:
    """What a finished job's metrics give the trial: the objective's final value and series, the
    final value of every metric, and why the objective could not be read (None: it could, or the
    job need not have one)."""

    final: float | None
    series: list[float]
    finals: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class RecordResult:
    def __init__(self, ports: Ports, limits: Limits, *, settle: LogSettle | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ports = ports
        self.limits = limits
        self.settle = settle or LogSettle()
        self.sleep = sleep

    def record_training_job(self, training_job: str) -> dict[str, Any]:
        """Record a finished training job (idempotent) and wake the lap waiting on it."""
        parsed = parse_training_job_name(training_job)
        if parsed is None:
            return {"Ignored": f"{training_job} is not a tuner training job"}
        name, n = parsed
        store = self.ports.store
        trial = store.get_trial(name, n)
        if trial is None or trial.training_job_name != training_job:
            return {"Ignored": f"{training_job} belongs to no stored trial"}
        if not trial.recorded:
            desc = self.ports.backend.describe(training_job)
            if desc is None or desc.get("TrainingJobStatus") not in TERMINAL_TRIAL:
                return {"Ignored": f"{training_job} is not finished"}
            written = self._write_result(trial, desc)
            trial = store.get_trial(name, n) or trial
            if not written and trial.training_job_name != training_job:
                # another recorder of this attempt moved the trial on (its retry): that lap is not ours to wake
                return {"Ignored": f"{training_job} is an earlier attempt of trial {n} of {name}, now "
                                   f"{trial.training_job_name}"}
            if trial.recorded:
                self.limits.check_completion(name)
        if trial.recorded and trial.status == FAILED:
            # Fail fast (core.fail_fast), before the lap is woken; on a duplicated event too: the
            # recorder that wrote the result may have died before this check.
            job, req = load(store, name)
            self.limits.check_no_success(job, req)
        woke = bool(trial.task_token) and self.ports.tokens.succeed(
            str(trial.task_token), {"Done": False, "TrialNumber": n}
        )
        if woke and trial.recorded:  # delivered: the sweeper need not send it again
            store.update_trial(name, n, task_token=None)
        return {"TrainingJobName": training_job, "Status": trial.status, "LapWoken": woke}

    def _write_result(self, trial: TrialRecord, desc: Mapping[str, Any]) -> bool:
        """Write the attempt's result, or schedule its retry; False when the write did not take
        (the trial was recorded, or moved to another attempt, since it was read)."""
        job, req = load(self.ports.store, trial.job)
        definition = definition_named(req, trial.definition)
        status = desc["TrainingJobStatus"]
        metrics = self._metrics(trial.training_job_name, definition.objective_metric,
                                definition.metric_definitions, desc)
        final = metrics.final
        succeeded = final is not None and status in (COMPLETED, STOPPED)
        failure = desc.get("FailureReason")
        retryable = status == FAILED and (failure or "").startswith(RETRYABLE_FAILURE)
        if retryable and trial.attempt < definition.retry_attempts:
            if job.status == IN_PROGRESS and not job.stop_requested and not job.completion_reason:
                return self._schedule_retry(trial, desc, failure or RETRYABLE_FAILURE)
        if status in (COMPLETED, STOPPED) and metrics.error:
            failure = metrics.error  # a refused regex or an exhausted parsing budget, said plainly
        elif status == COMPLETED and final is None:
            failure = (
                f"The training job emitted no value for the objective metric "
                f"{definition.objective_metric!r} (regex {definition.objective_regex!r}); "
                "print it to stdout or stderr, or fix the MetricDefinitions regex"
            )
        return self.ports.store.update_trial(
            trial.job,
            trial.number,
            only_unrecorded=True,
            attempt_of=trial.training_job_name,  # a recorder that read an earlier attempt writes nothing
            status=status,
            failure_reason=failure,
            final_objective=final if succeeded else None,
            objective_status="Succeeded" if succeeded else "Failed",
            metrics=metrics.finals,
            series=thin(metrics.series),
            retryable=retryable,
            billable_seconds=billable_seconds(desc),  # the budget's spend (core.budget)
            created=iso_or_none(desc.get("CreationTime")) or trial.created,
            started=iso_or_none(desc.get("TrainingStartTime")) or trial.started,
            ended=iso_or_none(desc.get("TrainingEndTime") or desc.get("LastModifiedTime")) or self.ports.now(),
            recorded=True,
            log_cursor={},  # the monitor's log position: of no use once recorded (and up to ~40 KB)
        )

    def _metrics(self, job: str, objective_metric: str, definitions: Sequence[Mapping[str, str]],
                 desc: Mapping[str, Any]) -> _Metrics:
        """The job's metrics: final values from FinalMetricDataList where it has usable ones, the
        rest and the objective's series from the logs (settled first for a Completed or Stopped
        job)."""
        reported = reported_finals(desc)
        settle = desc.get("TrainingJobStatus") in (COMPLETED, STOPPED)
        series = self._read_logs(job, definitions, objective_metric, reported.get(objective_metric),
                                 desc if settle else None)
        objective = series.get(objective_metric) or MetricSeries()
        finals = {k: v.final for k, v in series.items() if v.final is not None}
        finals.update({k: v for k, v in reported.items() if k in series or k == objective_metric})
        if objective_metric not in reported:
            return _Metrics(objective.final, objective.values, finals, objective.error)
        final = reported[objective_metric]
        values = objective.values if objective.values[-1:] == [final] else [*objective.values, final]
        return _Metrics(final, values, finals)

    def _read_logs(self, job: str, definitions: Sequence[Mapping[str, str]], objective_metric: str,
                   final: float | None, settle_for: Mapping[str, Any] | None) -> dict[str, MetricSeries]:
        """Parse the job's log lines (the primary host's); with ``settle_for`` (its describe), re-read
        them until they settle (``LogSettle``): until the objective reaches ``final`` (the list's
        value), or, without one, until two reads agree."""

        def reached(parsed: dict[str, MetricSeries]) -> bool:
            objective = parsed.get(objective_metric)
            return final is not None and objective is not None and objective.final == final

        series = parse_metrics(self.ports.logs.lines(job), definitions)
        ended = None if settle_for is None else _ended(settle_for)
        if ended is None or reached(series):
            return series
        deadline = ended + timedelta(seconds=self.settle.max_wait)
        rounds = math.ceil(self.settle.max_wait / self.settle.interval) if self.settle.interval > 0 else 1
        for _ in range(rounds):
            left = (deadline - self.ports.clock()).total_seconds()
            if left <= 0 or any(s.error for s in series.values()):
                break
            self.sleep(min(self.settle.interval, left))
            again = parse_metrics(self.ports.logs.lines(job), definitions)
            if reached(again) or (final is None and _signature(again) == _signature(series)):
                return again
            log.info("the logs of %s were still arriving; reading them again", job)
            series = again
        return series

    def _schedule_retry(self, trial: TrialRecord, desc: Mapping[str, Any], failure: str) -> bool:
        """Replace the failed attempt by a new training job for the same trial (same lap).

        AMT retries inside the same training job; a SageMaker name cannot be reused, so each retry
        is a new job ``<tuning-job>-<NNN>-<hash>`` whose hash also covers the attempt number.
        """
        attempt = trial.attempt + 1
        new_name = training_job_name(trial.job, trial.number, {**trial.params, "__attempt__": str(attempt)})
        history = [*trial.attempts, {
            "TrainingJobName": trial.training_job_name,
            "FailureReason": failure,
            "BillableTimeInSeconds": billable_seconds(desc),
            "TrainingStartTime": iso_or_none(desc.get("TrainingStartTime")) or trial.started,
            "TrainingEndTime": iso_or_none(desc.get("TrainingEndTime") or desc.get("LastModifiedTime"))
            or self.ports.now(),
        }]
        scheduled = self.ports.store.update_trial(
            trial.job, trial.number, only_unrecorded=True, attempt_of=trial.training_job_name,
            attempt=attempt, attempts=history,
            training_job_name=new_name, status=PENDING, started=None, retryable=True,
            failure_reason=None, retry_claim=None,
        )
        if scheduled:
            log.info("retrying trial %s of %s as %s (attempt %d)", trial.number, trial.job, new_name, attempt)
        return scheduled


# ---- FinalMetricDataList and times ----------------------------------------------------------------
def reported_finals(desc: Mapping[str, Any]) -> dict[str, float]:
    """The usable final values of ``DescribeTrainingJob``'s ``FinalMetricDataList``, by metric.

    An entry is left out when its value is not a finite number (never an objective), or when it is
    **stale**: its ``Timestamp`` is more than ``STALE_TOLERANCE`` older than the start of the job's
    last ``Training`` phase (the last ``SecondaryStatusTransitions`` entry with that status, else
    ``TrainingStartTime``): it was emitted by an earlier run of the job (a restart), not by the run
    whose end is being recorded. An entry without a Timestamp is not stale.
    """
    started = _last_training_start(desc)
    out: dict[str, float] = {}
    for entry in desc.get("FinalMetricDataList") or []:
        name, value = entry.get("MetricName"), entry.get("Value")
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            continue
        stamp = _moment(entry.get("Timestamp"))
        if started is not None and stamp is not None and stamp < started - STALE_TOLERANCE:
            continue
        out[name] = float(value)
    return out


def billable_seconds(desc: Mapping[str, Any]) -> int | None:
    """DescribeTrainingJob's ``BillableTimeInSeconds`` (None when it has none, e.g. failed at once)."""
    value = desc.get("BillableTimeInSeconds")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _last_training_start(desc: Mapping[str, Any]) -> datetime | None:
    starts = [_moment(t.get("StartTime")) for t in desc.get("SecondaryStatusTransitions") or []
              if t.get("Status") == "Training"]
    known = [s for s in starts if s is not None]
    return max(known) if known else _moment(desc.get("TrainingStartTime"))


def _ended(desc: Mapping[str, Any]) -> datetime | None:
    return _moment(desc.get("TrainingEndTime")) or _moment(desc.get("LastModifiedTime"))


def _moment(value: Any) -> datetime | None:
    """A time from a describe (datetime, ISO-8601 text or epoch seconds/milliseconds), in UTC."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        moment = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _signature(series: Mapping[str, MetricSeries]) -> list[tuple[str, int, float | None, str | None]]:
    """What two reads of the logs must agree on to be settled."""
    return [(name, s.count, s.final, s.error) for name, s in sorted(series.items())]
