"""The monitor: what watches a tuning job's *running* training jobs, beside its workers.

Where it runs: inside ``TuningService.sweep``, i.e. the sweeper Lambda, which an EventBridge
schedule invokes on AWS (``TunerConstruct(sweeper_interval=...)``) and the offline harness
invokes every ``sweep_interval`` seconds. The workers cannot do it: each one waits on a task
token while its training job runs, and polling inside the state machine would spend its
execution history. One scheduled Lambda for every active tuning job costs nothing while idle,
needs no state-machine change, and already holds the permissions it needs (describe and stop
training jobs, read their logs). Its reaction time is the schedule's period (on AWS at least one
minute; a training job's epochs are usually longer); every decision is idempotent, so an
overlapping or repeated run is harmless.

Per active tuning job, in order:

1. ``MaxRuntimeInSeconds`` exceeded: no new trials, running training jobs stopped, the job moves
   to Stopping and then Stopped (``TuningService._end_early``).
2. ``TuningJobCompletionCriteria`` over the recorded trials (also checked whenever a training job
   is recorded): the job completes early, running training jobs are stopped.
3. ``TrainingJobEarlyStoppingType: Auto``: each running trial's objective series is read from
   its logs and judged by the median rule (``core.early_stopping``); a trial worse than the
   median is stopped.
4. ``Strategy: Hyperband``: each running trial is judged at the rungs it reached
   (``core.strategies.hyperband.asha_decision``) and stopped if it is not promoted.

A stopped training job ends ``Stopped``; when it emitted objective values its last one is its
final objective (``ObjectiveStatus`` Succeeded), as in AMT.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tuner.core import completion
from tuner.core.early_stopping import median_rule
from tuner.core.metrics import parse_metrics
from tuner.core.records import IN_PROGRESS, JobRecord, TrialRecord
from tuner.core.request import parse_request

if TYPE_CHECKING:
    from tuner.service.tuning import TuningService

log = logging.getLogger(__name__)

EARLY_STOPPING = "EarlyStopping"
HYPERBAND = "Hyperband"


def monitor_job(svc: TuningService, job: JobRecord) -> list[dict[str, Any]]:
    """Apply the monitor to one active tuning job; returns the actions taken (for logs/tests)."""
    if job.status != IN_PROGRESS or job.stop_requested:
        return []
    req = parse_request(job.request)
    if svc._runtime_exceeded(job, req):
        if svc._end_early(job.name, completion.REASON_MAX_RUNTIME, stopping=True):
            return [{"TuningJobName": job.name, "Action": "Stop", "Reason": completion.REASON_MAX_RUNTIME}]
        return []
    if job.completion_reason:
        return []
    reason = svc.check_completion(job.name)
    if reason:
        return [{"TuningJobName": job.name, "Action": "Complete", "Reason": reason}]
    if req.early_stopping != "Auto" and req.strategy != "Hyperband":
        return []
    trials = svc.store.list_trials(job.name)
    running = [t for t in trials if t.status == IN_PROGRESS and not t.recorded and not t.stopped_by]
    if not running:
        return []
    definition = req.definitions[0]  # early stopping and Hyperband: single definition
    series: dict[int, list[float]] = {}
    for t in trials:
        if t.recorded:
            series[t.number] = list(t.series)
        elif t.status == IN_PROGRESS:
            parsed = parse_metrics(svc.logs.lines(t.training_job_name), definition.metric_definitions)
            series[t.number] = parsed[definition.objective_metric].values
    if req.strategy == "Hyperband":
        return _hyperband(svc, job, req, definition, running, series)
    return _median(svc, job, req, running, series)


def _median(svc: TuningService, job: JobRecord, req: Any, running: list[TrialRecord],
            series: dict[int, list[float]]) -> list[dict[str, Any]]:
    actions = []
    for t in running:
        mine = series.get(t.number) or []
        earlier = [s for n, s in series.items() if n < t.number]
        stop, median = median_rule(mine, earlier, req.maximize)
        if stop:
            why = f"{EARLY_STOPPING}: value {mine[-1]:.6g} at step {len(mine)} is worse than the median {median:.6g}"
            svc.stop_trial(t, why)
            actions.append({"TrainingJobName": t.training_job_name, "Action": "Stop", "Reason": why})
    return actions


def _hyperband(svc: TuningService, job: JobRecord, req: Any, definition: Any, running: list[TrialRecord],
               series: dict[int, list[float]]) -> list[dict[str, Any]]:
    from tuner.core.strategies.hyperband import STOP, asha_decision, resources

    lo, hi = resources(req.strategy_config, definition.static_hyperparameters)
    actions = []
    for t in running:
        mine = series.get(t.number) or []
        others = [s for n, s in series.items() if n != t.number]
        decision, rung, why = asha_decision(mine, t.rung, others, req.maximize, lo, hi)
        if decision == STOP:
            svc.stop_trial(t, f"{HYPERBAND}: {why}")
            actions.append({"TrainingJobName": t.training_job_name, "Action": "Stop", "Reason": why})
        elif rung != t.rung:
            svc.store.update_trial(job.name, t.number, only_unrecorded=True, rung=rung)
    return actions
