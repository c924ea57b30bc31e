"""The monitor: what watches a tuning job's *running* training jobs, beside its laps.

Where it runs: the sweeper Lambda, which an EventBridge schedule invokes on AWS
(``TunerConstruct(sweeper_interval=...)``) and the offline harness invokes every
``sweep_interval`` seconds. The laps cannot do it: each one waits on a task token while its
training job runs, and polling inside the state machine would spend its execution history. One
scheduled Lambda for every active tuning job costs nothing while idle and needs no state-machine
change. Its reaction time is the schedule's period (on AWS at least one minute; a training job's
epochs are usually longer); every decision is idempotent, so an overlapping or repeated run is
harmless.

Per active tuning job, in order:

1. ``MaxRuntimeInSeconds`` exceeded: no new trials, running training jobs stopped, the job moves
   to Stopping and then Stopped (``Limits.enforce_runtime``).
2. ``TuningJobCompletionCriteria`` over the recorded trials (also checked whenever a training job
   is recorded): the job completes early, running training jobs are stopped.
3. ``TrainingJobEarlyStoppingType: Auto``: each running trial's objective series is read from
   its logs and judged by the median rule (``core.early_stopping``); a trial worse than the
   median is stopped.
4. ``Strategy: Hyperband``: each running trial is judged at the rungs it reached
   (``core.strategies.hyperband.asha_decision``) and stopped if it is not promoted.

Then the safety net: a finished training job whose state-change event was lost is recorded, and
a recorded trial whose lap missed its wake-up is woken again. Before all of it, a job whose
execution ended without finalising it (aborted, timed out) is marked Failed and its training jobs
are stopped: nothing else would ever end it.

A stopped training job ends ``Stopped``; when it emitted objective values its last one is its
final objective (``ObjectiveStatus`` Succeeded), as in AMT.
"""
from __future__ import annotations

import logging
from typing import Any

from tuner.core import completion
from tuner.core.early_stopping import median_rule
from tuner.core.metrics import parse_metrics
from tuner.core.records import IN_PROGRESS, PENDING, STOPPING, TERMINAL_TRIAL, JobRecord, TrialRecord
from tuner.core.request import Definition, TuningRequest, parse_request
from tuner.core.strategies.hyperband import STOP, asha_decision, resources
from tuner.service.lifecycle import Lifecycle
from tuner.service.limits import Limits
from tuner.service.ports import PortMissingError, Ports
from tuner.service.record import RecordResult

log = logging.getLogger(__name__)

EARLY_STOPPING = "EarlyStopping"
#: Execution statuses after which nothing will finalise the job (SUCCEEDED always finalised it).
ENDED_UNFINISHED = ("ABORTED", "TIMED_OUT", "FAILED")
HYPERBAND = "Hyperband"


class Monitor:
    def __init__(self, ports: Ports, recorder: RecordResult, limits: Limits, lifecycle: Lifecycle) -> None:
        self.ports = ports
        self.recorder = recorder
        self.limits = limits
        self.lifecycle = lifecycle

    def sweep(self) -> dict[str, Any]:
        """The periodic run over every active tuning job (the sweeper Lambda)."""
        recovered: list[str] = []
        actions: list[dict[str, Any]] = []
        for job in self.ports.store.list_jobs():
            if job.status not in (IN_PROGRESS, STOPPING):
                continue
            ended = self._reconcile(job)
            if ended is not None:
                actions.append(ended)
                continue
            try:
                actions.extend(self.monitor_job(job))
            except Exception:  # one job's monitor must not stop the sweep of the others
                log.exception("monitor of %s failed", job.name)
            recovered.extend(self._recover(job.name))
        return {"Recovered": recovered, "Actions": actions}

    def _reconcile(self, job: JobRecord) -> dict[str, Any] | None:
        """A job whose execution ended without finalising it (aborted, timed out, failed before its
        MarkFailed step ran) is marked Failed and its running training jobs are stopped."""
        if not job.execution_arn:
            return None
        try:
            execution = self.ports.executions.describe_arn(job.execution_arn)
        except PortMissingError:  # a service built without the state machine: nothing to check
            return None
        status = (execution or {}).get("status")
        if execution is None or status not in ENDED_UNFINISHED:
            return None
        reason = f"the tuning job's execution ended {status} without finalising the job"
        self.lifecycle.fail(job.name, {"Error": f"Execution{str(status).title().replace('_', '')}", "Cause": reason})
        return {"TuningJobName": job.name, "Action": "Fail", "Reason": reason}

    def _recover(self, name: str) -> list[str]:
        """Record finished training jobs whose event was lost; wake laps that missed a wake-up."""
        recovered = []
        for t in self.ports.store.list_trials(name):
            if t.recorded:
                if t.task_token and self.ports.tokens.succeed(t.task_token, {"Done": False, "TrialNumber": t.number}):
                    self.ports.store.update_trial(name, t.number, task_token=None)
                continue
            if t.status == PENDING:
                continue
            desc = self.ports.backend.describe(t.training_job_name)
            if desc and desc.get("TrainingJobStatus") in TERMINAL_TRIAL:
                self.recorder.record_training_job(t.training_job_name)
                recovered.append(t.training_job_name)
        return recovered

    def monitor_job(self, job: JobRecord) -> list[dict[str, Any]]:
        """Apply the monitor to one active tuning job; returns the actions taken (for logs/tests)."""
        if job.status != IN_PROGRESS or job.stop_requested:
            return []
        req = parse_request(job.request)
        if self.limits.runtime_exceeded(job, req):
            if self.limits.enforce_runtime(job, req):
                return [{"TuningJobName": job.name, "Action": "Stop", "Reason": completion.REASON_MAX_RUNTIME}]
            return []
        if job.completion_reason:
            return []
        reason = self.limits.check_completion(job.name)
        if reason:
            return [{"TuningJobName": job.name, "Action": "Complete", "Reason": reason}]
        if req.early_stopping != "Auto" and req.strategy != HYPERBAND:
            return []
        trials = self.ports.store.list_trials(job.name)
        running = [t for t in trials if t.status == IN_PROGRESS and not t.recorded and not t.stopped_by]
        if not running:
            return []
        definition = req.definitions[0]  # early stopping and Hyperband: single definition
        series = self._series(trials, definition)
        if req.strategy == HYPERBAND:
            return self._hyperband(job, req, definition, running, series)
        return self._median(req, running, series)

    def _series(self, trials: list[TrialRecord], definition: Definition) -> dict[int, list[float]]:
        """Each trial's objective series: recorded ones from the store, running ones from their logs."""
        series: dict[int, list[float]] = {}
        for t in trials:
            if t.recorded:
                series[t.number] = list(t.series)
            elif t.status == IN_PROGRESS:
                parsed = parse_metrics(self.ports.logs.lines(t.training_job_name), definition.metric_definitions)
                series[t.number] = parsed[definition.objective_metric].values
        return series

    def _median(
        self, req: TuningRequest, running: list[TrialRecord], series: dict[int, list[float]]
    ) -> list[dict[str, Any]]:
        actions = []
        for t in running:
            mine = series.get(t.number) or []
            earlier = [s for n, s in series.items() if n < t.number]
            stop, median = median_rule(mine, earlier, req.maximize)
            if stop:
                why = (
                    f"{EARLY_STOPPING}: value {mine[-1]:.6g} at step {len(mine)} "
                    f"is worse than the median {median:.6g}"
                )
                self.lifecycle.stop_trial(t, why)
                actions.append({"TrainingJobName": t.training_job_name, "Action": "Stop", "Reason": why})
        return actions

    def _hyperband(
        self,
        job: JobRecord,
        req: TuningRequest,
        definition: Definition,
        running: list[TrialRecord],
        series: dict[int, list[float]],
    ) -> list[dict[str, Any]]:
        lo, hi = resources(req.strategy_config, definition.static_hyperparameters)
        actions = []
        for t in running:
            mine = series.get(t.number) or []
            others = [s for n, s in series.items() if n != t.number]
            decision, rung, why = asha_decision(mine, t.rung, others, req.maximize, lo, hi)
            if decision == STOP:
                self.lifecycle.stop_trial(t, f"{HYPERBAND}: {why}")
                actions.append({"TrainingJobName": t.training_job_name, "Action": "Stop", "Reason": why})
            elif rung != t.rung:
                self.ports.store.update_trial(job.name, t.number, only_unrecorded=True, rung=rung)
        return actions
