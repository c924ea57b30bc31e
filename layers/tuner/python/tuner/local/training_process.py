"""The job thread of the local SageMaker stand-in: one training job as a script-mode process.

``_ProcessRunner`` is mixed into ``LocalSageMaker`` (``tuner.local.sagemaker``, whose module
docstring describes the behaviour): it prepares the ``/opt/ml``-like tree, downloads the sources
and input channels, runs the script with the ``SM_*`` environment, ships its output to CloudWatch
Logs, enforces ``MaxRuntimeInSeconds`` and stop requests, uploads the model and ends the job.
The tree, config files, command line and environment themselves are ``tuner.local.container``.

Hosts: a job with ``InstanceCount`` N runs the script once per host ``algo-1`` ... ``algo-N``, at
once, each as that host (``SM_CURRENT_HOST``, ``SM_IS_MASTER``, its own ``/opt/ml``; shared
channels) and into its own log stream ``<job>/algo-<n>-<epoch>``, as SageMaker runs the container
on every instance. Not one run mirrored to N streams: the hosts of a distributed job print
different values, which is why it matters which host's count (docs/reliability.md). Any host's
failure fails the job (the others are stopped); the primary host's model is uploaded.

Delivery lag: a line reaches CloudWatch Logs ``log_lag`` seconds after the script printed it, in
batches, so the last lines land after the job's status has changed, as on AWS. The job thread
ships what is due while the script runs, then, after the terminal status and its event, waits
out the lag and ships the rest. 0 (the stand-in's default) ships at once; ``LocalTuner`` sets 1 s
(``DEFAULT_LOG_LAG``, or ``$TUNER_LOCAL_LOG_LAG``). The metrics SageMaker publishes to CloudWatch
(namespace ``/aws/sagemaker/TrainingJobs``, dimension ``TrainingJobName``) are put as their lines
ship; ``FinalMetricDataList`` is set, from every line, before the status changes.

Log files: with ``training_logs`` set (a ``TrainingLogs``; ``LocalTuner`` sets one, ``tuner local``
under ``<output-dir>/training-jobs/``), every line is also appended to ``<job>.log`` the moment the
script prints it, without the delivery lag: a running job's file can be followed (``tail -f``), and
what a job printed stays after the job, the tuning job and the offline deployment have ended.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tuner.constants import TRAINING_LOG_GROUP
from tuner.core.builtins import BuiltinAlgorithm, algorithm_mode
from tuner.local import builtin_xgboost, container
from tuner.local.container import HOST, _decode_hp
from tuner.local.training_job import TERMINAL, _Job, _now
from tuner.local.transfer import _JobError, _S3Transfer

INTERNAL_ERROR_REASON = "InternalServerError: We encountered an internal error. Please try again."
#: The built-in algorithms the stand-in emulates (algorithm mode), by name: the program each host runs.
EMULATIONS = {"xgboost": Path(builtin_xgboost.__file__).resolve()}
FAILURE_REASON_MAX = 1024
_LOG_BATCH = 5000
_LOG_LINE_MAX = 200_000
_METRIC_BATCH = 1000  # MetricData entries per PutMetricData call (the API's limit)
LOG_LAG_ENV = "TUNER_LOCAL_LOG_LAG"
DEFAULT_LOG_LAG = 1.0  # seconds: the offline twin's delivery lag (LocalTuner)


def log_lag_setting(value: float | None = None) -> float:
    """The delivery lag to use: ``value`` when given, else ``$TUNER_LOCAL_LOG_LAG``, else
    ``DEFAULT_LOG_LAG`` (never negative)."""
    if value is None:
        raw = os.environ.get(LOG_LAG_ENV, "").strip()
        try:
            value = float(raw) if raw else DEFAULT_LOG_LAG
        except ValueError as exc:
            raise ValueError(f"{LOG_LAG_ENV}={raw!r} is not a number of seconds") from exc
    return max(0.0, float(value))


class TrainingLogs:
    """Each training job's output as a file: ``<folder>/<job>.log``, one line per line the script
    printed, stdout and stderr interleaved as they arrived. The primary host's lines are written as
    printed; another host's carry its name (``[algo-2] ...``: they interleave here, whereas
    CloudWatch Logs keeps one stream per host). A file is created at the job's first line (a job
    that fails before its script starts has none) and written line by line (line-buffered), so it
    can be followed while the job runs and keeps what was printed when the run is interrupted."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._files: dict[str, IO[str]] = {}
        self._lock = threading.Lock()

    def path(self, job: str) -> Path:
        """Where ``job``'s output is written."""
        return self.folder / f"{job}.log"

    def write(self, job: str, label: str, text: str) -> None:
        """Append one line of ``job``'s output (``label``: ``container.label`` of its host and stream)."""
        host = container.host_of(label)
        line = text if host == HOST else f"[{host}] {text}"
        with self._lock:
            f = self._files.get(job)
            if f is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                f = self._files[job] = self.path(job).open("a", encoding="utf-8", buffering=1)
            f.write(line + "\n")

    def close(self, job: str) -> None:
        """The job has ended: close its file (a later line would open it again, appending)."""
        with self._lock:
            f = self._files.pop(job, None)
        if f is not None:
            f.close()


class _ProcessRunner(_S3Transfer):
    """The job-thread half of ``LocalSageMaker``: ``_run_job(job)`` runs one job to its end.

    A mixin: the host class provides the attributes and the state methods declared below.
    """

    work_dir: Path
    python: str
    poll_interval: float
    stop_grace: float
    log_lag: float = 0.0  # seconds between a print and its line in CloudWatch Logs (module docstring)
    training_logs: TrainingLogs | None = None  # each job's output as a file too (module docstring)
    _lock: threading.RLock
    _idle: threading.Condition
    _closed: bool

    if TYPE_CHECKING:
        def _set_status(self, job: _Job, status: str, secondary: str, message: str) -> None: ...

        def _flush_events(self, job: _Job) -> None: ...

        def _error(self, message: str) -> None: ...

        def _client(self, service: str, region: str) -> Any: ...

    # -- the job thread -----------------------------------------------------------------------
    def _run_job(self, job: _Job) -> None:
        try:
            self._flush_events(job)
            self._execute(job)
        except _JobError as exc:
            self._finish(job, "Failed", "Failed", exc.reason)
        except Exception as exc:  # noqa: BLE001
            self._error(f"training job {job.training_job_name} crashed: {exc!r}")
            self._finish(job, "Failed", "Failed", f"InternalServerError: local stand-in: {exc!r}")
        finally:
            try:
                self._flush_events(job)
                self._drain_logs(job)
            finally:
                if self.training_logs is not None:
                    self.training_logs.close(job.training_job_name)
                with self._idle:
                    self._idle.notify_all()

    def _finish(self, job: _Job, status: str, secondary: str, reason: str | None = None,
                message: str = "") -> None:
        if self._closed and status != "Stopped":
            status, secondary = "Stopped", "Stopped"
        with self._lock:
            if job.training_job_status in TERMINAL:
                return
            now = _now()
            job.training_end_time = now
            if job.training_start_time is None:
                job.training_start_time = now
            if reason:
                job.failure_reason = reason[:FAILURE_REASON_MAX]
            self._set_status(job, status, secondary, message or {
                "Completed": "Training job completed",
                "Failed": "Training job failed",
                "MaxRuntimeExceeded": "Training job exceeded MaxRuntimeInSeconds provided",
            }.get(secondary, "Training job stopped"))

    def _execute(self, job: _Job) -> None:
        """Run the job from its setup to its end (a ``_JobError`` on the way: ``_run_job`` fails it)."""
        hps, program, submit = self._script_mode(job)
        job_dir = self.work_dir / job.training_job_name
        ml, code = container.make_tree(job_dir)
        job.job_dir = job_dir
        channel_dirs = self._download(job, program, submit, code, ml)
        if self._stopped(job):
            return
        runs = []
        for host in container.hosts(job.request):
            host_ml = ml if host == HOST else container.host_tree(job_dir, host, ml)
            script = container.script(job.request, hps, program, submit, host)
            container.write_config(host_ml, script)
            env = container.environment(job, host_ml, script, channel_dirs)
            runs.append(container.HostRun(host, [self.python, program, *script.args], env, host_ml))
        self._start_training(job, script, [r.host for r in runs])
        if self._stopped(job):
            self._ship_logs(job)
            return
        rc, failed = self._run_script(job, runs, code)
        self._conclude(job, ml, rc, failed)

    # -- the steps of _execute ----------------------------------------------------------------
    def _script_mode(self, job: _Job) -> tuple[dict[str, Any], str, str]:
        """The job's fault (test hook), else its ``(hyperparameters, program, submit directory)``.

        A built-in algorithm's image without a script (``tuner.core.builtins.algorithm_mode``) runs
        the stand-in's emulation of that algorithm (``EMULATIONS``) as its program, with no submit
        directory; an algorithm it does not emulate fails the job, saying so.
        """
        if job.fault == "InternalServerError":
            raise _JobError(INTERNAL_ERROR_REASON)
        if job.fault:
            raise _JobError(job.fault if ": " in job.fault else f"ClientError: {job.fault}")
        hps = {k: v for k, v in (job.request.get("HyperParameters") or {}).items()}
        builtin = algorithm_mode((job.request.get("AlgorithmSpecification") or {}).get("TrainingImage"), hps)
        if builtin is not None:
            return hps, str(_emulation(builtin)), ""
        program = _decode_hp(hps.get("sagemaker_program", ""))
        submit = _decode_hp(hps.get("sagemaker_submit_directory", ""))
        if not program or not isinstance(program, str):
            raise _JobError("ClientError: script mode needs the hyperparameter sagemaker_program "
                            "(the training script's file name)")
        if not submit or not isinstance(submit, str):
            raise _JobError("ClientError: script mode needs the hyperparameter "
                            "sagemaker_submit_directory (s3:// URI of sourcedir.tar.gz)")
        return hps, program, submit

    def _download(self, job: _Job, program: str, submit: str, code: Path, ml: Path) -> dict[str, str]:
        """Start the job's clock, fetch the sources into ``code`` and the channels into
        ``ml/input/data``; returns the channel folders by channel name."""
        with self._lock:
            job.training_start_time = _now()
        channels = job.request.get("InputDataConfig") or []
        if channels:
            self._set_status(job, "InProgress", "Downloading",
                             "Downloading input data")
            self._flush_events(job)
        if submit:  # none: a built-in algorithm's emulation (``_script_mode``)
            self._fetch_sources(job, submit, code)
        if not (code / program).is_file():
            raise _JobError(f"AlgorithmError: ExecuteUserScriptError: the script {program} is not "
                            f"in {submit}")
        return self._fetch_channels(job, channels, ml / "input" / "data")

    def _stopped(self, job: _Job) -> bool:
        """Whether a stop was requested; then the job ends Stopped (with the stop's reason)."""
        if not job.stop_requested.is_set():
            return False
        self._finish(job, "Stopped", job.stop_reason or "Stopped")
        return True

    def _start_training(self, job: _Job, script: container.Script, hosts: list[str]) -> None:
        """Open the log stream of every host, go ``Training`` and log the command line (each host
        logs it)."""
        job.log_stream = f"{job.training_job_name}/{HOST}-{int(time.time())}"
        self._ensure_log_streams(job, hosts)
        self._set_status(job, "InProgress", "Training",
                         "Training image download completed. Training in progress.")
        self._flush_events(job)
        for host in hosts:
            self._add_line(job, container.label(host, "stdout"),
                           "Invoking script with the following command: " + " ".join(script.command))

    def _run_script(self, job: _Job, runs: list[container.HostRun], code: Path) -> tuple[int, container.HostRun | None]:
        """Run the script on every host to its end, the output read into the job's lines; returns
        the exit code that decides the job (0, or the code of the host that failed first) and that
        host (None: none failed)."""
        procs: list[subprocess.Popen[str]] = []
        try:
            for run in runs:
                procs.append(subprocess.Popen(
                    run.command, cwd=code, env=run.env, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                    errors="replace", bufsize=1, start_new_session=True))
        except OSError as exc:
            for proc in procs:
                self._signal(proc, signal.SIGKILL)
            raise _JobError(f"AlgorithmError: could not start {runs[0].command[0]}: {exc}") from exc
        with self._lock:
            job.process = procs[0]
        readers = [threading.Thread(target=self._read_stream, daemon=True,
                                    args=(job, stream, container.label(run.host, kind)),
                                    name=f"{job.training_job_name}-{run.host}-{kind}")
                   for run, proc in zip(runs, procs, strict=True)
                   for stream, kind in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for r in readers:
            r.start()
        codes, failed = self._supervise(job, procs)
        # The container ends with its main process: kill what the script left behind (it would
        # also hold the output pipes open).
        for proc in procs:
            self._signal(proc, signal.SIGKILL)
        for r in readers:
            r.join(timeout=5)
        self._ship_logs(job)
        return (0, None) if failed is None else (codes[failed], runs[failed])

    def _supervise(self, job: _Job, procs: Sequence[subprocess.Popen[str]]
                   ) -> tuple[list[int], int | None]:
        """Wait for every host's script, polling every ``poll_interval``: enforce
        ``MaxRuntimeInSeconds``, stop requests and a failed host (SIGTERM to every host, then
        SIGKILL after ``stop_grace``), send the pending state-change events and ship the logs
        every few polls. Returns the exit codes, in host order, and the host that failed first."""
        max_runtime = (job.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        t0 = time.monotonic()
        last_ship = 0.0
        term_sent_at: float | None = None
        first: int | None = None
        while not self._wait_any(procs):
            now = time.monotonic()
            if first is None:  # before the others are signalled: their own failures only
                first = next((i for i, p in enumerate(procs) if p.returncode), None)
            if max_runtime and now - t0 > float(max_runtime) and not job.stop_requested.is_set():
                with self._lock:
                    job.stop_reason = "MaxRuntimeExceeded"
                job.stop_requested.set()
            if job.stop_requested.is_set() or first is not None:
                if term_sent_at is None:
                    term_sent_at = now
                    for proc in procs:
                        self._signal(proc, signal.SIGTERM)
                elif now - term_sent_at > self.stop_grace:
                    for proc in procs:
                        self._signal(proc, signal.SIGKILL)
            self._flush_events(job)
            if now - last_ship >= max(0.2, self.poll_interval * 4):
                last_ship = now
                self._ship_logs(job)
        if first is None:
            first = next((i for i, p in enumerate(procs) if p.returncode), None)
        return [int(p.returncode) for p in procs], first

    def _wait_any(self, procs: Sequence[subprocess.Popen[str]]) -> bool:
        """Wait up to ``poll_interval`` for a running script; whether every host's has ended."""
        running = [p for p in procs if p.poll() is None]
        if not running:
            return True
        try:
            running[0].wait(timeout=self.poll_interval)
        except subprocess.TimeoutExpired:
            pass
        return all(p.poll() is not None for p in procs)

    def _conclude(self, job: _Job, ml: Path, rc: int, failed: container.HostRun | None = None) -> None:
        """End the job after its scripts exited (``rc``, the ``failed`` host): final metrics,
        outputs (the primary host's ``ml``), status."""
        with self._lock:
            job.final_metrics = self._final_metrics(job)
        if job.stop_requested.is_set():
            self._upload_outputs(job, ml)
            self._finish(job, "Stopped", job.stop_reason or "Stopped")
        elif rc == 0:
            self._set_status(job, "InProgress", "Uploading", "Uploading generated training model")
            self._flush_events(job)
            self._upload_outputs(job, ml)
            self._finish(job, "Completed", "Completed")
        else:
            host = failed.host if failed else HOST
            self._finish(job, "Failed", "Failed",
                         self._algorithm_error(job, failed.ml if failed else ml, rc, host))

    # -- helpers for the job thread -----------------------------------------------------------
    def _algorithm_error(self, job: _Job, ml: Path, rc: int, host: str = HOST) -> str:
        failure_file = ml / "output" / "failure"
        if failure_file.is_file():
            text = failure_file.read_text(errors="replace").strip()
            if text:  # a built-in algorithm's emulation states its own kind of error
                return text if text.startswith(("ClientError: ", "AlgorithmError: ")) else f"AlgorithmError: {text}"
        stderr_label = container.label(host, "stderr")
        with self._lock:
            stderr = [text for _, label, text in job.lines if label == stderr_label]
        tail = "\n".join(stderr[-10:]).strip()
        head = f"AlgorithmError: ExecuteUserScriptError: exit code {rc}"
        if not tail:
            return head
        room = FAILURE_REASON_MAX - len(head) - 1
        return f"{head}\n{tail[-room:]}"

    def _final_metrics(self, job: _Job) -> list[dict[str, Any]]:
        """``FinalMetricDataList`` from every line the primary host printed (the lock is held)."""
        return container.final_metric_data(job.lines, container.metric_definitions(job.request))

    def _read_stream(self, job: _Job, stream: Any, label: str) -> None:
        try:
            for line in iter(stream.readline, ""):
                self._add_line(job, label, line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def _add_line(self, job: _Job, label: str, text: str) -> None:
        with self._lock:
            ts = int(time.time() * 1000)
            if job.lines and job.lines[-1][0] > ts:
                ts = job.lines[-1][0]
            job.lines.append((ts, label, text[:_LOG_LINE_MAX] or " "))
            if self.training_logs is not None:
                try:
                    self.training_logs.write(job.training_job_name, label, text)
                except OSError as exc:  # a full disk must not end the job; CloudWatch still has it
                    self._error(f"writing the log file of {job.training_job_name} failed: {exc!r}")

    def _ensure_log_streams(self, job: _Job, hosts: list[str]) -> None:
        logs = self._client("logs", job.region)
        try:
            logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        for host in hosts:
            try:
                logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP,
                                       logStreamName=_stream(job, host))
            except logs.exceptions.ResourceAlreadyExistsException:
                pass

    def _ship_logs(self, job: _Job, *, everything: bool = False) -> None:
        """Put the lines that are due (printed ``log_lag`` seconds ago or earlier; ``everything``:
        all) to their hosts' streams, and the metrics of the primary host's to CloudWatch."""
        if self._closed or job.log_stream is None:
            return
        due = int((time.time() - self.log_lag) * 1000)
        with self._lock:
            end = len(job.lines)
            if not everything:
                end = job.shipped
                while end < len(job.lines) and job.lines[end][0] <= due:
                    end += 1
            batch = job.lines[job.shipped:end]
            job.shipped = end
        by_host: dict[str, list[tuple[int, str, str]]] = {}
        for line in batch:
            by_host.setdefault(container.host_of(line[1]), []).append(line)
        logs = self._client("logs", job.region)
        for host, lines in by_host.items():
            for i in range(0, len(lines), _LOG_BATCH):
                try:
                    logs.put_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=_stream(job, host),
                                        logEvents=[{"timestamp": ts, "message": text}
                                                   for ts, _, text in lines[i:i + _LOG_BATCH]])
                except Exception as exc:  # noqa: BLE001
                    self._error(f"put_log_events for {job.training_job_name} failed: {exc!r}")
        self._publish_metrics(job, by_host.get(HOST, []))

    def _publish_metrics(self, job: _Job, lines: list[tuple[int, str, str]]) -> None:
        """Put the metric values of the primary host's ``lines`` to CloudWatch, as SageMaker does."""
        data = container.metric_data(job.training_job_name,
                                     container.metric_points(lines, container.metric_definitions(job.request)))
        if not data:
            return
        cloudwatch = self._client("cloudwatch", job.region)
        for i in range(0, len(data), _METRIC_BATCH):
            try:
                cloudwatch.put_metric_data(Namespace=container.METRICS_NAMESPACE,
                                           MetricData=data[i:i + _METRIC_BATCH])
            except Exception as exc:  # noqa: BLE001
                self._error(f"put_metric_data for {job.training_job_name} failed: {exc!r}")

    def _drain_logs(self, job: _Job) -> None:
        """After the job's end: wait until its last line is due, then ship every line left."""
        with self._lock:
            last = job.lines[-1][0] / 1000 if job.lines else 0.0
        while not self._closed and time.time() < last + self.log_lag:
            time.sleep(max(0.0, min(0.05, last + self.log_lag - time.time())))
        self._ship_logs(job, everything=True)

    def _signal(self, proc: subprocess.Popen[str], sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(sig)
            except (ProcessLookupError, OSError):
                pass

    def _kill(self, job: _Job, graceful: bool) -> None:
        with self._lock:
            proc = job.process
        if proc is not None and proc.poll() is None:
            self._signal(proc, signal.SIGTERM if graceful else signal.SIGKILL)


def _emulation(builtin: BuiltinAlgorithm) -> Path:
    """The program that emulates ``builtin`` (``_JobError`` when the stand-in has none)."""
    program = EMULATIONS.get(builtin.name)
    if program is None:
        raise _JobError(
            f"ClientError: the local SageMaker stand-in emulates SageMaker's built-in XGBoost algorithm "
            f"only, not {builtin.title}; run this tuning job on AWS, or run a script on the image "
            "(sagemaker_program, sagemaker_submit_directory)")
    return program


def _stream(job: _Job, host: str) -> str:
    """The log stream of ``host`` (``<job>/<host>-<epoch>``, the epoch of the primary's stream)."""
    epoch = (job.log_stream or "").rsplit("-", 1)[-1]
    return f"{job.training_job_name}/{host}-{epoch}"
