"""A tuning job's life after create: stop requests, early ends, the final status, a failure.

Every change of the job's status goes through here and publishes the tuner's state-change event
(``Queries.state_change_detail``), so the events follow the job exactly once per change.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from tuner.core import fail_fast
from tuner.core.records import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    STOPPED,
    STOPPING,
    TERMINAL_JOB,
    TrialRecord,
)
from tuner.core.results import to_json
from tuner.core.tuner_events import NOT_PUBLISHED
from tuner.errors import ValidationError
from tuner.service.jobs import failure_reason, give_up_retry, require_job
from tuner.service.ports import Ports
from tuner.service.queries import Queries

log = logging.getLogger(__name__)

#: Why a trial was stopped when the user stopped the tuning job.
STOP_TUNING_JOB = "StopTuningJob"


class Lifecycle:
    def __init__(self, ports: Ports, queries: Queries) -> None:
        self.ports = ports
        self.queries = queries

    def publish(self, name: str) -> None:
        """Send the tuning job's state-change event; an event is a notification, never a failure.

        The publisher retries an entry EventBridge refused with a retryable code; an event still
        lost is logged at ERROR with the token ``tuner_events.NOT_PUBLISHED``, which the stack's
        metric filter counts and alarms on (docs/events-security.md)."""

        try:
            detail = json.loads(to_json(self.queries.state_change_detail(name)))
            self.ports.events.tuning_job_state_change(detail, [detail["HyperParameterTuningJobArn"]])
        except Exception as exc:
            log.exception("%s: the state-change event of tuning job %s was not published: %s", NOT_PUBLISHED, name, exc)

    def end_early(self, name: str, reason: str, *, stopping: bool = False, converged: bool = False,
                  why: str | None = None) -> bool:
        """A completion criterion (or MaxRuntimeInSeconds, or failing fast) is met: no new trials, stop
        the running ones (``why``, else ``reason``, kept on their trials).

        Completion criteria end the job Completed; MaxRuntimeInSeconds moves it to Stopping (then
        Stopped), like a training job that exceeds its own MaxRuntimeInSeconds; failing fast
        (``core.fail_fast``) ends it Failed. False when another caller ended it first.
        """
        current = self.ports.store.get_job(name)
        if current is None or current.completion_reason:
            return False
        values: dict[str, Any] = {"completion_reason": reason}
        if stopping:
            values["status"] = STOPPING
        if converged:
            values["convergence_detected"] = self.ports.now()
        if not self.ports.store.update_job(name, expect_status=(IN_PROGRESS,), **values):
            return False
        log.info("tuning job %s ends early: %s", name, reason)
        if stopping:
            self.publish(name)  # Stopping (MaxRuntimeInSeconds)
        self.stop_running(name, why or reason)
        return True

    def stop(self, name: str) -> None:
        """StopHyperParameterTuningJob: Stopping now, Stopped when the running jobs have ended."""
        job = require_job(self.ports.store, name)
        if job.status in TERMINAL_JOB:
            raise ValidationError(f"the tuning job is {job.status} already; only a running job can be stopped")
        if self.ports.store.update_job(name, expect_status=(IN_PROGRESS,), status=STOPPING, stop_requested=True):
            self.publish(name)  # Stopping
        self.stop_running(name, STOP_TUNING_JOB)

    def stop_running(self, name: str, why: str | None = None) -> None:
        """Stop the job's running training jobs: its open trials, each read again (the index lags a
        moment: one started just now can still show Pending there)."""
        for found in self.ports.store.open_trials(name):
            if found.recorded:
                continue
            t = self.ports.store.get_trial(name, found.number)
            if t is not None and t.status == IN_PROGRESS and not t.recorded:
                self.stop_trial(t, why)

    def stop_trial(self, trial: TrialRecord, why: str | None) -> None:
        """StopTrainingJob; the reason stays on the trial (it ends Stopped, keeping its last value)."""
        if why and not trial.stopped_by:
            self.ports.store.update_trial(trial.job, trial.number, only_unrecorded=True, stopped_by=why)
        self.ports.backend.stop(trial.training_job_name)

    def finalize(self, name: str) -> dict[str, Any]:
        """The laps are done: the final status (Completed, Stopped, or Failed when no trial scored or
        the job failed fast: ``core.fail_fast``, whose reason is then the FailureReason)."""
        job = require_job(self.ports.store, name)
        if job.status in TERMINAL_JOB:
            self.release_slot(name)  # a retried step: its first run may have ended before giving it back
            return {"TuningJobName": name, "Status": job.status}
        trials = self.ports.store.list_trials(name)
        unstarted = [t for t in trials if t.status == PENDING and not t.recorded]
        why = fail_fast.REASON_NO_SUCCESS if fail_fast.failed_fast(job.completion_reason) else job.completion_reason
        for t in unstarted:  # claimed but never started (the job ended first)
            if t.attempts:  # a retry: ends as its last attempt
                give_up_retry(self.ports.store, t, why or "the tuning job ended", self.ports.now())
            else:
                self.ports.store.update_trial(
                    name, t.number, only_unrecorded=True, status=STOPPED, objective_status="Failed",
                    recorded=True, ended=self.ports.now(), stopped_by=why or STOP_TUNING_JOB,
                    retryable=False,
                )
        if unstarted:  # read again only when this changed trials (the list is the job's whole history)
            trials = self.ports.store.list_trials(name)
        reason = None
        if job.status == STOPPING or job.stop_requested:
            status = STOPPED
        elif fail_fast.failed_fast(job.completion_reason):
            status, reason = FAILED, job.completion_reason  # Limits.check_no_success ended it
        elif trials and all(t.objective_status == "Failed" for t in trials):
            status = FAILED
            first = next((t.failure_reason for t in trials if t.failure_reason), "no objective metric")
            reason = f"All {len(trials)} training jobs failed to produce the objective metric; the first: {first}"
        else:
            status = COMPLETED
        self.ports.store.update_job(
            name, expect_status=(IN_PROGRESS, STOPPING), status=status, ended=self.ports.now(), failure_reason=reason
        )
        self.release_slot(name)
        self.publish(name)
        return {"TuningJobName": name, "Status": status}

    def release_slot(self, name: str) -> None:
        """Give back the job's slot of the deployment's concurrent tuning jobs (``tuner.core.quotas``;
        ``CreateJob`` took it). Called wherever the job reaches a terminal status, and again by a
        retried step; the store gives a slot back once (``Store.release_job_slot``)."""
        if self.ports.store.release_job_slot(name):
            log.info("tuning job %s gave back its slot of concurrent tuning jobs", name)

    def fail(self, name: str, error: Mapping[str, Any] | None) -> dict[str, Any]:
        """Mark the job Failed with the state machine's error; stop its running training jobs."""
        reason = failure_reason(error)
        if self.ports.store.get_job(name) is None:
            self.release_slot(name)  # the create step took it, then failed before storing the job
            return {"TuningJobName": name, "Status": FAILED, "FailureReason": reason}
        changed = self.ports.store.update_job(
            name, expect_status=(IN_PROGRESS, STOPPING), status=FAILED, ended=self.ports.now(), failure_reason=reason
        )
        self.release_slot(name)  # Failed now, or terminal already: either way it runs no more
        self.stop_running(name)
        if changed:  # a failed lap marks the job first; the parent's MarkFailed then changes nothing
            self.publish(name)
        return {"TuningJobName": name, "Status": FAILED, "FailureReason": reason}
