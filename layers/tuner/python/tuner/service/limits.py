"""The job-level limits: ``TuningJobCompletionCriteria``, ``MaxRuntimeInSeconds``, and failing fast
when no training job succeeds (``core.fail_fast``).

Checked when a result is recorded, by every lap before it claims a trial, and (the first two) by the
monitor's sweep; each check is idempotent (the first caller to end the job wins, the others see it
ended).
"""
from __future__ import annotations

from datetime import datetime

from tuner.core import completion, fail_fast
from tuner.core.records import IN_PROGRESS, JobRecord
from tuner.core.request import TuningRequest
from tuner.service.jobs import load
from tuner.service.lifecycle import Lifecycle
from tuner.service.ports import Ports

#: How many tuning jobs ``Limits`` remembers as having a succeeded trial (a bound on the memo).
SUCCEEDED_MEMO = 1024


class Limits:
    def __init__(self, ports: Ports, lifecycle: Lifecycle) -> None:
        self.ports = ports
        self.lifecycle = lifecycle
        # Tuning jobs (name, creation time) with a succeeded trial: the fail-fast rule can never hold
        # for them again (a recorded result never changes), so a lap need not list their trials.
        self._succeeded: set[tuple[str, str]] = set()

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

    def check_no_success(self, job: JobRecord, req: TuningRequest) -> str | None:
        """End the job when no training job succeeded after ``N`` attempts (``core.fail_fast``); its
        reason when the job ends (by this call or a racing one), else None.

        The job ends as a completion criterion ends it (``Lifecycle.end_early``: the reason stored,
        running training jobs stopped, no new trials); Finalize, once the laps are done, makes it
        Failed with the reason as its FailureReason, gives the slot back and sends the state-change
        event once. The first caller to store the reason wins (a conditional write); the others, a
        duplicated event or a second recorder, change nothing."""
        if job.status != IN_PROGRESS or job.stop_requested or job.completion_reason or _key(job) in self._succeeded:
            return None
        if job.next_trial < fail_fast.attempts_allowed(req.max_parallel):
            return None  # fewer trials claimed than attempts needed: no need to read them
        trials = self.ports.store.list_trials(job.name)
        if any(fail_fast.succeeded(t) for t in trials):
            if len(self._succeeded) >= SUCCEEDED_MEMO:
                self._succeeded.clear()
            self._succeeded.add(_key(job))
            return None
        reason = fail_fast.no_success_reason(trials, req.max_parallel, [d.name for d in req.definitions])
        if reason is None:
            return None
        if not self.lifecycle.end_early(job.name, reason, why=fail_fast.REASON_NO_SUCCESS):
            current = self.ports.store.get_job(job.name)  # ended by another caller: its reason
            return current.completion_reason if current is not None else None
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
        if req.completion_criteria and (reason := self.check_completion(job.name)):
            return reason
        return self.check_no_success(job, req)


def _key(job: JobRecord) -> tuple[str, str]:
    """A tuning job, told apart from an earlier one of the same name."""
    return job.name, job.created
