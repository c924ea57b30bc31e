"""What the CLIs share: reading a JSON input file, and what they print (live progress, the
leaderboard, the completion summary, tables). No AWS, no argument parsing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.core.objective import objective_of
from tuner.errors import ValidationError

if TYPE_CHECKING:
    from tuner.core.records import TrialRecord


def load_json_object(path: str, what: str) -> dict[str, Any]:
    """The JSON object in the file ``path`` (``what`` it should hold), or a ValidationError saying why not."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no such file: {path}; give the path of {what} (JSON)")
    try:
        value = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise ValidationError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    if not isinstance(value, dict):
        raise ValidationError(f"{path} must hold a JSON object ({what})")
    return value


class _DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default (unless it says it already, or there is none)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (not action.option_strings or "%(default)" in text or action.default in (None, False, True)
                or action.default is argparse.SUPPRESS):
            return action.help
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """The CLIs' parser: defaults shown in ``--help``, for every subcommand too (subparsers take
    their parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsShown)
        super().__init__(*args, **kwargs)


def objective_value(summary: Mapping[str, Any] | None) -> float | None:
    metric = (summary or {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    return metric["Value"] if metric else None


def failure_tail(reason: str, lines: int = 3) -> str:
    """A failure reason shortened for a progress line: its first line (the kind of error) and its
    last ``lines`` lines (where a traceback ends), indented."""
    rows = [r for r in reason.strip().splitlines() if r.strip()]
    if len(rows) > lines + 1:
        rows = [rows[0], "...", *rows[-lines:]]
    return "\n".join("    " + r for r in rows)


def no_metric(summaries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The training jobs that completed without an objective value (the metric's regex never
    matched what the script printed)."""
    return [s for s in summaries if s["TrainingJobStatus"] == "Completed" and s.get("ObjectiveStatus") == "Failed"]


class Progress:
    """One line per change: jobs done / running / failed / without a metric, and the best so far.

    ``jobs`` (optional) lists the tuning job's training job summaries; it is called only when the
    describe response's counters show a new failure. Then the line counts the jobs that completed
    without an objective value ("no metric"), and each job that failed, or completed with no metric,
    is shown once: the tail of its failure reason and where its output is (``log_hint(name)``: a
    file offline, ``tuner logs NAME`` deployed). A reason seen before is not repeated.
    """

    def __init__(
        self,
        total: int,
        stream: Any = sys.stdout,
        *,
        jobs: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
        log_hint: Callable[[str], str] | None = None,
        spend: Callable[[], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.total = total
        self.spend = spend  # a budgeted job's TuningJobSpend (Queries.extensions), shown as spent / budget
        self.stream = stream
        self.jobs = jobs
        self.log_hint = log_hint
        self.start = time.monotonic()
        self.last: tuple[Any, ...] | None = None
        self.no_metric: int | None = 0 if jobs is not None else None
        self._checked: tuple[int, int] | None = None
        self._shown: set[str] = set()
        self._reasons: dict[str, str] = {}

    def __call__(self, describe: dict[str, Any]) -> None:
        c = describe["TrainingJobStatusCounters"]
        best = describe.get("BestTrainingJob")
        done = c["Completed"] + c["Stopped"] + c["RetryableError"] + c["NonRetryableError"]
        failed = c["RetryableError"] + c["NonRetryableError"]
        self._check_jobs(failed, int(describe["ObjectiveStatusCounters"]["Failed"]))
        spent = spend_text(self.spend() if self.spend is not None else describe.get("TuningJobSpend"))
        state = (
            spent,
            done,
            c["InProgress"],
            failed,
            self.no_metric,
            best and best["TrainingJobName"],
            describe["HyperParameterTuningJobStatus"],
        )
        if state == self.last:
            return
        self.last = state
        best_text = f"best {objective_value(best):.6g} ({best['TrainingJobName']})" if best else "best -"
        no_metric_text = f"  no metric {self.no_metric}" if self.no_metric is not None else ""
        print(
            f"[{time.monotonic() - self.start:7.1f}s] {describe['HyperParameterTuningJobStatus']:<10} "
            f"done {done}/{self.total}  running {c['InProgress']}  failed {failed}{no_metric_text}  {best_text}"
            + (f"  {spent}" if spent else ""),
            file=self.stream,
            flush=True,
        )

    def _check_jobs(self, failed: int, objective_failed: int) -> None:
        """Read the training jobs when the counters show a new failure; show each new one once."""
        if self.jobs is None or (failed, objective_failed) == self._checked:
            return
        try:
            summaries = list(self.jobs())
        except Exception:  # progress is a courtesy: a failed read waits for the next change
            return
        self._checked = (failed, objective_failed)
        quiet = no_metric(summaries)
        self.no_metric = len(quiet)
        for s in [*(s for s in summaries if s["TrainingJobStatus"] == "Failed"), *quiet]:
            self._show(s)

    def _show(self, summary: Mapping[str, Any]) -> None:
        name = summary["TrainingJobName"]
        if name in self._shown:
            return
        self._shown.add(name)
        what = "failed" if summary["TrainingJobStatus"] == "Failed" else "completed without an objective value"
        reason = str(summary.get("FailureReason") or "").strip()
        hint = f"; output: {self.log_hint(name)}" if self.log_hint else ""
        if reason and reason in self._reasons:
            print(f"  {name} {what} (the same reason as {self._reasons[reason]}){hint}", file=self.stream, flush=True)
            return
        if reason:
            self._reasons[reason] = name
        print(f"  {name} {what}{hint}", file=self.stream, flush=True)
        if reason:
            print(failure_tail(reason), file=self.stream, flush=True)


def _short(value: str) -> str:
    """A hyperparameter value for the leaderboard: a number to 6 significant digits, text as is."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(value) if number.is_integer() and "." not in str(value) else f"{number:.6g}"


def stop_note(trial: TrialRecord) -> str | None:
    """Where a Stopped trial was cut, from its record: by what (early stopping, Hyperband and its
    rung, the tuning job's stop, a completion criterion or MaxRuntimeInSeconds) and after how many
    objective values (its last epoch). None for a trial that was not stopped."""
    from tuner.analytics import progress_of
    from tuner.core.records import STOPPED

    if trial.status != STOPPED:
        return None
    return progress_of([trial])[trial.training_job_name].note(trial.status)


def leaderboard(
    summaries: Sequence[Mapping[str, Any]],
    maximize: bool,
    top: int = 10,
    notes: Mapping[str, str] | None = None,
) -> str:
    """The ``top`` training jobs by objective value, best first (``maximize``: the tuning job's
    direction, ``tuner.core.objective.job_maximizes``), each with its hyperparameters, its training
    job definition when the job has several, and ``notes[name]`` (where a stopped job was cut:
    ``stop_note``). The header names the objective metric; a line counts the jobs without a value."""
    notes = notes or {}
    scored = [s for s in summaries if objective_value(s) is not None]
    scored.sort(key=lambda s: objective_value(s), reverse=maximize)  # type: ignore[arg-type,return-value]
    metrics = {s["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] for s in scored}
    header = metrics.pop() if len(metrics) == 1 else "objective"
    width = max(10, len(header))
    definitions = any(s.get("TrainingJobDefinitionName") for s in summaries)
    dwidth = max([10, *(len(s.get("TrainingJobDefinitionName") or "") for s in summaries)])
    dcol = f"{'definition':<{dwidth}}  " if definitions else ""
    lines = [f"{'rank':>4}  {header:>{width}}  {'status':<10}  {dcol}training job / hyperparameters"]
    indent = " " * (4 + 2 + width + 2 + 10 + 2 + len(dcol))
    for i, s in enumerate(scored[:top], 1):
        d = f"{s.get('TrainingJobDefinitionName') or '-':<{dwidth}}  " if definitions else ""
        lines.append(
            f"{i:>4}  {objective_value(s):>{width}.6g}  {s['TrainingJobStatus']:<10}  {d}{s['TrainingJobName']}"
        )
        hps = ", ".join(f"{k}={_short(v)}" for k, v in sorted(s["TunedHyperParameters"].items()))
        lines.append(f"{indent}{hps}")
        if notes.get(s["TrainingJobName"]):
            lines.append(f"{indent}{notes[s['TrainingJobName']]}")
    rest = scored[top:]
    if rest:
        stopped = sum(1 for s in rest if s["TrainingJobStatus"] == "Stopped")
        of_them = f", {stopped} of them Stopped" if stopped else ""
        lines.append(f"({len(rest)} more with an objective value{of_them})")
    unscored = [s for s in summaries if objective_value(s) is None]
    if unscored:
        kinds = {
            "failed": sum(1 for s in unscored if s["TrainingJobStatus"] == "Failed"),
            "no metric": len(no_metric(unscored)),
            "stopped first": sum(1 for s in unscored if s["TrainingJobStatus"] == "Stopped"),
            "running": sum(1 for s in unscored if s["TrainingJobStatus"] in ("InProgress", "Stopping")),
        }
        detail = ", ".join(f"{k} {v}" for k, v in kinds.items() if v)
        lines.append(f"({len(unscored)} training job(s) without an objective value: {detail})")
    return "\n".join(lines)


def completion_point(
    criteria: Mapping[str, Any] | None, trials: Sequence[TrialRecord], maximize: bool
) -> tuple[int, int] | None:
    """``(met_at, ran)``: after how many finished training jobs (in the order they ended) the
    tuning job's ``TuningJobCompletionCriteria`` were first met (``tuner.core.completion``'s own
    rule, evaluated over each prefix as the service evaluates it at each recorded job), and how many
    training jobs ran in all. ``ran - met_at`` is the overshoot: the jobs already running when the
    criterion was met (at most ``MaxParallelTrainingJobs - 1``). None when no criterion was met."""
    from tuner.core.completion import completion_reason

    finished = sorted((t for t in trials if t.terminal), key=lambda t: (t.ended or "", t.number))
    for k in range(1, len(finished) + 1):
        if completion_reason(criteria, finished[:k], maximize):
            ran = sum(1 for t in trials if t.started or t.status != "Stopped")
            return k, ran
    return None


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.6g}"
        if hasattr(v, "strftime"):
            return v.strftime("%Y-%m-%d %H:%M:%S")
        return str(v)

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def spend_text(spend: Mapping[str, Any] | None) -> str | None:
    """``spent $S / $B (held $R, policy P)`` of a budgeted job's ``TuningJobSpend``; None without one."""
    if not spend:
        return None
    return (f"spent ${spend['SpentUSD']:.4f} / ${spend['MaxSpendUSD']:g} (held ${spend['ReservedUSD']:.4f}, "
            f"policy {spend['SpendPolicy']})")


def set_max_spend(request: dict[str, Any], usd: float | None, policy: str | None = None) -> None:
    """``--max-spend`` (and ``--spend-policy``): set the budget's tags on the request, replacing any
    given (``tuner.core.budget``; its values are checked as the request's are)."""
    from tuner.core.budget import set_tags

    if usd is None and policy is None:
        return
    request["Tags"] = set_tags(request.get("Tags"), usd, policy)  # a bad value says so now


def describe_table(d: dict[str, Any]) -> str:
    c = d["TrainingJobStatusCounters"]
    o = d["ObjectiveStatusCounters"]
    config = d.get("HyperParameterTuningJobConfig") or {}
    objective = objective_of(d) or {}
    best = d.get("BestTrainingJob")
    overall = d.get("OverallBestTrainingJob")
    details = d.get("TuningJobCompletionDetails") or {}
    rows = [
        ("Name", d["HyperParameterTuningJobName"]),
        ("Status", d["HyperParameterTuningJobStatus"]),
        ("Strategy", config.get("Strategy")),
        ("Objective", f"{objective.get('Type', '')} {objective.get('MetricName', '')}".strip() or None),
        ("Training jobs", ", ".join(f"{k} {v}" for k, v in c.items())),
        ("Objective status", ", ".join(f"{k} {v}" for k, v in o.items())),
        ("Created", d.get("CreationTime")),
        ("Ended", d.get("HyperParameterTuningEndTime")),
        ("Best training job", best["TrainingJobName"] if best else None),
        ("Best objective", objective_value(best)),
        ("Best hyperparameters", json.dumps(best["TunedHyperParameters"]) if best else None),
        (
            "Overall best (with parents)",
            f"{overall['TrainingJobName']} ({overall.get('TuningJobName')}) {objective_value(overall):.6g}"
            if overall and objective_value(overall) is not None
            else None,
        ),
        ("Converged", details.get("ConvergenceDetectedTime")),
        ("Spend", spend_text(d.get("TuningJobSpend"))),
        ("Completion reason", d.get("TuningJobCompletionReason")),
        ("FailureReason", d.get("FailureReason")),
    ]
    return table(["Field", "Value"], [r for r in rows if r[1] is not None])


def jobs_table(summaries: list[dict[str, Any]]) -> str:
    names = sorted({k for s in summaries for k in s.get("TunedHyperParameters", {})})
    rows = []
    for s in summaries:
        start, end = s.get("TrainingStartTime"), s.get("TrainingEndTime")
        rows.append(
            [
                s["TrainingJobName"],
                s["TrainingJobStatus"],
                objective_value(s),
                *[s.get("TunedHyperParameters", {}).get(n) for n in names],
                (end - start).total_seconds() if start and end else None,
            ]
        )
    return table(["TrainingJobName", "Status", "Objective", *names, "Seconds"], rows)
