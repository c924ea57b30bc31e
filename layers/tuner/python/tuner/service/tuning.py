"""Use cases of the tuner, over ports (store, training backend, log source, task tokens, events).

Each public method is one Lambda's work (see ``tuner.constants.LAMBDAS``); all of them are
idempotent, because Step Functions and EventBridge deliver at least once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from tuner.constants import DEFAULT_LAP_TRIALS
from tuner.core import completion, results
from tuner.core.allocation import choose_definition
from tuner.core.metrics import parse_metrics, thin
from tuner.core.naming import parse_training_job_name, training_job_name
from tuner.core.records import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    STOPPED,
    STOPPING,
    TERMINAL_JOB,
    TERMINAL_TRIAL,
    JobRecord,
    TrialRecord,
    now_iso,
)
from tuner.core.request import Definition, TuningRequest, parse_request
from tuner.core.strategies import Observation, make_strategy, register
from tuner.core.warm_start import IDENTICAL, check_parents, parent_names
from tuner.core.warm_start import observations as warm_observations
from tuner.errors import DuplicateTuningJobError, TuningJobNotFoundError, ValidationError

log = logging.getLogger(__name__)
RETRYABLE_FAILURE = "InternalServerError"
PROPOSAL_WAIT_SECONDS = 10.0  # how long a proposal waits for lower-numbered trials to be stored
LAP_FULL = "lap full: the next lap continues the tuning job"
MAX_REASON = 4096  # a stored FailureReason (describe shows 1,024): a huge refusal must still fit an item
register("Hyperband", "tuner.core.strategies.hyperband:HyperbandStrategy")


class Store(Protocol):  # the port; tuner.aws.store.DynamoStore implements it
    def create_job(self, job: JobRecord) -> JobRecord | None: ...
    def get_job(self, name: str) -> JobRecord | None: ...
    def update_job(self, name: str, *, expect_status: tuple[str, ...] | None = None, **v: Any) -> bool: ...
    def list_jobs(self) -> list[JobRecord]: ...
    def claim_trial(self, name: str, claim_key: str, max_trials: int) -> int | None: ...
    def claimed(self, name: str, claim_key: str) -> int | None: ...
    def put_trial(self, trial: TrialRecord) -> TrialRecord: ...
    def get_trial(self, name: str, number: int) -> TrialRecord | None: ...
    def update_trial(self, name: str, number: int, *, only_unrecorded: bool = False, **v: Any) -> bool: ...
    def list_trials(self, name: str) -> list[TrialRecord]: ...


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    return str(value)


def _arn_parts(execution_arn: str | None) -> tuple[str, str]:
    """(region, account) of a Step Functions execution ARN."""
    parts = (execution_arn or "").split(":")
    if len(parts) > 4 and parts[3] and parts[4]:
        return parts[3], parts[4]
    return "us-east-1", "123456789012"


def _job_seed(job: JobRecord, req: TuningRequest) -> int:
    """RandomSeed when given; otherwise a seed fixed for this job (so retries repeat proposals)."""
    if req.random_seed is not None:
        return int(req.random_seed)
    digest = hashlib.sha256(f"{job.name}|{job.created}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class TuningService:
    def __init__(
        self,
        store: Store,
        backend: Any = None,
        logs: Any = None,
        tokens: Any = None,
        events: Any = None,
        clock: Any = time.time,
    ) -> None:
        self.store = store
        self.backend = backend
        self.logs = logs
        self.tokens = tokens
        self.events = events
        self.clock = clock
        # Warm-start parents are terminal: their trials no longer change. Kept per (name, ended)
        # for the life of the Lambda container instead of read again at every proposal.
        self._parent_cache: dict[str, tuple[str, list[TrialRecord]]] = {}

    # ---- create ---------------------------------------------------------------------------
    def create_job(
        self, request: Mapping[str, Any], execution_arn: str | None = None, lap_trials: int = DEFAULT_LAP_TRIALS
    ) -> dict[str, Any]:
        """Validate and store a tuning job. Returns the laps the state machine fans out to.

        Output: ``{TuningJobName, Workers: [1..K], MaxParallel: P, LapTrials: L}`` (``lap_plan``).
        """
        from tuner.shapes import validate_input  # botocore's model: loaded only here

        request = dict(request)
        name = request.get("HyperParameterTuningJobName")
        region, account = _arn_parts(execution_arn)
        try:
            validate_input("CreateHyperParameterTuningJob", request)
            req = parse_request(request)
        except ValidationError as err:
            if isinstance(name, str) and _storable_name(name):
                failed = JobRecord(
                    name=name, request=request, status=FAILED, failure_reason=str(err)[:MAX_REASON],
                    ended=now_iso(), execution_arn=execution_arn, region=region, account=account,
                )
                existing = self.store.create_job(failed)
                if existing is not None and existing.execution_arn != execution_arn:
                    raise self._duplicate(existing) from None
            raise
        try:
            self._check_with_store(req)
        except ValidationError as err:
            failed = JobRecord(
                name=req.name, request=request, status=FAILED, failure_reason=str(err)[:MAX_REASON],
                ended=now_iso(), execution_arn=execution_arn, region=region, account=account,
            )
            existing = self.store.create_job(failed)
            if existing is not None and existing.execution_arn != execution_arn:
                raise self._duplicate(existing) from None
            raise
        job = JobRecord(name=req.name, request=request, execution_arn=execution_arn, region=region, account=account)
        existing = self.store.create_job(job)
        if existing is not None and not (execution_arn and existing.execution_arn == execution_arn):
            raise self._duplicate(existing)
        if existing is None:
            self._publish(req.name)  # InProgress
        return {"TuningJobName": req.name, **lap_plan(req.max_jobs, req.max_parallel, lap_trials)}

    def _check_with_store(self, req: TuningRequest) -> None:
        """Rules beyond parse_request: Hyperband's resources, warm-start parents."""
        if req.strategy == "Hyperband":
            from tuner.core.strategies.hyperband import resources

            resources(req.strategy_config, req.definitions[0].static_hyperparameters)
        names = parent_names(req.warm_start)
        if names:
            check_parents(req, [(n, self.store.get_job(n)) for n in names])

    @staticmethod
    def _duplicate(existing: JobRecord) -> DuplicateTuningJobError:
        return DuplicateTuningJobError(
            f"HyperParameterTuningJobName: a tuning job named {existing.name!r} exists already "
            f"(status {existing.status}, created {existing.created}); choose another name"
        )

    # ---- the worker step --------------------------------------------------------------------
    def _load(self, name: str) -> tuple[JobRecord, TuningRequest]:
        job = self.store.get_job(name)
        if job is None:
            raise TuningJobNotFoundError(f"no tuning job named {name!r}; check the name")
        return job, parse_request(job.request)

    def next_trial(
        self, name: str, worker: int, iteration: int, token: str, lap_trials: int | None = None
    ) -> dict[str, Any]:
        """Claim, propose and start the next trial; the token completes when it ends.

        ``worker`` is the lap (a child execution, ``lap_plan``); from iteration ``lap_trials`` on it
        claims no new trial, only finishes its own retries. When nothing is left to do, the lap's
        own token is completed with ``Done``.
        """
        job, req = self._load(name)
        reason = self._stop_reason(job, req)
        lap_full = lap_trials is not None and iteration >= lap_trials
        claim = f"{worker}#{iteration}"
        retries = any(d.retry_attempts for d in req.definitions)  # else no trial is ever retried
        retry = self._retry_for(name, worker, claim) if retries else None
        if retry is not None and reason:
            self._give_up_retry(retry, reason)
            retry = None
        if retry is not None:
            n: int | None = retry.number
        else:
            # A re-run of this step (after a timed-out wait) keeps its trial even while stopping:
            # its training job may still be running and must be waited for.
            n = self.store.claimed(name, claim)
            if n is None and not reason and not lap_full:
                n = self.store.claim_trial(name, claim, req.max_jobs)
        if n is None:
            output = {"Done": True, "Reason": reason or (LAP_FULL if lap_full else "MaxNumberOfTrainingJobs reached")}
            self.tokens.succeed(token, output)
            return output
        trial = self.store.get_trial(name, n)
        if reason and (trial is None or trial.status == PENDING):  # claimed, never started: nothing to wait for
            output = {"Done": True, "Reason": reason}
            self.tokens.succeed(token, output)
            return output
        if trial is None:
            definition = self._definition_for(job, req, n)
            params = self._propose(job, req, definition, n)
            trial = self.store.put_trial(
                TrialRecord(
                    job=name,
                    number=n,
                    params=params,
                    training_job_name=training_job_name(name, n, params),
                    definition=definition.name,
                    worker=worker,
                )
            )
        # The token is stored before the job starts: the event handler can always find it.
        self.store.update_trial(name, n, task_token=token)
        trial = self.store.get_trial(name, n)
        assert trial is not None
        if trial.recorded:  # a retried step whose job had already finished
            self.tokens.succeed(token, {"Done": False, "TrialNumber": n})
            return {"TrialNumber": n, "TrainingJobName": trial.training_job_name, "Recorded": True}
        if trial.status != PENDING:
            # The step runs again after its wait timed out: the wake-up may have been lost.
            desc = self.backend.describe(trial.training_job_name)
            if desc and desc.get("TrainingJobStatus") in TERMINAL_TRIAL:
                self.record_training_job(trial.training_job_name)  # records and completes the new token
                return {"TrialNumber": n, "TrainingJobName": trial.training_job_name, "Recorded": True}
        if trial.status == PENDING:
            definition = self._definition_named(req, trial.definition)
            hyperparameters = {**definition.static_hyperparameters, **trial.params}
            request = definition.training_job_request(
                trial.training_job_name, hyperparameters, job.request.get("Tags")
            )
            self.backend.start(request)
            self.store.update_trial(name, n, only_unrecorded=True, status=IN_PROGRESS, started=now_iso())
        return {"TrialNumber": n, "TrainingJobName": trial.training_job_name}

    def _stop_reason(self, job: JobRecord, req: TuningRequest) -> str | None:
        if job.status != IN_PROGRESS or job.stop_requested:
            return job.completion_reason or f"tuning job is {job.status}"
        if job.completion_reason:
            return job.completion_reason
        if self._runtime_exceeded(job, req):
            self._end_early(job.name, completion.REASON_MAX_RUNTIME, stopping=True)
            return completion.REASON_MAX_RUNTIME
        # Checked here too, not only when a result is recorded: a worker can be woken (by the
        # sweeper) between the result's write and that check.
        return self.check_completion(job.name) if req.completion_criteria else None

    def _runtime_exceeded(self, job: JobRecord, req: TuningRequest) -> bool:
        if not req.max_runtime_seconds:
            return False
        created = datetime.fromisoformat(job.created).timestamp()
        return self.clock() - created >= req.max_runtime_seconds

    def _end_early(self, name: str, reason: str, *, stopping: bool = False, converged: bool = False) -> bool:
        """A completion criterion (or MaxRuntimeInSeconds) is met: no new trials, stop the running ones.

        Completion criteria end the job Completed; MaxRuntimeInSeconds moves it to Stopping (then
        Stopped), like a training job that exceeds its own MaxRuntimeInSeconds.
        """
        current = self.store.get_job(name)
        if current is None or current.completion_reason:
            return False
        values: dict[str, Any] = {"completion_reason": reason}
        if stopping:
            values["status"] = STOPPING
        if converged:
            values["convergence_detected"] = now_iso()
        if not self.store.update_job(name, expect_status=(IN_PROGRESS,), **values):
            return False
        log.info("tuning job %s ends early: %s", name, reason)
        if stopping:
            self._publish(name)  # Stopping (MaxRuntimeInSeconds)
        self._stop_running(name, reason)
        return True

    def _definition_for(self, job: JobRecord, req: TuningRequest, n: int) -> Definition:
        """The definition of trial n: allocated by each definition's results (core.allocation)."""
        if len(req.definitions) == 1:
            return req.definitions[0]
        trials = [t for t in self.store.list_trials(job.name) if t.number != n]
        counts: dict[str | None, int] = {}
        best: dict[str | None, float | None] = {}
        for t in trials:
            counts[t.definition] = counts.get(t.definition, 0) + 1
            if t.objective_status == "Succeeded" and t.final_objective is not None:
                if results.is_better(t.final_objective, best.get(t.definition), req.maximize):
                    best[t.definition] = t.final_objective
        chosen = choose_definition(
            n, [d.name for d in req.definitions], counts, best, req.maximize, _job_seed(job, req)
        )
        return self._definition_named(req, chosen)

    # ---- retries (RetryStrategy) ---------------------------------------------------------------
    def _retry_for(self, name: str, worker: int, claim: str) -> TrialRecord | None:
        """This worker's trial waiting for a retry (or the one this very iteration started)."""
        for t in self.store.list_trials(name):
            if t.worker != worker or t.attempt == 0 or t.recorded:
                continue
            if t.retry_claim == claim or (t.status == PENDING and t.retry_claim is None):
                if t.retry_claim is None:
                    self.store.update_trial(name, t.number, only_unrecorded=True, retry_claim=claim)
                return t
        return None

    def _give_up_retry(self, trial: TrialRecord, reason: str) -> None:
        last = trial.attempts[-1] if trial.attempts else {}
        self.store.update_trial(
            trial.job, trial.number, only_unrecorded=True, status=FAILED, retryable=True,
            objective_status="Failed", recorded=True, ended=now_iso(),
            training_job_name=last.get("TrainingJobName", trial.training_job_name),
            failure_reason=f"{last.get('FailureReason', RETRYABLE_FAILURE)} (not retried: {reason})",
        )

    def _schedule_retry(self, trial: TrialRecord, desc: Mapping[str, Any], failure: str) -> None:
        """Replace the failed attempt by a new training job for the same trial (same worker).

        AMT retries inside the same training job; a SageMaker name cannot be reused, so each retry
        is a new job ``<tuning-job>-<NNN>-<hash>`` whose hash also covers the attempt number.
        """
        attempt = trial.attempt + 1
        new_name = training_job_name(trial.job, trial.number, {**trial.params, "__attempt__": str(attempt)})
        history = [*trial.attempts, {
            "TrainingJobName": trial.training_job_name,
            "FailureReason": failure,
            "TrainingStartTime": _iso(desc.get("TrainingStartTime")) or trial.started,
            "TrainingEndTime": _iso(desc.get("TrainingEndTime") or desc.get("LastModifiedTime")) or now_iso(),
        }]
        self.store.update_trial(
            trial.job, trial.number, only_unrecorded=True, attempt=attempt, attempts=history,
            training_job_name=new_name, status=PENDING, started=None, retryable=True,
            failure_reason=None, retry_claim=None,
        )
        log.info("retrying trial %s of %s as %s (attempt %d)", trial.number, trial.job, new_name, attempt)

    @staticmethod
    def _definition_named(req: TuningRequest, name: str | None) -> Definition:
        for d in req.definitions:
            if d.name == name:
                return d
        raise ValidationError(f"no training job definition named {name!r}", "TrainingJobDefinitions")

    def _trials_before(self, name: str, n: int) -> list[TrialRecord]:
        """The stored trials, once every trial numbered below ``n`` is stored.

        Trials are claimed in number order; one claimed a moment earlier by another worker may
        still be being proposed. Waiting for it (bounded: its worker may have died) lets the
        strategy see it as pending, so parallel workers never propose the same point.
        """
        deadline = time.monotonic() + PROPOSAL_WAIT_SECONDS
        while True:
            trials = self.store.list_trials(name)
            stored = {t.number for t in trials}
            if all(k in stored for k in range(1, n)) or time.monotonic() >= deadline:
                return trials
            time.sleep(0.05)

    def _propose(self, job: JobRecord, req: TuningRequest, definition: Definition, n: int) -> dict[str, str]:
        strategy = make_strategy(
            req.strategy,
            definition.space,
            maximize=definition.objective_type == "Maximize",
            seed=_job_seed(job, req),
            config=req.strategy_config,
        )
        if not strategy.needs_history():  # Grid; Random over a continuous range
            return strategy.propose(n, [], [])
        trials = [t for t in self._trials_before(job.name, n) if t.definition == definition.name]
        observations = [
            Observation(
                params=t.params,
                value=t.final_objective if t.objective_status == "Succeeded" else None,
                trial_number=t.number,
                step_values=tuple(t.series),
            )
            for t in trials
            if t.recorded
        ]
        pending = [t.params for t in trials if not t.recorded and t.number != n]
        observations = self._parent_observations(req) + observations
        return strategy.propose(n, observations, pending)

    def _parent_observations(self, req: TuningRequest) -> list[Observation]:
        """Warm start: the parents' scored trials, read at proposal time (nothing is copied)."""
        trials: list[TrialRecord] = []
        for parent in parent_names(req.warm_start):
            trials.extend(self._terminal_trials(parent))
        return warm_observations(req, trials) if trials else []

    def _terminal_trials(self, name: str) -> list[TrialRecord]:
        """A terminal job's trials: one read per container (a job item read checks the cache)."""
        job = self.store.get_job(name)
        if job is None or job.status not in TERMINAL_JOB or not job.ended:
            return self.store.list_trials(name)
        cached = self._parent_cache.get(name)
        if cached is not None and cached[0] == job.ended:
            return cached[1]
        trials = self.store.list_trials(name)
        if all(t.recorded for t in trials):  # a Failed job's stopped trials may still be recorded
            self._parent_cache[name] = (job.ended, trials)
        return trials

    # ---- results ------------------------------------------------------------------------------
    def record_training_job(self, training_job: str) -> dict[str, Any]:
        """Record a finished training job (idempotent) and wake the worker waiting on it."""
        parsed = parse_training_job_name(training_job)
        if parsed is None:
            return {"Ignored": f"{training_job} is not a tuner training job"}
        name, n = parsed
        trial = self.store.get_trial(name, n)
        if trial is None or trial.training_job_name != training_job:
            return {"Ignored": f"{training_job} belongs to no stored trial"}
        if not trial.recorded:
            desc = self.backend.describe(training_job)
            if desc is None or desc.get("TrainingJobStatus") not in TERMINAL_TRIAL:
                return {"Ignored": f"{training_job} is not finished"}
            self._write_result(trial, desc)
            trial = self.store.get_trial(name, n)
            assert trial is not None
            if trial.recorded:
                self.check_completion(name)
        woke = bool(trial.task_token) and self.tokens.succeed(
            trial.task_token, {"Done": False, "TrialNumber": n}
        )
        if woke and trial.recorded:  # delivered: the sweeper need not send it again
            self.store.update_trial(name, n, task_token=None)
        return {"TrainingJobName": training_job, "Status": trial.status, "WorkerWoken": woke}

    def _write_result(self, trial: TrialRecord, desc: Mapping[str, Any]) -> None:
        job, req = self._load(trial.job)
        definition = self._definition_named(req, trial.definition)
        status = desc["TrainingJobStatus"]
        series = parse_metrics(self.logs.lines(trial.training_job_name), definition.metric_definitions)
        objective = series[definition.objective_metric]
        final = objective.final
        succeeded = final is not None and status in (COMPLETED, STOPPED)
        failure = desc.get("FailureReason")
        if status == FAILED and (failure or "").startswith(RETRYABLE_FAILURE) and trial.attempt < definition.retry_attempts:
            if job.status == IN_PROGRESS and not job.stop_requested and not job.completion_reason:
                self._schedule_retry(trial, desc, failure or RETRYABLE_FAILURE)
                return
        if status in (COMPLETED, STOPPED) and getattr(objective, "error", None):
            failure = objective.error  # a refused regex or an exhausted parsing budget, said plainly
        elif status == COMPLETED and final is None:
            failure = (
                f"The training job emitted no value for the objective metric "
                f"{definition.objective_metric!r} (regex {_regex(definition)!r}); "
                "print it to stdout or stderr, or fix the MetricDefinitions regex"
            )
        self.store.update_trial(
            trial.job,
            trial.number,
            only_unrecorded=True,
            status=status,
            failure_reason=failure,
            final_objective=final if succeeded else None,
            objective_status="Succeeded" if succeeded else "Failed",
            metrics={k: v.final for k, v in series.items() if v.final is not None},
            series=thin(objective.values),
            retryable=status == FAILED and (failure or "").startswith(RETRYABLE_FAILURE),
            created=_iso(desc.get("CreationTime")) or trial.created,
            started=_iso(desc.get("TrainingStartTime")) or trial.started,
            ended=_iso(desc.get("TrainingEndTime") or desc.get("LastModifiedTime")) or now_iso(),
            recorded=True,
        )

    def sweep(self) -> dict[str, Any]:
        """The periodic monitor (the sweeper Lambda's schedule; the harness offline).

        For every active tuning job: record finished training jobs whose state-change event was
        lost, then apply what must watch running jobs: ``MaxRuntimeInSeconds``, the completion
        criteria, early stopping (median rule) and Hyperband's rungs (``service.monitor``).
        """
        from tuner.service.monitor import monitor_job

        recovered = []
        actions: list[dict[str, Any]] = []
        for job in self.store.list_jobs():
            if job.status not in (IN_PROGRESS, STOPPING):
                continue
            try:
                actions.extend(monitor_job(self, job))
            except Exception:  # one job's monitor must not stop the sweep of the others
                log.exception("monitor of %s failed", job.name)
            for t in self.store.list_trials(job.name):
                if t.recorded:
                    if t.task_token:  # the worker may have missed its wake-up
                        if self.tokens.succeed(t.task_token, {"Done": False, "TrialNumber": t.number}):
                            self.store.update_trial(job.name, t.number, task_token=None)
                    continue
                if t.status == PENDING:
                    continue
                desc = self.backend.describe(t.training_job_name)
                if desc and desc.get("TrainingJobStatus") in TERMINAL_TRIAL:
                    self.record_training_job(t.training_job_name)
                    recovered.append(t.training_job_name)
        return {"Recovered": recovered, "Actions": actions}

    def check_completion(self, name: str) -> str | None:
        """Apply TuningJobCompletionCriteria to the recorded trials; end the job early when met."""
        job, req = self._load(name)
        if job.status != IN_PROGRESS or job.completion_reason or not req.completion_criteria:
            return job.completion_reason
        trials = self.store.list_trials(name)
        reason = completion.completion_reason(req.completion_criteria, trials, req.maximize)
        if reason and self._end_early(name, reason, converged=reason == completion.REASON_CONVERGED):
            return reason
        return None

    # ---- end of a tuning job ---------------------------------------------------------------
    def finalize(self, name: str) -> dict[str, Any]:
        job, req = self._load(name)
        trials = self.store.list_trials(name)
        if job.status in TERMINAL_JOB:
            return {"TuningJobName": name, "Status": job.status}
        reason = None
        for t in trials:  # claimed but never started (the job ended first): nothing ran
            if t.status == PENDING and not t.recorded:
                self.store.update_trial(
                    name, t.number, only_unrecorded=True, status=STOPPED, objective_status="Failed",
                    recorded=True, ended=now_iso(), stopped_by=job.completion_reason or "StopTuningJob",
                    retryable=False,
                )
        trials = self.store.list_trials(name)
        if job.status == STOPPING or job.stop_requested:
            status = STOPPED
        elif trials and all(t.objective_status == "Failed" for t in trials):
            status = FAILED
            first = next((t.failure_reason for t in trials if t.failure_reason), "no objective metric")
            reason = f"All {len(trials)} training jobs failed to produce the objective metric; the first: {first}"
        else:
            status = COMPLETED
        self.store.update_job(
            name, expect_status=(IN_PROGRESS, STOPPING), status=status, ended=now_iso(), failure_reason=reason
        )
        self._publish(name)
        return {"TuningJobName": name, "Status": status}

    def fail_job(self, name: str, error: Mapping[str, Any] | None) -> dict[str, Any]:
        """Mark the job Failed with the state machine's error; stop its running training jobs."""
        reason = _failure_reason(error)
        job = self.store.get_job(name)
        if job is None:
            return {"TuningJobName": name, "Status": FAILED, "FailureReason": reason}
        changed = self.store.update_job(
            name, expect_status=(IN_PROGRESS, STOPPING), status=FAILED, ended=now_iso(), failure_reason=reason
        )
        self._stop_running(name)
        if changed:  # a failed lap marks the job first; the parent's MarkFailed then changes nothing
            self._publish(name)
        return {"TuningJobName": name, "Status": FAILED, "FailureReason": reason}

    def stop(self, name: str) -> None:
        """StopHyperParameterTuningJob: Stopping now, Stopped when the running jobs have ended."""
        job = self.store.get_job(name)
        if job is None:
            raise TuningJobNotFoundError(f"no tuning job named {name!r}; check the name")
        if job.status in TERMINAL_JOB:
            raise ValidationError(f"the tuning job is {job.status} already; only a running job can be stopped")
        if self.store.update_job(name, expect_status=(IN_PROGRESS,), status=STOPPING, stop_requested=True):
            self._publish(name)  # Stopping
        self._stop_running(name, "StopTuningJob")

    def _stop_running(self, name: str, why: str | None = None) -> None:
        for t in self.store.list_trials(name):
            if t.status == IN_PROGRESS:
                self.stop_trial(t, why)

    def stop_trial(self, trial: TrialRecord, why: str | None) -> None:
        """StopTrainingJob; the reason stays on the trial (it ends Stopped, keeping its last value)."""
        if why and not trial.stopped_by:
            self.store.update_trial(trial.job, trial.number, only_unrecorded=True, stopped_by=why)
        self.backend.stop(trial.training_job_name)

    def _publish(self, name: str) -> None:
        if self.events is None:
            return
        detail = json.loads(results.to_json(self.describe(name)))
        job = self.store.get_job(name)
        if job is not None and job.completion_reason:  # no such member in Describe's shape
            detail["TuningJobCompletionReason"] = job.completion_reason
        try:
            self.events.tuning_job_state_change(detail, [detail["HyperParameterTuningJobArn"]])
        except Exception:  # an event is a notification: never fail the job for it
            log.exception("could not publish the state-change event of %s", name)

    # ---- read ---------------------------------------------------------------------------------
    def describe(self, name: str) -> dict[str, Any]:
        job = self.store.get_job(name)
        if job is None:
            raise TuningJobNotFoundError(f"no tuning job named {name!r}; check the name")
        trials = self.store.list_trials(name)
        r = results.describe(job, trials)
        if job.convergence_detected:
            r["TuningJobCompletionDetails"]["ConvergenceDetectedTime"] = datetime.fromisoformat(
                job.convergence_detected
            )
        overall = self._overall_best(job, trials)
        if overall is not None:
            r["OverallBestTrainingJob"] = overall
        return r

    def _overall_best(self, job: JobRecord, trials: list[TrialRecord]) -> dict[str, Any] | None:
        """IdenticalDataAndAlgorithm: the best training job of this job and all its parents."""
        ws = job.request.get("WarmStartConfig") or {}
        if ws.get("WarmStartType") != IDENTICAL:
            return None
        maximize = results._maximize(job)
        candidates: list[tuple[JobRecord, TrialRecord]] = []
        best = results.best_trial(trials, maximize)
        if best is not None:
            candidates.append((job, best))
        for parent in parent_names(ws):
            pjob = self.store.get_job(parent)
            if pjob is None:
                continue
            pbest = results.best_trial(self.store.list_trials(parent), maximize)
            if pbest is not None:
                candidates.append((pjob, pbest))
        if not candidates:
            return None
        owner, winner = candidates[0]
        for o, t in candidates[1:]:
            if results.is_better(t.final_objective, winner.final_objective, maximize):  # type: ignore[arg-type]
                owner, winner = o, t
        return results.trial_summary(owner, winner)

    def list_training_jobs(self, name: str, **kwargs: Any) -> dict[str, Any]:
        job = self.store.get_job(name)
        if job is None:
            raise TuningJobNotFoundError(f"no tuning job named {name!r}; check the name")
        return results.list_training_jobs(job, self.store.list_trials(name), **kwargs)


def lap_plan(max_jobs: int, max_parallel: int, lap_trials: int = DEFAULT_LAP_TRIALS) -> dict[str, Any]:
    """The state machine's fan-out: ``K`` laps of at most ``L`` trials, ``P`` of them at a time.

    Each lap is a child execution of the distributed Map with its own history, so a lap's events
    (about 10 per trial) stay far inside the 25,000-event quota however many jobs the tuning job
    runs. ``K = P * ceil(N / (P * L))`` laps hold ``K * L >= N`` trials: the job never runs out of
    laps; laps started after the last trial was claimed answer ``Done`` at once.
    """
    if lap_trials < 1:
        raise ValueError(f"lap_trials must be at least 1, got {lap_trials}")
    parallel = max(1, min(max_parallel, max_jobs))
    laps = parallel * max(1, math.ceil(max_jobs / (parallel * lap_trials)))
    return {"Workers": list(range(1, laps + 1)), "MaxParallel": parallel, "LapTrials": lap_trials}


def _regex(definition: Definition) -> str:
    for d in definition.metric_definitions:
        if d["Name"] == definition.objective_metric:
            return d["Regex"]
    return ""


def _storable_name(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", name))


def _failure_reason(error: Mapping[str, Any] | None) -> str:
    """A readable reason from a Step Functions error object {Error, Cause}."""
    if not error:
        return "The tuning job failed"
    kind = error.get("Error", "Error")
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            cause = parsed.get("errorMessage") or parsed.get("Cause") or cause
    except (TypeError, ValueError):
        pass
    return f"{kind}: {cause}"[:1024] if cause else str(kind)
