"""The lap's step: claim the next trial, propose it, start its training job, or retry one.

A lap is one child execution of the state machine's distributed Map. Its ``NextTrial`` task
waits on a task token; this use case stores the token on the trial before the training job
starts, so whoever sees the job end (the training_event Lambda, the sweeper, a re-run of this
step) can wake the lap. The step is idempotent per ``(lap, iteration)``: a retried or timed-out
step claims the same trial (the store's claim key), recognises a started training job by its
deterministic name, and completes the new token at once if the job has already ended.

A start refused by an account quota (``ResourceLimitExceeded``) is ``service.capacity``'s to decide:
the step then completes its own token with ``CapacityWaitSeconds`` and the lap waits in the state
machine before this step runs again for the same iteration, hence the same trial.

A budgeted job (``tuner:MaxSpendUSD``, ``core.budget``) claims a trial only when its predicted cost
fits beside the spent and the other trials' reservations; the prediction is reserved in the claim's
own conditional write (``Store.claim_trial(admit=...)``). A lap refused while others hold
reservations ends; the lap refused with none held ends the job (``Lifecycle.end_early``, the
budget's reason).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tuner.core.budget import Decision, budget_of, decide, prices_for
from tuner.core.capacity import CapacityWait
from tuner.core.cost import PriceTable
from tuner.core.laps import LAP_FULL
from tuner.core.naming import training_job_name
from tuner.core.records import IN_PROGRESS, PENDING, TERMINAL_TRIAL, JobRecord, TrialRecord
from tuner.core.request import TuningRequest
from tuner.errors import ResourceLimitExceededError
from tuner.service.capacity import CapacityWaits
from tuner.service.jobs import definition_named, give_up_retry, load
from tuner.service.lifecycle import STOP_TUNING_JOB
from tuner.service.limits import Limits
from tuner.service.ports import Ports
from tuner.service.proposals import Proposals
from tuner.service.record import RecordResult

MAX_JOBS_REACHED = "MaxNumberOfTrainingJobs reached"

log = logging.getLogger(__name__)


class LapStep:
    def __init__(
        self, ports: Ports, proposals: Proposals, recorder: RecordResult, limits: Limits, deployment: str | None = None
    ) -> None:
        self.ports = ports
        self.deployment = deployment  # the value of the tuner:deployment tag of the jobs it starts
        self.proposals = proposals
        self.recorder = recorder
        self.limits = limits
        self.capacity = CapacityWaits(ports)

    def next_trial(
        self,
        name: str,
        lap: int,
        iteration: int,
        token: str,
        lap_trials: int | None = None,
        capacity_wait: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Claim, propose and start the next trial; the token completes when it ends.

        From iteration ``lap_trials`` on the lap claims no new trial, only finishes its own
        retries. When nothing is left to do, the lap's own token is completed with ``Done``; when
        an account quota refuses the training job, with ``CapacityWaitSeconds`` (``capacity_wait``:
        the state machine's ``CapacityWait`` payload, see ``core.capacity.CapacityWait``; the
        defaults when a definition deployed before it passes none).
        """
        job, req = load(self.ports.store, name)
        reason = self.limits.stop_reason(job, req)
        lap_full = lap_trials is not None and iteration >= lap_trials
        n, refused = self._trial_number(job, req, lap, f"{lap}#{iteration}", reason, lap_full)
        if n is None:
            return self._done(token, reason or refused or (LAP_FULL if lap_full else MAX_JOBS_REACHED))
        trial = self.ports.store.get_trial(name, n)
        if reason and (trial is None or trial.status == PENDING):  # claimed, never started: nothing to wait for
            return self._done(token, reason)
        if trial is None:
            trial = self._new_trial(job, req, lap, n)
        # The token is stored before the job starts: the event handler can always find it.
        self.ports.store.update_trial(name, n, task_token=token)
        trial = self.ports.store.get_trial(name, n) or trial
        if trial.recorded:  # a retried step whose job had already finished
            self.ports.tokens.succeed(token, {"Done": False, "TrialNumber": n})
            self.ports.store.update_trial(name, n, task_token=None)  # delivered: nothing left open
            return {"TrialNumber": n, "TrainingJobName": trial.training_job_name, "Recorded": True}
        if trial.status != PENDING:
            # The step runs again after its wait timed out: the wake-up may have been lost.
            desc = self.ports.backend.describe(trial.training_job_name)
            if desc and desc.get("TrainingJobStatus") in TERMINAL_TRIAL:
                self.recorder.record_training_job(trial.training_job_name)  # records and completes the new token
                return {"TrialNumber": n, "TrainingJobName": trial.training_job_name, "Recorded": True}
        if trial.status == PENDING:
            waiting = self._start(job, req, trial, CapacityWait.from_payload(capacity_wait), lap_trials)
            if waiting is not None:
                self.ports.tokens.succeed(token, waiting)
                return waiting
        return {"TrialNumber": n, "TrainingJobName": trial.training_job_name}

    def _done(self, token: str, reason: str) -> dict[str, Any]:
        output = {"Done": True, "Reason": reason}
        self.ports.tokens.succeed(token, output)
        return output

    def _trial_number(
        self, job: JobRecord, req: TuningRequest, lap: int, claim: str, reason: str | None, lap_full: bool
    ) -> tuple[int | None, str | None]:
        """This iteration's trial: a retry of the lap's own failed trial, the trial it claimed
        already (a re-run step), or a new claim; None when there is nothing to run (with the
        budget's reason when the budget refused the claim)."""
        retries = any(d.retry_attempts for d in req.definitions)  # else no trial is ever retried
        retry = self._retry_for(job.name, lap, claim) if retries else None
        if retry is not None and reason:
            self._give_up_retry(retry, reason)
            retry = None
        if retry is not None:
            return retry.number, None
        # A re-run of this step (after a timed-out wait) keeps its trial even while stopping:
        # its training job may still be running and must be waited for.
        n = self.ports.store.claimed(job.name, claim)
        if n is None and not reason and not lap_full:
            return self._claim(job, req, claim)
        return n, None

    def _claim(self, job: JobRecord, req: TuningRequest, claim: str) -> tuple[int | None, str | None]:
        """A new claim; for a budgeted job (``core.budget``) only if the trial's prediction fits,
        reserved in the claim's own conditional write. Refused while other trials hold reservations,
        only this lap stops (their ends may free the budget for another lap); refused with none held,
        the job ends: Completed, the budget's reason as its completion reason."""
        budget = budget_of(req.tags)
        if budget is None:
            return self.ports.store.claim_trial(job.name, claim, req.max_jobs), None
        prices = prices_for(req.definitions, PriceTable.load(), job.region)
        parallel = min(req.max_parallel, req.max_jobs)
        decided: list[Decision] = []

        def admit(current: JobRecord) -> dict[str, float] | None:
            trials = self.ports.store.list_trials(current.name)
            decision = decide(budget, prices, current.reservations, trials, current.next_trial + 1, parallel)
            decided.append(decision)
            return decision.reservations() if decision.fits else None

        n = self.ports.store.claim_trial(job.name, claim, req.max_jobs, admit=admit)
        if n is not None or not decided or decided[-1].fits:
            return n, None
        refusal = decided[-1]
        log.info("tuning job %s: %s", job.name, refusal.reason())
        if not refusal.others_held:
            self.limits.lifecycle.end_early(job.name, refusal.reason())
        return None, refusal.reason()

    def _new_trial(self, job: JobRecord, req: TuningRequest, lap: int, n: int) -> TrialRecord:
        definition = self.proposals.definition_for(job, req, n)
        params = self.proposals.propose(job, req, definition, n)
        return self.ports.store.put_trial(
            TrialRecord(
                job=job.name,
                number=n,
                params=params,
                training_job_name=training_job_name(job.name, n, params),
                definition=definition.name,
                lap=lap,
                created=self.ports.now(),
            )
        )

    def _start(
        self, job: JobRecord, req: TuningRequest, trial: TrialRecord, capacity: CapacityWait, lap_trials: int | None
    ) -> dict[str, Any] | None:
        """Start the trial's training job; the lap's capacity wait instead when a quota refuses it."""
        definition = definition_named(req, trial.definition)
        hyperparameters = {**definition.static_hyperparameters, **trial.params}
        request = definition.training_job_request(
            trial.training_job_name, hyperparameters, req.tags, deployment=self.deployment
        )
        try:
            self.ports.backend.start(request)
        except ResourceLimitExceededError as refusal:
            return self.capacity.refused(req, definition, trial, refusal, capacity, lap_trials)
        self.ports.store.update_trial(
            job.name, trial.number, only_unrecorded=True, status=IN_PROGRESS, started=self.ports.now(),
            capacity_since=None,
        )
        self._stop_if_ending(job.name, trial)
        return None

    def _stop_if_ending(self, name: str, trial: TrialRecord) -> None:
        """A training job started while its tuning job began to end is stopped here.

        Whatever ends a job (a stop, a completion criterion, MaxRuntimeInSeconds, a failure) first
        writes the job item, then stops the trials it finds In Progress. This step marked its trial
        In Progress before reading the job again: either that listing saw the trial, or this read
        sees the job ending. So no training job started during an end runs on unnoticed.
        """
        current = self.ports.store.get_job(name)
        if current is None:
            return
        if current.status == IN_PROGRESS and not current.stop_requested and not current.completion_reason:
            return
        why = current.completion_reason or (
            STOP_TUNING_JOB if current.stop_requested else f"tuning job {current.status}"
        )
        self.limits.lifecycle.stop_trial(trial, why)

    # ---- retries (RetryStrategy) ---------------------------------------------------------------
    def _retry_for(self, name: str, lap: int, claim: str) -> TrialRecord | None:
        """This lap's trial waiting for a retry (or the one this very iteration started).

        Among the open trials (a retry is unrecorded); each of this lap's is read again, as the
        index lags a moment behind the write that scheduled the retry."""
        for found in self.ports.store.open_trials(name):
            if found.lap != lap or found.recorded:
                continue
            t = self.ports.store.get_trial(name, found.number)
            if t is None or t.attempt == 0 or t.recorded:
                continue
            if t.retry_claim == claim or (t.status == PENDING and t.retry_claim is None):
                if t.retry_claim is None:
                    self.ports.store.update_trial(name, t.number, only_unrecorded=True, retry_claim=claim)
                return t
        return None

    def _give_up_retry(self, trial: TrialRecord, reason: str) -> None:
        give_up_retry(self.ports.store, trial, reason, self.ports.now())
