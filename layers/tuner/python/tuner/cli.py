"""The ``tuner`` command line.

Against a deployed tuner stack (``--region``, ``--stack-name``; AWS credentials as for boto3).
create, stop and tags go through the stack's caller-checked front door (docs/security.md), signed
with your credentials; ``--direct`` starts the state machine itself (administrators only):

    tuner create REQUEST.json [--wait]          start a tuning job (local sources are uploaded)
    tuner describe NAME [--wait]                DescribeHyperParameterTuningJob
    tuner list [--status S] [--name-contains T] ListHyperParameterTuningJobs
    tuner training-jobs NAME [--sort-by ...]    every training job of a tuning job
    tuner best NAME                             the best training job
    tuner stop NAME [--wait]                    StopHyperParameterTuningJob
    tuner analytics NAME [--csv FILE]           the SDK's analytics table (pandas)
    tuner report NAME --out DIR                 HTML report + PNG charts
    tuner deploy NAME --endpoint-name E         model + endpoint config + endpoint of the best job
    tuner logs TRAINING_JOB                     a training job's output (CloudWatch Logs)

Offline (no AWS account: the real stack and Lambdas inside moto):

    tuner local REQUEST.json --output-dir DIR   run a tuning job, write describe/jobs JSON + report
    tuner logs TRAINING_JOB --output-dir DIR    a training job's output from that run
    tuner validate REQUEST.json                 check a request without running it

Output is JSON on stdout (scripts); ``--table`` prints a readable table instead. ``--wait`` prints
live progress on stderr (jobs done / running / failed / completed without a metric, best so far,
and each failure's reason) until the job ends. Errors print one clear line on stderr and exit 2.

``tuner local`` keeps each training job's output in ``DIR/training-jobs/<job>.log``. Ctrl-C or
``--timeout`` stops the tuning job (its running training jobs are stopped), then writes what
finished (describe.json, training-jobs.json, the report) and exits ``EXIT_INTERRUPTED`` (130) or
``EXIT_TIMEOUT`` (3); a second Ctrl-C quits at once without writing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuner import constants
from tuner.analytics import TunerDetails
from tuner.analytics import details as tuner_details
from tuner.cli_common import (
    Progress,
    completion_point,
    describe_table,
    jobs_table,
    leaderboard,
    load_json_object,
    objective_value,
    set_max_spend,
    stop_note,
    table,
)
from tuner.core.budget import budget_of
from tuner.core.objective import job_maximizes
from tuner.errors import TuningError, ValidationError

#: Exit codes: a failed or stopped tuning job 1, bad input 2, a timeout 3, Ctrl-C 130 (128 + SIGINT).
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130
#: Where ``tuner local`` keeps each training job's output, under its output directory.
TRAINING_LOGS = constants.TRAINING_LOGS_FOLDER


def loop_overhead(describe: dict[str, Any], training_seconds: float) -> str | None:
    """The tuning loop's wall time (creation to end, as describe reports it) against the ideal: the
    summed training time spread over ``MaxParallelTrainingJobs``. None when the job has no end time."""
    start, end = describe.get("CreationTime"), describe.get("HyperParameterTuningEndTime")
    parallel = int(describe["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"])
    if start is None or end is None or training_seconds <= 0:
        return None
    loop = (end - start).total_seconds()
    ideal = training_seconds / parallel
    return (
        f"Tuning loop {loop:.1f} s for {training_seconds:.1f} s of training at {parallel} in parallel "
        f"(ideal {ideal:.1f} s): overhead ratio {loop / ideal:.2f}x"
    )


IDLE_SWEEPS = 5


def _cost_lines(lt: Any, trials: int) -> list[str]:
    """The tuner's overhead in this run and a month of idling, priced (docs/cost.md); idle sweeps are
    measured here, as the schedule would run them with no job: the median of ``IDLE_SWEEPS`` by
    Lambda GB-seconds (the in-process run time moves with the machine's load)."""
    from tuner.core import cost
    from tuner.local.metering import fixed_resources

    try:
        table = cost.PriceTable.load()
        usage = lt.usage()
        sweeps = []
        for _ in range(IDLE_SWEEPS):
            before = lt.usage()
            lt.sweep()
            sweeps.append(lt.usage() - before)
        sweep = sorted(sweeps, key=lambda u: u.lambda_gb_seconds)[len(sweeps) // 2]
        keys, metrics = fixed_resources(lt.deployment.template)
        idle = cost.idle_month(sweep, table, lt.region, alarm_metrics=metrics, keys=keys)
        return cost.summary(usage, trials, idle, table, lt.region)
    except ValidationError as err:
        return [f"(no cost estimate: {err})"]


class _Interrupts:
    """While active, the first SIGINT (Ctrl-C) only sets ``requested``: the wait loop stops at its
    next poll and the tuning job is stopped cleanly. The handler then gives way to Python's own,
    so a second Ctrl-C raises ``KeyboardInterrupt`` at once. Outside the main thread: inactive."""

    def __init__(self) -> None:
        import threading

        self.requested = threading.Event()
        self._previous: Any = None

    def __enter__(self) -> _Interrupts:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        import signal

        self.requested.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def cmd_local(args: argparse.Namespace) -> int:
    from tuner.core.results import to_json
    from tuner.local.harness import LocalTuner
    from tuner.service.create import check_request

    request = load_json_object(args.request, "a CreateHyperParameterTuningJob request")
    if args.name:
        request["HyperParameterTuningJobName"] = args.name
    set_max_spend(request, args.max_spend, args.spend_policy)
    name = str(request.get("HyperParameterTuningJobName"))
    base_dir = Path(args.request).resolve().parent
    # tuner validate's checks, every problem at once, before anything is deployed (the offline
    # deployment's quotas are AMT's); what needs the deployment (warm-start parents) its create step checks
    total = check_request(request, local_dir=base_dir).max_jobs
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    logs = out / TRAINING_LOGS
    t0 = time.monotonic()
    print(f"Deploying the tuner stack into moto (offline) and starting {name} ...", flush=True)
    with LocalTuner(out / "work", sweep_interval=args.sweep_interval, training_logs=logs) as lt:
        served = _serve(lt, args.port) if args.serve else None
        lt.start(request, base_dir=base_dir)
        if served is not None:
            print("\n".join(served.instructions(name)), flush=True)
        progress: Any = Progress(
            total,
            jobs=lambda: lt.all_training_jobs(name)["TrainingJobSummaries"],
            log_hint=lambda job: str(lt.log_path(job)),
            spend=(lambda: lt.service.queries.extensions(name).get("TuningJobSpend"))
            if budget_of(request.get("Tags")) else None,
        )
        if served is not None:
            progress = _LiveReport(progress, lt, name, out / "report")
        describe, interruption = _run_local(lt, name, progress, args.timeout)
        jobs = lt.all_training_jobs(name)
        (out / "describe.json").write_text(to_json(describe) + "\n")
        (out / "training-jobs.json").write_text(to_json(jobs) + "\n")
        record, trials = lt.service.queries.job(name)
        details = tuner_details(lt, name)
        history = lt.history(name)
        refused = lt.iam.report() if lt.iam_denials() else ""
        costs = [] if interruption else _cost_lines(lt, len(jobs["TrainingJobSummaries"]))
        if served is not None and interruption:
            served.stop()  # interrupted: the user is leaving
        elif served is not None:
            _serve_until_interrupted(served, describe, jobs, out / "report", details)
    report = _write_report(describe, jobs["TrainingJobSummaries"], out / "report", details)
    wall = time.monotonic() - t0
    summaries = jobs["TrainingJobSummaries"]
    training = sum(
        (s["TrainingEndTime"] - s["TrainingStartTime"]).total_seconds()
        for s in summaries
        if s.get("TrainingEndTime") and s.get("TrainingStartTime")
    )
    status = describe["HyperParameterTuningJobStatus"]
    maximize = job_maximizes(describe)
    notes = {t.training_job_name: note for t in trials if (note := stop_note(t))}
    print()
    print(leaderboard(summaries, maximize, notes=notes))
    print()
    print(f"Tuning job {name}: {status}")
    if interruption:
        print(interruption)
    for line in completion_lines(describe, record.completion_reason, trials, maximize):
        print(line)
    if describe.get("FailureReason"):
        print(f"FailureReason: {describe['FailureReason']}")
    best = describe.get("BestTrainingJob")
    if best:
        metric = (best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("MetricName", "objective")
        where = f" ({best['TrainingJobDefinitionName']})" if best.get("TrainingJobDefinitionName") else ""
        print(f"Best training job: {best['TrainingJobName']}{where}  {metric} = {objective_value(best):.6g}")
        print("Hyperparameters: " + json.dumps(best["TunedHyperParameters"]))
    n = len(summaries)
    print(
        f"Wall time {wall:.1f} s (incl. synth + deploy); "
        f"training time summed over {n} jobs {training:.1f} s; "
        f"{len(history)} history events in the tuning job's execution (its laps keep their own)"
    )
    overhead = loop_overhead(describe, training)
    if overhead and not interruption:
        print(overhead)
    for line in costs:
        print(line)
    print(f"Wrote {out / 'describe.json'} and {out / 'training-jobs.json'}")
    print(f"Training job output: {logs}/<training job>.log (tuner logs NAME --output-dir {out})")
    if report:
        print(f"Report: {report}")
    if refused:
        # A call the deployed roles refuse would be refused in an account too (tuner.local.iam).
        print("\nIAM refused calls of the tuner's own functions (the stack lacks these grants):", file=sys.stderr)
        print(refused, file=sys.stderr)
        return 1
    if interruption:
        return EXIT_TIMEOUT if interruption.startswith("Timed out") else EXIT_INTERRUPTED
    return 0 if status == "Completed" else 1


def _serve(lt: Any, port: int) -> Any:
    from tuner.local.serve import ServedDeployment

    return ServedDeployment(port=port, region=lt.region).start()


class _LiveReport:
    """The progress callback of ``tuner local --serve``: the progress line, and the report rewritten
    every ``LIVE_REPORT_SECONDS`` while the job runs (the page reloads itself: ``report.REFRESH_SECONDS``)."""

    LIVE_REPORT_SECONDS = 20.0

    def __init__(self, progress: Any, lt: Any, name: str, out: Path) -> None:
        self.progress, self.lt, self.name, self.out = progress, lt, name, out
        self._last = 0.0

    def __call__(self, describe: dict[str, Any]) -> None:
        self.progress(describe)
        if time.monotonic() - self._last < self.LIVE_REPORT_SECONDS:
            return
        self._last = time.monotonic()
        summaries = self.lt.all_training_jobs(self.name)["TrainingJobSummaries"]
        _write_report(describe, summaries, self.out, tuner_details(self.lt, self.name))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.progress, attr)


def _serve_until_interrupted(
    served: Any, describe: dict[str, Any], jobs: dict[str, Any], out: Path, details: TunerDetails | None
) -> None:
    """The job has ended: keep the deployment served (its final report written) until Ctrl-C.

    Ctrl-C is taken even when this process was started with SIGINT ignored (a background job of a
    non-interactive shell inherits that), else nothing could end the serving but a kill."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        report = _write_report(describe, jobs["TrainingJobSummaries"], out, details)
        print(
            f"{describe['HyperParameterTuningJobName']} ended {describe['HyperParameterTuningJobStatus']}"
            + (f"; report: {report}" if report else "")
            + f". Still serving on {served.url}: Ctrl-C to stop (the summary follows).",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print()
    finally:
        served.stop()
        signal.signal(signal.SIGINT, previous)


def _run_local(lt: Any, name: str, progress: Progress, timeout: float) -> tuple[dict[str, Any], str | None]:
    """Wait for the offline tuning job; on Ctrl-C or after ``timeout`` s stop it (its running
    training jobs are stopped) and wait for it to end. Returns its describe response and, when it
    was interrupted, a line saying how (None: it ended by itself)."""
    with _Interrupts() as interrupts:
        try:
            return lt.wait(name, progress=progress, timeout=timeout, interrupted=interrupts.requested.is_set), None
        except KeyboardInterrupt:
            how = "Interrupted (Ctrl-C)"
        except TimeoutError:
            how = f"Timed out after {timeout:g} s (--timeout)"
    print(f"{how}: stopping {name} and its running training jobs (Ctrl-C again to quit at once) ...", flush=True)
    try:
        describe = lt.stop_and_wait(name, progress=progress)
    except TimeoutError as err:
        print(f"tuner: warning: {err}; writing what has finished so far", file=sys.stderr)
        describe = lt.describe(name)
    return describe, f"{how}: the tuning job was stopped; what finished is kept below."


def completion_lines(
    describe: dict[str, Any], reason: str | None, trials: Sequence[Any], maximize: bool
) -> list[str]:
    """Why the tuning job ended before MaxNumberOfTrainingJobs (kept by the tuner: AMT's describe
    has no field for it), and, for a completion criterion, after how many finished jobs it was met
    and how many ran past it (the jobs already running then: at most MaxParallelTrainingJobs - 1)."""
    if not reason or describe.get("HyperParameterTuningJobStatus") == "Failed":
        return []  # a job that failed early (no training job succeeded) says why in its FailureReason
    lines = [f"Completion reason: {reason}"]
    config = describe.get("HyperParameterTuningJobConfig") or {}
    point = completion_point(config.get("TuningJobCompletionCriteria"), trials, maximize)
    if point is not None:
        met_at, ran = point
        parallel = int((config.get("ResourceLimits") or {}).get("MaxParallelTrainingJobs") or 1)
        lines.append(
            f"Met after {met_at} finished training jobs; {ran} ran in all: overshoot {ran - met_at} "
            f"(the jobs already running then; at most MaxParallelTrainingJobs - 1 = {parallel - 1})"
        )
    return lines


def _write_report(
    describe: dict[str, Any], summaries: list[dict[str, Any]], out: Path, details: TunerDetails | None = None
) -> Path | None:
    try:
        from tuner.report import write_report

        return write_report(describe, summaries, out, details)
    except ImportError as err:  # matplotlib is an optional dependency
        print(f"(no report: {err}; pip install matplotlib)", file=sys.stderr)
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    """The checks ``tuner local`` runs before it deploys and the create step runs (every problem at
    once, exit 2), with AMT's default quotas; local paths are accepted as ``tuner local`` and
    ``tuner create`` upload them, and listed."""
    from tuner.service.create import check_request, local_paths

    request = load_json_object(args.request, "a CreateHyperParameterTuningJob request")
    base_dir = Path(args.base_dir) if args.base_dir else Path(args.request).resolve().parent
    req = check_request(request, local_dir=base_dir)
    print(f"{req.name}: valid ({req.strategy}, {req.max_jobs} jobs, {req.max_parallel} in parallel)")
    uploads = local_paths(req, request)
    if uploads:
        print(f"Local paths (relative to {base_dir}), uploaded to S3 by tuner local and tuner create:")
        for field, path in uploads:
            print(f"  {field}: {path}")
    later = [what for what, needed in (
        ("the warm-start parents", req.warm_start is not None),
        ("each AlgorithmName (DescribeAlgorithm)",
         any((d.raw.get("AlgorithmSpecification") or {}).get("AlgorithmName") for d in req.definitions)),
    ) if needed]
    if later:
        print(f"Checked when the job is created (they need the deployment): {', '.join(later)}")
    return 0


# ---- commands against a deployed stack -------------------------------------------------------
def _client(args: argparse.Namespace) -> Any:
    from tuner.client import TunerClient

    return TunerClient(
        region_name=args.region, stack_name=args.stack_name, front_door=False if args.direct else None
    )


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _emit(obj: Any, args: argparse.Namespace, render: Any = None) -> None:
    from tuner.core.results import to_json

    if getattr(args, "table", False) and render is not None:
        print(render(obj))
    else:
        print(to_json(_strip(obj) if isinstance(obj, dict) else obj))


def _wait(client: Any, name: str, args: argparse.Namespace) -> dict[str, Any]:
    d = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    limits = (d.get("HyperParameterTuningJobConfig") or {}).get("ResourceLimits") or {}
    progress = Progress(
        int(limits.get("MaxNumberOfTrainingJobs") or 0),
        stream=sys.stderr,
        jobs=lambda: client.all_training_jobs(name),
        log_hint=lambda job: f"tuner logs {job}",
        spend=(lambda: _extensions(client, name).get("TuningJobSpend"))
        if "TuningJobSpend" in _extensions(client, name) else None,
    )
    return client.wait_for_tuning_job(name, poll=args.poll, timeout=args.timeout, progress=progress)


def cmd_create(args: argparse.Namespace) -> int:
    request = load_json_object(args.request, "a CreateHyperParameterTuningJob request")
    if args.name:
        request["HyperParameterTuningJobName"] = args.name
    set_max_spend(request, args.max_spend, args.spend_policy)
    client = _client(args)
    base_dir = Path(args.base_dir) if args.base_dir else Path(args.request).resolve().parent
    request = (
        client.upload_sources(request, base_dir, report=lambda line: print(f"tuner: {line}", file=sys.stderr))
        if client.bucket_name
        else request
    )
    created = client.create_hyper_parameter_tuning_job(**request)
    if not args.wait:
        _emit(
            created,
            args,
            lambda r: table(["HyperParameterTuningJobArn"], [[r["HyperParameterTuningJobArn"]]]),
        )
        return 0
    d = _wait(client, request["HyperParameterTuningJobName"], args)
    _emit(d, args, describe_table)
    return 0 if d["HyperParameterTuningJobStatus"] == "Completed" else 1


def cmd_describe(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.wait:
        d = _wait(client, args.name, args)
    else:
        d = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=args.name)
    d.update(_extensions(client, args.name))
    _emit(d, args, describe_table)
    return 0


def _extensions(client: Any, name: str) -> dict[str, Any]:
    """The tuner's members beside Describe's (completion reason, spend) when the client reads the
    deployment's store itself; a client through the front door shows Describe's shape only."""
    try:
        return dict(client.service.queries.extensions(name))
    except Exception:  # noqa: BLE001 - an extra, never a reason for describe to fail
        return {}


def cmd_list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {
        "SortBy": args.sort_by,
        "SortOrder": args.sort_order,
        "MaxResults": args.max_results,
    }
    if args.status:
        params["StatusEquals"] = args.status
    if args.name_contains:
        params["NameContains"] = args.name_contains
    r = _client(args).list_hyper_parameter_tuning_jobs(**params)

    def render(r: dict[str, Any]) -> str:
        rows = []
        for j in r["HyperParameterTuningJobSummaries"]:
            c = j["TrainingJobStatusCounters"]
            rows.append(
                [
                    j["HyperParameterTuningJobName"],
                    j["HyperParameterTuningJobStatus"],
                    j["Strategy"],
                    c["Completed"],
                    c["InProgress"],
                    c["RetryableError"] + c["NonRetryableError"],
                    j["CreationTime"],
                ]
            )
        return table(["Name", "Status", "Strategy", "Completed", "InProgress", "Failed", "Created"], rows)

    _emit(r, args, render)
    return 0


def cmd_training_jobs(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"SortBy": args.sort_by, "SortOrder": args.sort_order}
    if args.status:
        params["StatusEquals"] = args.status
    jobs = _client(args).all_training_jobs(args.name, **params)
    if args.max_results:
        jobs = jobs[: args.max_results]
    _emit({"TrainingJobSummaries": jobs}, args, lambda r: jobs_table(r["TrainingJobSummaries"]))
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    d = _client(args).describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=args.name)
    best = d.get("BestTrainingJob")
    if not best:
        raise ValidationError(
            f"tuning job {args.name} ({d['HyperParameterTuningJobStatus']}) has no best training job yet"
        )
    _emit(best, args, lambda b: jobs_table([b]))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    client = _client(args)
    client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=args.name)
    if args.wait:
        _emit(_wait(client, args.name, args), args, describe_table)
    else:
        print(f"Stopping {args.name}", file=sys.stderr)
    return 0


def cmd_analytics(args: argparse.Namespace) -> int:
    from tuner.analytics import COST_COLUMN, TuningJobAnalytics

    a = TuningJobAnalytics(args.name, _client(args))
    if args.csv:
        print(f"Wrote {a.export_csv(args.csv)}", file=sys.stderr)
    if args.table:
        frame = a.dataframe()
        costs = a.costs()  # the tuner's column beside the SDK's: each training job's cost
        if costs and len(frame):
            frame[COST_COLUMN] = frame["TrainingJobName"].map(costs)
        print(frame.to_string(index=False))
        pick = a.model_pick()
        if pick is not None:
            print(f"\nThe model's pick (best posterior mean; it puts {pick['NoiseShare']:.0%} of the variation down "
                  f"to noise): {pick['TrainingJobName']} ({pick['Value']:.6g}); best observed: "
                  f"{pick['BestObservedTrainingJobName']}")
    else:
        out: dict[str, Any] = {"Rows": a.rows_with_cost()}
        pick = a.model_pick()
        if pick is not None:
            out["ModelPick"] = pick
        _emit(out, args)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from tuner.report import report_for

    path = report_for(_client(args), args.name, args.out)
    print(path)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    """A training job's output: from ``tuner local``'s output directory, or from CloudWatch Logs
    (``/aws/sagemaker/TrainingJobs``, every host's streams, host by host)."""
    if args.output_dir:
        for line in _offline_log(Path(args.output_dir), args.training_job):
            sys.stdout.write(line)
        return 0
    import boto3

    from tuner.aws.logs import CloudWatchLogSource

    source = CloudWatchLogSource(boto3.session.Session(region_name=args.region).client("logs"))
    printed = 0
    for line in source.lines(args.training_job, host=None):
        print(line)
        printed += 1
    if not printed:
        from tuner.constants import TRAINING_LOG_GROUP

        raise ValidationError(
            f"no log events for training job {args.training_job} in {TRAINING_LOG_GROUP} (check the name and "
            "--region; a job that failed before its script started has none; for a tuner local run give "
            "--output-dir)"
        )
    return 0


def _offline_log(out: Path, training_job: str) -> Any:
    """The lines of ``training_job``'s output kept by ``tuner local --output-dir out``; a
    ValidationError that says why there are none (the job printed nothing, or is not in that run)."""
    path = out / TRAINING_LOGS / f"{training_job}.log"
    if path.is_file():
        with path.open(encoding="utf-8", errors="replace") as f:
            yield from f
        return
    summaries = _offline_summaries(out)
    known = {s["TrainingJobName"]: s for s in summaries}
    if training_job in known:
        reason = known[training_job].get("FailureReason")
        raise ValidationError(
            f"training job {training_job} printed nothing"
            + (f" (it failed before its script started: {reason})" if reason else "")
        )
    kept = sorted(p.stem for p in (out / TRAINING_LOGS).glob("*.log"))
    if not kept and not summaries:
        raise ValidationError(f"{out} holds no tuner local run (no {TRAINING_LOGS}/ or training-jobs.json); "
                              "give the --output-dir of tuner local")
    names = kept or sorted(known)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    raise ValidationError(f"no training job {training_job} in the run in {out}; it has {shown}")


def _offline_summaries(out: Path) -> list[dict[str, Any]]:
    """The training job summaries ``tuner local`` wrote (none when the run wrote none yet)."""
    path = out / "training-jobs.json"
    if not path.is_file():
        return []
    return list(load_json_object(str(path), "training job summaries").get("TrainingJobSummaries") or [])


def cmd_deploy(args: argparse.Namespace) -> int:
    from tuner.deploy_model import deploy_best

    r = deploy_best(
        _client(args),
        args.name,
        args.endpoint_name,
        instance_type=args.instance_type,
        initial_instance_count=args.instance_count,
        model_name=args.model_name,
        wait=args.wait,
    )
    _emit(r, args, lambda r: table(["Field", "Value"], list(r.items())))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from tuner.cli_common import Parser

    p = Parser(prog="tuner", description="Self-hosted SageMaker-compatible hyperparameter tuning")
    sub = p.add_subparsers(dest="command", required=True)

    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument("--region", help="the tuner stack's region (default: the AWS configuration's)")
    stack.add_argument(
        "--stack-name", default=constants.DEFAULT_STACK_NAME, help="the tuner stack (CloudFormation)"
    )
    stack.add_argument("--table", action="store_true", help="a readable table instead of JSON")
    stack.add_argument(
        "--direct",
        action="store_true",
        help="start/stop the state machine directly instead of through the front door (administrators: "
        "states:StartExecution on the tuner is as strong as iam:PassRole of its execution roles)",
    )
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="show live progress until the job ends")
    waiting.add_argument("--poll", type=float, default=5.0, help="seconds between polls with --wait")
    waiting.add_argument(
        "--timeout", type=float, default=24 * 3600.0, help="give up waiting after this many seconds"
    )

    _add_job_commands(sub, stack, waiting)
    _add_result_commands(sub, stack)
    _add_offline_commands(sub)
    from tuner import families_cli

    families_cli.register(sub)
    return p


def _add_job_commands(sub: Any, stack: argparse.ArgumentParser, waiting: argparse.ArgumentParser) -> None:
    """The SageMaker operations on the deployed stack."""
    c = sub.add_parser("create", parents=[stack, waiting], help="start a tuning job on the deployed stack")
    c.add_argument("request", help="a CreateHyperParameterTuningJob request (JSON file)")
    c.add_argument("--name", help="override HyperParameterTuningJobName")
    _add_budget_options(c)
    c.add_argument(
        "--base-dir", help="local sources/data paths are relative to this (default: the request's folder)"
    )
    c.set_defaults(func=cmd_create)
    d = sub.add_parser("describe", parents=[stack, waiting], help="DescribeHyperParameterTuningJob")
    d.add_argument("name")
    d.set_defaults(func=cmd_describe)
    ls = sub.add_parser("list", parents=[stack], help="ListHyperParameterTuningJobs")
    ls.add_argument("--status", choices=["InProgress", "Completed", "Failed", "Stopping", "Stopped"])
    ls.add_argument("--name-contains")
    ls.add_argument("--sort-by", default="CreationTime", choices=["Name", "Status", "CreationTime"])
    ls.add_argument("--sort-order", default="Descending", choices=["Ascending", "Descending"])
    ls.add_argument("--max-results", type=int, default=100)
    ls.set_defaults(func=cmd_list)
    tj = sub.add_parser(
        "training-jobs", parents=[stack], help="the training jobs of a tuning job (all pages)"
    )
    tj.add_argument("name")
    tj.add_argument("--status", choices=["InProgress", "Completed", "Failed", "Stopping", "Stopped"])
    tj.add_argument(
        "--sort-by", default="Name", choices=["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"]
    )
    tj.add_argument("--sort-order", default="Ascending", choices=["Ascending", "Descending"])
    tj.add_argument("--max-results", type=int, help="at most this many")
    tj.set_defaults(func=cmd_training_jobs)

    st = sub.add_parser("stop", parents=[stack, waiting], help="StopHyperParameterTuningJob")
    st.add_argument("name")
    st.set_defaults(func=cmd_stop)


def _add_result_commands(sub: Any, stack: argparse.ArgumentParser) -> None:
    """What to do with a tuning job's results: the best job, analytics, a report, a deployment."""
    b = sub.add_parser("best", parents=[stack], help="the best training job")
    b.add_argument("name")
    b.set_defaults(func=cmd_best)
    an = sub.add_parser("analytics", parents=[stack], help="one row per training job (the SDK's columns)")
    an.add_argument("name")
    an.add_argument("--csv", help="also write the table as CSV to this file")
    an.set_defaults(func=cmd_analytics)
    rp = sub.add_parser("report", parents=[stack], help="write an HTML report with charts")
    rp.add_argument("name")
    rp.add_argument("--out", required=True, help="output folder (index.html + PNGs)")
    rp.set_defaults(func=cmd_report)
    dp = sub.add_parser("deploy", parents=[stack], help="deploy the best training job's model to an endpoint")
    dp.add_argument("name")
    dp.add_argument("--endpoint-name", required=True)
    dp.add_argument("--model-name", help="default: the best training job's name")
    dp.add_argument("--instance-type", help="default: the training job's instance type")
    dp.add_argument("--instance-count", type=int, default=1)
    dp.add_argument("--wait", action="store_true", help="wait until the endpoint is InService")
    dp.set_defaults(func=cmd_deploy)
    lg = sub.add_parser(
        "logs",
        help="a training job's output: from CloudWatch Logs, or from a tuner local run (--output-dir)",
    )
    lg.add_argument("training_job", metavar="TRAINING_JOB", help="the training job's name")
    lg.add_argument(
        "--output-dir",
        help=f"the --output-dir of a tuner local run: read its {TRAINING_LOGS}/<job>.log instead of CloudWatch Logs",
    )
    lg.add_argument("--region", help="CloudWatch Logs' region (default: the AWS configuration's)")
    lg.set_defaults(func=cmd_logs)



def _add_budget_options(parser: argparse.ArgumentParser) -> None:
    """``--max-spend`` / ``--spend-policy``: the budget's tags (docs/cost.md, "A budget")."""
    parser.add_argument("--max-spend", type=float, metavar="USD",
                        help="start no training job that would pass this many US dollars (tag tuner:MaxSpendUSD)")
    parser.add_argument("--spend-policy", choices=("default", "hard"),
                        help="default: predict each trial's cost; hard: reserve its worst case (tag tuner:SpendPolicy)")


def _add_offline_commands(sub: Any) -> None:
    """What runs without an AWS account."""
    local = sub.add_parser("local", help="run a tuning job offline: the real stack and Lambdas inside moto")
    local.add_argument("request", help="a CreateHyperParameterTuningJob request (JSON file)")
    local.add_argument(
        "--output-dir",
        default="out/local",
        help=f"where describe.json, training-jobs.json, report/ and {TRAINING_LOGS}/<job>.log go",
    )
    local.add_argument("--name", help="override HyperParameterTuningJobName")
    _add_budget_options(local)
    local.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help=f"stop the tuning job after this many seconds, write what finished, exit {EXIT_TIMEOUT}",
    )
    local.add_argument("--sweep-interval", type=float, default=5.0, help="seconds between sweeper runs")
    local.add_argument(
        "--serve", action="store_true",
        help="serve the offline deployment on 127.0.0.1 while the job runs and after it ends (until Ctrl-C), "
        "so that tuner describe/list/training-jobs/best/report, TunerClient and the SageMaker SDK work from "
        "another terminal; the report is rewritten as the job runs",
    )
    local.add_argument("--port", type=int, default=8765, help="the port of --serve (0: any free port)")
    local.set_defaults(func=cmd_local)
    val = sub.add_parser(
        "validate", help="check a request without running it: every problem at once, as tuner local does first"
    )
    val.add_argument("request")
    val.add_argument(
        "--base-dir", help="local sources/data paths are relative to this (default: the request's folder)"
    )
    val.set_defaults(func=cmd_validate)


def _quiet_credentials() -> None:
    """botocore logs where it found credentials: not for users (moto's own lines are kept out by the
    offline harness while it runs: ``tuner.local.harness``)."""
    import logging

    logging.getLogger("botocore.credentials").setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_credentials()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return int(args.func(args))
    except TuningError as err:
        print(f"tuner: error: {err}", file=sys.stderr)
        return 2
    except ClientError as err:
        e = err.response.get("Error", {})
        print(f"tuner: error: {e.get('Code', 'Error')}: {e.get('Message', err)}", file=sys.stderr)
        return 2
    except BotoCoreError as err:  # no region / credentials / endpoint
        print(f"tuner: error: {err} (check --region, AWS credentials and the network)", file=sys.stderr)
        return 2
    except TimeoutError as err:
        print(f"tuner: error: {err}", file=sys.stderr)
        return EXIT_TIMEOUT
    except KeyboardInterrupt:
        print("tuner: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (``tuner logs JOB | head``): not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
