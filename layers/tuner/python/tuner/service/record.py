"""Recording a finished training job: its metrics, its status, a retry, and the lap's wake-up.

Called by the training_event Lambda (SageMaker's "Training Job State Change" event), by the
monitor's sweep when that event was lost, and by a lap whose wait timed out. Idempotent: the
result is written conditionally (only while the trial is unrecorded), so a duplicated event or
a second caller changes nothing, and a token already used is not an error.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tuner.core.metrics import parse_metrics, thin
from tuner.core.naming import parse_training_job_name, training_job_name
from tuner.core.records import COMPLETED, FAILED, IN_PROGRESS, PENDING, STOPPED, TERMINAL_TRIAL, TrialRecord
from tuner.service.jobs import RETRYABLE_FAILURE, definition_named, iso_or_none, load
from tuner.service.limits import Limits
from tuner.service.ports import Ports

log = logging.getLogger(__name__)


class RecordResult:
    def __init__(self, ports: Ports, limits: Limits) -> None:
        self.ports = ports
        self.limits = limits

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
            self._write_result(trial, desc)
            trial = store.get_trial(name, n) or trial
            if trial.recorded:
                self.limits.check_completion(name)
        woke = bool(trial.task_token) and self.ports.tokens.succeed(
            str(trial.task_token), {"Done": False, "TrialNumber": n}
        )
        if woke and trial.recorded:  # delivered: the sweeper need not send it again
            store.update_trial(name, n, task_token=None)
        return {"TrainingJobName": training_job, "Status": trial.status, "LapWoken": woke}

    def _write_result(self, trial: TrialRecord, desc: Mapping[str, Any]) -> None:
        job, req = load(self.ports.store, trial.job)
        definition = definition_named(req, trial.definition)
        status = desc["TrainingJobStatus"]
        series = parse_metrics(self.ports.logs.lines(trial.training_job_name), definition.metric_definitions)
        objective = series[definition.objective_metric]
        final = objective.final
        succeeded = final is not None and status in (COMPLETED, STOPPED)
        failure = desc.get("FailureReason")
        retryable = status == FAILED and (failure or "").startswith(RETRYABLE_FAILURE)
        if retryable and trial.attempt < definition.retry_attempts:
            if job.status == IN_PROGRESS and not job.stop_requested and not job.completion_reason:
                self._schedule_retry(trial, desc, failure or RETRYABLE_FAILURE)
                return
        if status in (COMPLETED, STOPPED) and objective.error:
            failure = objective.error  # a refused regex or an exhausted parsing budget, said plainly
        elif status == COMPLETED and final is None:
            failure = (
                f"The training job emitted no value for the objective metric "
                f"{definition.objective_metric!r} (regex {definition.objective_regex!r}); "
                "print it to stdout or stderr, or fix the MetricDefinitions regex"
            )
        self.ports.store.update_trial(
            trial.job,
            trial.number,
            only_unrecorded=True,
            status=status,
            failure_reason=failure,
            final_objective=final if succeeded else None,
            objective_status="Succeeded" if succeeded else "Failed",
            metrics={k: v.final for k, v in series.items() if v.final is not None},
            series=thin(objective.values),
            retryable=retryable,
            created=iso_or_none(desc.get("CreationTime")) or trial.created,
            started=iso_or_none(desc.get("TrainingStartTime")) or trial.started,
            ended=iso_or_none(desc.get("TrainingEndTime") or desc.get("LastModifiedTime")) or self.ports.now(),
            recorded=True,
        )

    def _schedule_retry(self, trial: TrialRecord, desc: Mapping[str, Any], failure: str) -> None:
        """Replace the failed attempt by a new training job for the same trial (same lap).

        AMT retries inside the same training job; a SageMaker name cannot be reused, so each retry
        is a new job ``<tuning-job>-<NNN>-<hash>`` whose hash also covers the attempt number.
        """
        attempt = trial.attempt + 1
        new_name = training_job_name(trial.job, trial.number, {**trial.params, "__attempt__": str(attempt)})
        history = [*trial.attempts, {
            "TrainingJobName": trial.training_job_name,
            "FailureReason": failure,
            "TrainingStartTime": iso_or_none(desc.get("TrainingStartTime")) or trial.started,
            "TrainingEndTime": iso_or_none(desc.get("TrainingEndTime") or desc.get("LastModifiedTime"))
            or self.ports.now(),
        }]
        self.ports.store.update_trial(
            trial.job, trial.number, only_unrecorded=True, attempt=attempt, attempts=history,
            training_job_name=new_name, status=PENDING, started=None, retryable=True,
            failure_reason=None, retry_claim=None,
        )
        log.info("retrying trial %s of %s as %s (attempt %d)", trial.number, trial.job, new_name, attempt)
