"""What the CLIs share: reading a JSON input file, and what they print (live progress, the
leaderboard, tables). No AWS, no argument parsing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuner.core.objective import objective_of
from tuner.errors import ValidationError


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


def objective_value(summary: dict[str, Any] | None) -> float | None:
    metric = (summary or {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    return metric["Value"] if metric else None


class Progress:
    """One line per change: jobs done / running / failed and the best so far."""

    def __init__(self, total: int, stream: Any = sys.stdout) -> None:
        self.total = total
        self.stream = stream
        self.start = time.monotonic()
        self.last: tuple[Any, ...] | None = None

    def __call__(self, describe: dict[str, Any]) -> None:
        c = describe["TrainingJobStatusCounters"]
        best = describe.get("BestTrainingJob")
        done = c["Completed"] + c["Stopped"] + c["RetryableError"] + c["NonRetryableError"]
        failed = c["RetryableError"] + c["NonRetryableError"]
        state = (
            done,
            c["InProgress"],
            failed,
            best and best["TrainingJobName"],
            describe["HyperParameterTuningJobStatus"],
        )
        if state == self.last:
            return
        self.last = state
        best_text = f"best {objective_value(best):.6g} ({best['TrainingJobName']})" if best else "best -"
        print(
            f"[{time.monotonic() - self.start:7.1f}s] {describe['HyperParameterTuningJobStatus']:<10} "
            f"done {done}/{self.total}  running {c['InProgress']}  failed {failed}  {best_text}",
            file=self.stream,
            flush=True,
        )


def leaderboard(summaries: list[dict[str, Any]], maximize: bool, top: int = 10) -> str:
    scored = [s for s in summaries if objective_value(s) is not None]
    scored.sort(key=lambda s: objective_value(s), reverse=maximize)  # type: ignore[arg-type,return-value]
    lines = [f"{'rank':>4}  {'objective':>10}  {'status':<10}  training job / hyperparameters"]
    for i, s in enumerate(scored[:top], 1):
        hps = ", ".join(f"{k}={v}" for k, v in sorted(s["TunedHyperParameters"].items()))
        lines.append(
            f"{i:>4}  {objective_value(s):>10.6g}  {s['TrainingJobStatus']:<10}  {s['TrainingJobName']}"
        )
        lines.append(f"{'':>30}{hps}")
    unscored = len(summaries) - len(scored)
    if unscored:
        lines.append(f"({unscored} training job(s) without an objective value)")
    return "\n".join(lines)


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
