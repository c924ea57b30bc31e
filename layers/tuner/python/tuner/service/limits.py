"""The job-level limits: ``TuningJobCompletionCriteria`` and ``MaxRuntimeInSeconds``.

Checked when a result is recorded, by every lap before it claims a trial, and by the monitor's
sweep; each check is idempotent (the first caller to end the job wins, the others see it ended).
"""
from __future__ import annotations

from datetime import datetime

from tuner.core import completion
from tuner.core.records import IN_PROGRESS, JobRecord
from tuner.core.request import TuningRequest
from tuner.service.jobs import load
from tuner.service.lifecycle import Lifecycle
from tuner.service.ports import Ports


class Limits:
    def __init__(self, ports: Ports, lifecycle: Lifecycle) -> None:
        self.ports = ports
        self.lifecycle = lifecycle

    def runtime_exceeded(self, job: JobRecord, req: TuningRequest) -> bool:
        if not req.max_runtime_seconds:
            return False
        created = datetime.fromisoformat(job.created)
        return (self.ports.clock() - created).total_seconds() >= req.max_runtime_seconds

    def enforce_runtime(self, job: JobRecord, req: TuningRequest) -> bool:
        """End the job (Stopping) when MaxRuntimeInSeconds has passed; True when this call ended it."""
        if not self.runtime_exceeded(job, req):
            return False
        return self.lifecycle.end_early(job.name, completion.REASON_MAX_RUNTIME, stopping=True)

    def check_completion(self, name: str) -> str | None:
        """Apply TuningJobCompletionCriteria to the recorded trials; end the job early when met."""
        job, req = load(self.ports.store, name)
        if job.status != IN_PROGRESS or job.completion_reason or not req.completion_criteria:
            return job.completion_reason
        trials = self.ports.store.list_trials(name)
        reason = completion.completion_reason(req.completion_criteria, trials, req.maximize)
        if not reason:
            return None
        # Met: the reason, whoever ends the job first. A lap woken between a result's write and the
        # recorder's own check races it here; the loser must still see the job ending, or it
        # claims one more trial.
        self.lifecycle.end_early(name, reason, converged=reason == completion.REASON_CONVERGED)
        return reason

    def stop_reason(self, job: JobRecord, req: TuningRequest) -> str | None:
        """Why a lap must claim no new trial (None: it may go on)."""
        if job.status != IN_PROGRESS or job.stop_requested:
            return job.completion_reason or f"tuning job is {job.status}"
        if job.completion_reason:
            return job.completion_reason
        if self.runtime_exceeded(job, req):
            self.lifecycle.end_early(job.name, completion.REASON_MAX_RUNTIME, stopping=True)
            return completion.REASON_MAX_RUNTIME
        # Checked here too, not only when a result is recorded: a lap can be woken (by the
        # sweeper) between the result's write and that check.
        return self.check_completion(job.name) if req.completion_criteria else None
