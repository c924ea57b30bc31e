"""The ``tuner`` command line.

    tuner local REQUEST.json --output-dir DIR   run a tuning job offline (moto, in-process)
    tuner validate REQUEST.json                 check a request without running it

Errors print one clear line on stderr and exit non-zero.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from tuner.errors import TuningError, ValidationError


def _load_request(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no such file: {path}; give the path of a CreateHyperParameterTuningJob request (JSON)")
    try:
        request = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise ValidationError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    if not isinstance(request, dict):
        raise ValidationError(f"{path} must hold a JSON object (the CreateHyperParameterTuningJob request)")
    return request


def _objective_value(summary: dict[str, Any] | None) -> float | None:
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
        state = (done, c["InProgress"], failed, best and best["TrainingJobName"], describe["HyperParameterTuningJobStatus"])
        if state == self.last:
            return
        self.last = state
        best_text = (
            f"best {_objective_value(best):.6g} ({best['TrainingJobName']})" if best else "best -"
        )
        print(
            f"[{time.monotonic() - self.start:7.1f}s] {describe['HyperParameterTuningJobStatus']:<10} "
            f"done {done}/{self.total}  running {c['InProgress']}  failed {failed}  {best_text}",
            file=self.stream,
            flush=True,
        )


def leaderboard(summaries: list[dict[str, Any]], maximize: bool, top: int = 10) -> str:
    scored = [s for s in summaries if _objective_value(s) is not None]
    scored.sort(key=lambda s: _objective_value(s), reverse=maximize)  # type: ignore[arg-type,return-value]
    lines = [f"{'rank':>4}  {'objective':>10}  {'status':<10}  training job / hyperparameters"]
    for i, s in enumerate(scored[:top], 1):
        hps = ", ".join(f"{k}={v}" for k, v in sorted(s["TunedHyperParameters"].items()))
        lines.append(f"{i:>4}  {_objective_value(s):>10.6g}  {s['TrainingJobStatus']:<10}  {s['TrainingJobName']}")
        lines.append(f"{'':>30}{hps}")
    unscored = len(summaries) - len(scored)
    if unscored:
        lines.append(f"({unscored} training job(s) without an objective value)")
    return "\n".join(lines)


def cmd_local(args: argparse.Namespace) -> int:
    from tuner.core.request import parse_request
    from tuner.core.results import to_json
    from tuner.local.harness import LocalTuner

    request = _load_request(args.request)
    if args.name:
        request["HyperParameterTuningJobName"] = args.name
    name = request.get("HyperParameterTuningJobName")
    try:
        total = parse_request(request).max_jobs
    except ValidationError:
        total = 0  # the state machine reports the problem as the job's FailureReason
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    print(f"Deploying the tuner stack into moto (offline) and starting {name} ...", flush=True)
    with LocalTuner(out / "work", sweep_interval=args.sweep_interval) as lt:
        lt.start(request, base_dir=Path(args.request).resolve().parent)
        describe = lt.wait(str(name), progress=Progress(total), timeout=args.timeout)
        jobs = lt.all_training_jobs(str(name))
        (out / "describe.json").write_text(to_json(describe) + "\n")
        (out / "training-jobs.json").write_text(to_json(jobs) + "\n")
        history = lt.history(str(name))
    wall = time.monotonic() - t0
    training = sum(
        (s["TrainingEndTime"] - s["TrainingStartTime"]).total_seconds()
        for s in jobs["TrainingJobSummaries"]
        if s.get("TrainingEndTime") and s.get("TrainingStartTime")
    )
    status = describe["HyperParameterTuningJobStatus"]
    objective = describe["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    print()
    print(leaderboard(jobs["TrainingJobSummaries"], objective.get("Type", "Maximize") == "Maximize"))
    print()
    print(f"Tuning job {name}: {status}")
    if describe.get("FailureReason"):
        print(f"FailureReason: {describe['FailureReason']}")
    best = describe.get("BestTrainingJob")
    if best:
        print(f"Best training job: {best['TrainingJobName']}  {objective.get('MetricName', 'objective')} = {_objective_value(best):.6g}")
        print("Hyperparameters: " + json.dumps(best["TunedHyperParameters"]))
    n = len(jobs["TrainingJobSummaries"])
    print(
        f"Wall time {wall:.1f} s (incl. synth + deploy); training time summed over {n} jobs {training:.1f} s; "
        f"{len(history)} execution history events ({len(history) / max(n, 1):.1f} per trial)"
    )
    print(f"Wrote {out / 'describe.json'} and {out / 'training-jobs.json'}")
    return 0 if status == "Completed" else 1


def cmd_validate(args: argparse.Namespace) -> int:
    from tuner.core.request import parse_request
    from tuner.shapes import validate_input

    request = _load_request(args.request)
    validate_input("CreateHyperParameterTuningJob", request)
    req = parse_request(request)
    print(f"{req.name}: valid ({req.strategy}, {req.max_jobs} jobs, {req.max_parallel} in parallel)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tuner", description="Self-hosted SageMaker-compatible hyperparameter tuning")
    sub = p.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="run a tuning job offline: the real stack and Lambdas inside moto")
    local.add_argument("request", help="a CreateHyperParameterTuningJob request (JSON file)")
    local.add_argument("--output-dir", default="out/local", help="where describe.json and training-jobs.json go")
    local.add_argument("--name", help="override HyperParameterTuningJobName")
    local.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    local.add_argument("--sweep-interval", type=float, default=5.0, help="seconds between sweeper runs")
    local.set_defaults(func=cmd_local)
    val = sub.add_parser("validate", help="validate a request without running it")
    val.add_argument("request")
    val.set_defaults(func=cmd_validate)
    return p


def _quiet_moto() -> None:
    """moto logs every unsupported CloudFormation type and every failed state: not for users."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", module="moto")
    for name in ("moto", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_moto()
    try:
        return int(args.func(args))
    except TuningError as err:
        print(f"tuner: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
