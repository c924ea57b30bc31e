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

Between 2 and 3, a budget with ``tuner:SpendPolicy=hard`` (``core.budget``): once the spent and
the running training jobs' cost so far reach ``tuner:MaxSpendUSD``, the job ends (Completed, the
budget's completion reason) and its running training jobs are stopped.

Then the safety net: a finished training job whose state-change event was lost is recorded, and
a recorded trial whose lap missed its wake-up is woken again. Before all of it, a job whose
execution ended without finalising it (aborted, timed out) is marked Failed and its training jobs
are stopped: nothing else would ever end it.

**Incremental reads, fanned out** (steps 3 and 4; docs/reliability.md, "Incremental
monitoring"). The running trials come from ``Store.open_trials`` (the trials still being worked
on, not the job's history); the recorded trials they are compared with from ``Store.list_trials``,
read only for a job that has running trials to judge. Each running trial keeps its place in its
logs on its own item, ``TrialRecord.log_cursor``: per stream of the primary host the token and
offset after the last line read (``LogSource.lines_after``) and the objective parsed so far
(``core.metrics.ParseState``). A sweep reads only the lines after it, at most ``SWEEP_LINES``
lines and ``SWEEP_SECONDS`` per trial (when either is reached the log says so, and the next sweep
goes on from there), and parses them with ``core.metrics.resume_metrics``: the series equals a
parse of the whole log. The reads of every job's running trials run at once on at most
``MAX_CONCURRENT_READS`` threads (boto3 clients are thread-safe; nothing else is shared), for at
most ``READ_WINDOW`` seconds in all; a trial whose read did not start by then is judged on its
stored series. The decisions run afterwards on this thread, job by job, trial by trial in number
order. Before a trial is stopped or its cursor written, it is read again (``get_trial``:
``open_trials`` may lag); a cursor is written only when the read moved it, only while the trial is
unrecorded (``update_trial(only_unrecorded=True)``), and not over a cursor that got further (an
overlapping sweep). A cursor and its series are written together, so whichever overlapping sweep
writes last leaves a consistent pair, at worst one that re-reads a few lines.

A stopped training job ends ``Stopped``; when it emitted objective values its last one is its
final objective (``ObjectiveStatus`` Succeeded), as in AMT.
"""
from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tuner.constants import MAX_SPEND_TAG
from tuner.core import completion
from tuner.core.budget import HARD, REASON_BUDGET, accrued, budget_of, prices_for, spend_of
from tuner.core.cost import PriceTable
from tuner.core.early_stopping import median_rule
from tuner.core.metrics import ParseState, resume_metrics
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

#: Log reads in flight at once, over every job's running trials. Each read is mostly waiting on
#: CloudWatch Logs (one DescribeLogStreams and at least one GetLogEvents per trial); 8 at once
#: covers 100 running trials in a few seconds, while staying gentle with the account-wide request
#: rates of those two operations (throttled calls are retried by the client's adaptive mode,
#: ``aws.assembly.CLIENT_CONFIG``). Parsing holds the GIL, so more threads would not parse faster.
MAX_CONCURRENT_READS = 8
#: Lines one sweep reads of one trial (about two pages of GetLogEvents); the rest waits a sweep.
SWEEP_LINES = 20_000
#: Seconds one sweep spends reading and parsing one trial's lines; the rest waits a sweep.
SWEEP_SECONDS = 10.0
#: Seconds one sweep spends on reads in all (the sweeper Lambda has 300 s, and recovery follows).
READ_WINDOW = 120.0


@dataclass
class _Watch:
    """A job whose running trials are to be judged: ``running`` (unrecorded, InProgress, by number)
    and the objective series of its recorded trials."""

    job: JobRecord
    req: TuningRequest
    definition: Definition
    running: list[TrialRecord]
    recorded: dict[int, list[float]]


@dataclass
class _Read:
    """One trial's read: its series so far, its cursor after the read, and whether that moved."""

    series: list[float]
    cursor: dict[str, Any]
    moved: bool


def _objective_only(definition: Definition) -> list[Mapping[str, str]]:
    """The definition's objective metric alone: the monitor needs no other series."""
    return [d for d in definition.metric_definitions if d["Name"] == definition.objective_metric]


def _own_cursor(trial: TrialRecord) -> dict[str, Any]:
    """The trial's cursor when it belongs to its current training job (a retry starts afresh)."""
    cursor = trial.log_cursor or {}
    return cursor if cursor.get("job") == trial.training_job_name else {}


class Monitor:
    """``concurrency``, ``sweep_lines``, ``sweep_seconds``, ``read_window``: the bounds above (tests
    and benchmarks change them; the service uses the defaults)."""

    def __init__(
        self,
        ports: Ports,
        recorder: RecordResult,
        limits: Limits,
        lifecycle: Lifecycle,
        *,
        concurrency: int = MAX_CONCURRENT_READS,
        sweep_lines: int = SWEEP_LINES,
        sweep_seconds: float = SWEEP_SECONDS,
        read_window: float = READ_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1 or sweep_lines < 1 or sweep_seconds <= 0 or read_window <= 0:
            raise ValueError("the monitor's concurrency, sweep_lines, sweep_seconds and read_window must be positive")
        self.ports = ports
        self.recorder = recorder
        self.limits = limits
        self.lifecycle = lifecycle
        self.concurrency = concurrency
        self.sweep_lines = sweep_lines
        self.sweep_seconds = sweep_seconds
        self.read_window = read_window
        self.clock = clock

    def sweep(self) -> dict[str, Any]:
        """The periodic run over every active tuning job (the sweeper Lambda)."""
        recovered: list[str] = []
        actions: list[dict[str, Any]] = []
        watches: list[_Watch] = []
        opened: list[tuple[str, list[TrialRecord]]] = []
        for job in self.ports.store.list_jobs():
            if job.status not in (IN_PROGRESS, STOPPING):
                continue
            ended = self._reconcile(job)
            if ended is not None:
                actions.append(ended)
                continue
            open_trials = self.ports.store.open_trials(job.name)
            opened.append((job.name, open_trials))
            try:
                planned = self._plan(job, open_trials)
            except Exception:  # one job's monitor must not stop the sweep of the others
                log.exception("monitor of %s failed", job.name)
                continue
            if isinstance(planned, _Watch):
                watches.append(planned)
            else:
                actions.extend(planned)
        reads = self._read_all(watches)
        for watch in watches:
            try:
                actions.extend(self._decide(watch, reads))
            except Exception:
                log.exception("monitor of %s failed", watch.job.name)
        for name, open_trials in opened:
            recovered.extend(self._recover(name, open_trials))
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

    def _recover(self, name: str, open_trials: list[TrialRecord]) -> list[str]:
        """Record finished training jobs whose event was lost; wake laps that missed a wake-up."""
        recovered = []
        for t in open_trials:
            if t.recorded:
                if t.task_token:
                    self.ports.tokens.succeed(t.task_token, {"Done": False, "TrialNumber": t.number})
                    # delivered now, or not deliverable any more (used, or its wait timed out): either
                    # way nothing is left to wake, and the trial leaves the open-trials index
                    self.ports.store.update_trial(name, t.number, task_token=None)
                continue
            if t.status == PENDING:
                continue
            desc = self.ports.backend.describe(t.training_job_name)
            if desc and desc.get("TrainingJobStatus") in TERMINAL_TRIAL:
                self.recorder.record_training_job(t.training_job_name)
                recovered.append(t.training_job_name)
        return recovered

    def _plan(self, job: JobRecord, open_trials: list[TrialRecord]) -> list[dict[str, Any]] | _Watch:
        """The limits of one active job (the actions they took), or its running trials to judge."""
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
        reason = self._hard_budget(job, req, open_trials)
        if reason:
            return [{"TuningJobName": job.name, "Action": "Stop", "Reason": reason}]
        if req.early_stopping != "Auto" and req.strategy != HYPERBAND:
            return []
        running = [t for t in open_trials if t.status == IN_PROGRESS and not t.recorded]
        if not running:
            return []
        recorded = {t.number: list(t.series) for t in self.ports.store.list_trials(job.name) if t.recorded}
        running = sorted((t for t in running if t.number not in recorded), key=lambda t: t.number)
        if not running:  # open_trials lagged behind a recording
            return []
        definition = req.definitions[0]  # early stopping and Hyperband: single definition
        return _Watch(job, req, definition, running, recorded)

    def _hard_budget(self, job: JobRecord, req: TuningRequest, open_trials: list[TrialRecord]) -> str | None:
        """``tuner:SpendPolicy=hard``: once the spent and the running trials' cost so far reach the
        budget (``core.budget.accrued``), the job ends and its running training jobs are stopped."""
        wanted = budget_of(req.tags)
        if wanted is None or wanted.policy != HARD:
            return None
        if not any(t.status == IN_PROGRESS and not t.recorded for t in open_trials):
            return None
        prices = prices_for(req.definitions, PriceTable.load(), job.region)
        trials = self.ports.store.list_trials(job.name)
        running = [t for t in trials if t.status == IN_PROGRESS and not t.recorded]
        total = accrued(spend_of(job.reservations, trials, prices), running, prices, self.ports.clock())
        if total < wanted.max_usd:
            return None
        reason = (f"{REASON_BUDGET}: the spend reached {MAX_SPEND_TAG} ${wanted.max_usd:g} "
                  f"(${total:.4f} with the running training jobs so far; policy {HARD})")
        return reason if self.lifecycle.end_early(job.name, reason) else None

    # ---- reads ----------------------------------------------------------------------------------
    def _read_all(self, watches: Sequence[_Watch]) -> dict[tuple[str, int], _Read]:
        """Every watched trial's new lines, at most ``concurrency`` reads at once, within the window."""
        tasks = [(w.job.name, t, _objective_only(w.definition)) for w in watches for t in w.running]
        if not tasks:
            return {}
        deadline = self.clock() + self.read_window

        def read(trial: TrialRecord, definitions: list[Mapping[str, str]]) -> _Read | None:
            if self.clock() > deadline:
                return None
            return self._read_trial(trial, definitions)

        reads: dict[tuple[str, int], _Read] = {}
        late = 0
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(tasks)), thread_name_prefix="monitor") as pool:
            # each read runs in a copy of this context (context variables, e.g. the caller's identity
            # that the offline twin checks IAM against, do not pass to a pool's threads by themselves)
            futures = [(name, t, pool.submit(contextvars.copy_context().run, read, t, defs)) for name, t, defs in tasks]
            for name, t, future in futures:
                try:
                    result = future.result()
                except Exception:  # one trial's read must not stop the others (its stored series stands)
                    log.exception("reading the logs of %s failed", t.training_job_name)
                    continue
                if result is None:
                    late += 1
                else:
                    reads[(name, t.number)] = result
        if late:
            log.warning("monitor: the sweep's read window (%g s) ended with %d of %d running trials not read; "
                        "they are judged on their stored series and read by the next sweep",
                        self.read_window, late, len(tasks))
        return reads

    def _read_trial(self, trial: TrialRecord, definitions: list[Mapping[str, str]]) -> _Read:
        """The lines of ``trial``'s training job after its cursor, parsed on from its stored state."""
        cursor = _own_cursor(trial)
        before = {k: list(v) for k, v in (cursor.get("streams") or {}).items()}
        position = {k: list(v) for k, v in before.items()}
        state = ParseState.from_dict(cursor.get("parse")) if cursor else None
        resumed = resume_metrics(
            self.ports.logs.lines_after(trial.training_job_name, position), definitions, state,
            pause_lines=self.sweep_lines, pause_seconds=self.sweep_seconds,
        )
        if resumed.paused:
            log.warning("monitor: %s: %s; the next sweep reads on from there",
                        trial.training_job_name, resumed.paused)
        objective = definitions[0]["Name"] if definitions else None
        series = resumed.series[objective].values if objective in resumed.series else []
        new = {"job": trial.training_job_name, "streams": position, "parse": resumed.state.to_dict()}
        return _Read(series, new, resumed.taken > 0 or position != before)

    def _stored_series(self, trial: TrialRecord, definition: Definition) -> list[float]:
        """A running trial's objective series as its cursor holds it (no read)."""
        cursor = _own_cursor(trial)
        if not cursor:
            return []
        definitions = _objective_only(definition)
        parsed = resume_metrics((), definitions, ParseState.from_dict(cursor.get("parse"))).series
        return parsed[definition.objective_metric].values if definition.objective_metric in parsed else []

    # ---- decisions ------------------------------------------------------------------------------
    def _decide(self, watch: _Watch, reads: Mapping[tuple[str, int], _Read]) -> list[dict[str, Any]]:
        """Judge one job's running trials on every series, then save the cursors that moved."""
        name = watch.job.name
        series = dict(watch.recorded)
        for t in watch.running:
            got = reads.get((name, t.number))
            series[t.number] = got.series if got is not None else self._stored_series(t, watch.definition)
        judged = [t for t in watch.running if not t.stopped_by]
        if watch.req.strategy == HYPERBAND:
            actions, rungs = self._hyperband(watch, judged, series)
        else:
            actions, rungs = self._median(watch.req, judged, series), {}
        stopped = {a["TrainingJobName"] for a in actions}
        for t in watch.running:
            got = reads.get((name, t.number))
            values: dict[str, Any] = {}
            if t.number in rungs:
                values["rung"] = rungs[t.number]
            if got is not None and got.moved:
                values["log_cursor"] = got.cursor
            if values and t.training_job_name not in stopped:
                self._save(t, values)
        return actions

    def _current(self, trial: TrialRecord) -> TrialRecord | None:
        """The trial as stored now, if it is still the running, unrecorded training job acted on."""
        fresh = self.ports.store.get_trial(trial.job, trial.number)
        if (fresh is None or fresh.recorded or fresh.status != IN_PROGRESS
                or fresh.training_job_name != trial.training_job_name):
            return None
        return fresh

    def _save(self, trial: TrialRecord, values: dict[str, Any]) -> None:
        fresh = self._current(trial)
        if fresh is None:
            return
        cursor = values.get("log_cursor")
        if cursor is not None:
            stored = _own_cursor(fresh)
            if int((stored.get("parse") or {}).get("lines", -1)) >= int(cursor["parse"]["lines"]):
                values.pop("log_cursor")  # an overlapping sweep got as far or further: keep its cursor
        if values:
            self.ports.store.update_trial(trial.job, trial.number, only_unrecorded=True, **values)

    def _stop(self, trial: TrialRecord, why: str) -> bool:
        fresh = self._current(trial)
        if fresh is None or fresh.stopped_by:
            return False
        self.lifecycle.stop_trial(fresh, why)
        return True

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
                if self._stop(t, why):
                    actions.append({"TrainingJobName": t.training_job_name, "Action": "Stop", "Reason": why})
        return actions

    def _hyperband(
        self, watch: _Watch, running: list[TrialRecord], series: dict[int, list[float]]
    ) -> tuple[list[dict[str, Any]], dict[int, int]]:
        """(the stops, the new rung of each trial promoted to a higher one)."""
        lo, hi = resources(watch.req.strategy_config, watch.definition.static_hyperparameters)
        actions = []
        rungs: dict[int, int] = {}
        for t in running:
            mine = series.get(t.number) or []
            others = [s for n, s in series.items() if n != t.number]
            decision, rung, why = asha_decision(mine, t.rung, others, watch.req.maximize, lo, hi)
            if decision == STOP:
                if self._stop(t, f"{HYPERBAND}: {why}"):
                    actions.append({"TrainingJobName": t.training_job_name, "Action": "Stop", "Reason": why})
            elif rung != t.rung:
                rungs[t.number] = rung
        return actions, rungs
