"""The job thread of the local SageMaker stand-in: one training job as a script-mode process.

``_ProcessRunner`` is mixed into ``LocalSageMaker`` (``tuner.local.sagemaker``, whose module
docstring describes the behaviour): it prepares the ``/opt/ml``-like tree, downloads the sources
and input channels, runs the script with the ``SM_*`` environment, ships its output to CloudWatch
Logs, enforces ``MaxRuntimeInSeconds`` and stop requests, uploads the model and ends the job.
The tree, config files, command line and environment themselves are ``tuner.local.container``.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.constants import TRAINING_LOG_GROUP
from tuner.local import container
from tuner.local.container import HOST, _decode_hp
from tuner.local.training_job import TERMINAL, _Job, _now

INTERNAL_ERROR_REASON = "InternalServerError: We encountered an internal error. Please try again."
FAILURE_REASON_MAX = 1024
_LOG_BATCH = 5000
_LOG_LINE_MAX = 200_000


class _JobError(Exception):
    """Ends a job as Failed with ``reason`` (setup problems before the script; a failed upload)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ProcessRunner:
    """The job-thread half of ``LocalSageMaker``: ``_run_job(job)`` runs one job to its end.

    A mixin: the host class provides the attributes and the state methods declared below.
    """

    work_dir: Path
    python: str
    poll_interval: float
    stop_grace: float
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
            finally:
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
        script = container.script(job.request, hps, program, submit)
        container.write_config(ml, script)
        env = container.environment(job, ml, script, channel_dirs)
        self._start_training(job, script)
        if self._stopped(job):
            self._ship_logs(job)
            return
        rc = self._run_script(job, [self.python, program, *script.args], code, env)
        self._conclude(job, ml, rc)

    # -- the steps of _execute ----------------------------------------------------------------
    def _script_mode(self, job: _Job) -> tuple[dict[str, Any], str, str]:
        """The job's fault (test hook), else its ``(hyperparameters, program, submit directory)``."""
        if job.fault == "InternalServerError":
            raise _JobError(INTERNAL_ERROR_REASON)
        if job.fault:
            raise _JobError(job.fault if ": " in job.fault else f"ClientError: {job.fault}")
        hps = {k: v for k, v in (job.request.get("HyperParameters") or {}).items()}
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

    def _start_training(self, job: _Job, script: container.Script) -> None:
        """Open the job's log stream, go ``Training`` and log the command line."""
        started = int(time.time())
        job.log_stream = f"{job.training_job_name}/{HOST}-{started}"
        self._ensure_log_stream(job)
        self._set_status(job, "InProgress", "Training",
                         "Training image download completed. Training in progress.")
        self._flush_events(job)
        self._add_line(job, "stdout", "Invoking script with the following command: "
                       + " ".join(script.command))

    def _run_script(self, job: _Job, command: list[str], code: Path, env: dict[str, str]) -> int:
        """Run the script to its end, its output read into the job's lines; returns its exit code."""
        name = job.training_job_name
        try:
            proc = subprocess.Popen(command, cwd=code, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                    encoding="utf-8", errors="replace", bufsize=1,
                                    start_new_session=True)
        except OSError as exc:
            raise _JobError(f"AlgorithmError: could not start {command[0]}: {exc}") from exc
        with self._lock:
            job.process = proc
        readers = [threading.Thread(target=self._read_stream, args=(job, stream, label),
                                    daemon=True, name=f"{name}-{label}")
                   for stream, label in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for r in readers:
            r.start()
        rc = self._supervise(job, proc)
        # The container ends with its main process: kill what the script left behind (it would
        # also hold the output pipes open).
        self._signal(proc, signal.SIGKILL)
        for r in readers:
            r.join(timeout=5)
        self._ship_logs(job)
        return rc

    def _supervise(self, job: _Job, proc: subprocess.Popen[str]) -> int:
        """Wait for the script, polling every ``poll_interval``: enforce ``MaxRuntimeInSeconds``
        and stop requests (SIGTERM, then SIGKILL after ``stop_grace``), send the pending
        state-change events and ship the logs every few polls. Returns the exit code."""
        max_runtime = (job.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        t0 = time.monotonic()
        last_ship = 0.0
        term_sent_at: float | None = None
        while True:
            try:
                proc.wait(timeout=self.poll_interval)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if max_runtime and now - t0 > float(max_runtime) and not job.stop_requested.is_set():
                with self._lock:
                    job.stop_reason = "MaxRuntimeExceeded"
                job.stop_requested.set()
            if job.stop_requested.is_set():
                if term_sent_at is None:
                    term_sent_at = now
                    self._signal(proc, signal.SIGTERM)
                elif now - term_sent_at > self.stop_grace:
                    self._signal(proc, signal.SIGKILL)
            self._flush_events(job)
            if now - last_ship >= max(0.2, self.poll_interval * 4):
                last_ship = now
                self._ship_logs(job)
        return proc.returncode

    def _conclude(self, job: _Job, ml: Path, rc: int) -> None:
        """End the job after its script exited with ``rc``: final metrics, outputs, status."""
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
            self._finish(job, "Failed", "Failed", self._algorithm_error(job, ml, rc))

    # -- helpers for the job thread -----------------------------------------------------------
    def _s3_parts(self, uri: str) -> tuple[str, str]:
        if not uri.startswith("s3://"):
            raise _JobError(f"ClientError: {uri!r} is not an s3:// URI")
        bucket, _, key = uri[5:].partition("/")
        return bucket, key

    def _fetch_sources(self, job: _Job, submit: str, code: Path) -> None:
        try:
            if submit.startswith("file://") or submit.startswith("/"):
                path = Path(submit[7:] if submit.startswith("file://") else submit)
                if path.is_dir():
                    shutil.copytree(path, code, dirs_exist_ok=True)
                    return
                data = path.read_bytes()
            else:
                bucket, key = self._s3_parts(submit)
                data = self._client("s3", job.region).get_object(Bucket=bucket, Key=key)["Body"].read()
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                tar.extractall(code, filter="data")
        except _JobError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _JobError(f"ClientError: could not download or extract sagemaker_submit_directory "
                            f"{submit}: {exc}") from exc

    def _fetch_channels(self, job: _Job, channels: list[dict[str, Any]], data_dir: Path
                        ) -> dict[str, str]:
        s3 = self._client("s3", job.region)
        dirs: dict[str, str] = {}
        for channel in channels:
            cname = channel["ChannelName"]
            target = data_dir / cname
            target.mkdir(parents=True, exist_ok=True)
            dirs[cname] = str(target)
            source = (channel.get("DataSource") or {}).get("S3DataSource")
            if not source:
                raise _JobError(f"ClientError: channel {cname}: only S3DataSource is supported "
                                "by the local stand-in")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise _JobError(f"ClientError: channel {cname}: only S3DataType S3Prefix is "
                                "supported by the local stand-in")
            bucket, prefix = self._s3_parts(source["S3Uri"])
            count = 0
            try:
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                         Prefix=prefix):
                    for obj in page.get("Contents", []):
                        key = obj["Key"]
                        if key.endswith("/"):
                            continue
                        rel = key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]
                        dest = target / rel
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        s3.download_file(bucket, key, str(dest))
                        count += 1
            except Exception as exc:  # noqa: BLE001
                raise _JobError(f"ClientError: Data download failed: channel {cname} "
                                f"({source['S3Uri']}): {exc}") from exc
            if count == 0:
                raise _JobError(f"ClientError: No S3 objects found under S3 URL "
                                f"\"{source['S3Uri']}\" given in input data source. Please ensure "
                                "that the bucket exists in the selected region, that objects exist "
                                "under that S3 prefix, and that the role has s3:ListBucket "
                                "permissions on that bucket.")
        return dirs

    def _upload_outputs(self, job: _Job, ml: Path) -> None:
        out = (job.request.get("OutputDataConfig") or {}).get("S3OutputPath")
        if not out or self._closed:
            return
        bucket, prefix = self._s3_parts(out)
        base = "/".join(p for p in (prefix.strip("/"), job.training_job_name, "output") if p)
        s3 = self._client("s3", job.region)
        try:
            s3.put_object(Bucket=bucket, Key=f"{base}/model.tar.gz", Body=_tar_dir(ml / "model"))
            if any((ml / "output/data").iterdir()):
                s3.put_object(Bucket=bucket, Key=f"{base}/output.tar.gz",
                              Body=_tar_dir(ml / "output/data"))
        except Exception as exc:  # noqa: BLE001
            raise _JobError(f"ClientError: could not upload the model to {out}: {exc}") from exc
        with self._lock:
            job.model_artifacts = {"S3ModelArtifacts": f"s3://{bucket}/{base}/model.tar.gz"}

    def _algorithm_error(self, job: _Job, ml: Path, rc: int) -> str:
        failure_file = ml / "output" / "failure"
        if failure_file.is_file():
            text = failure_file.read_text(errors="replace").strip()
            if text:
                return f"AlgorithmError: {text}"
        with self._lock:
            stderr = [text for _, label, text in job.lines if label == "stderr"]
        tail = "\n".join(stderr[-10:]).strip()
        head = f"AlgorithmError: ExecuteUserScriptError: exit code {rc}"
        if not tail:
            return head
        room = FAILURE_REASON_MAX - len(head) - 1
        return f"{head}\n{tail[-room:]}"

    def _final_metrics(self, job: _Job) -> list[dict[str, Any]]:
        definitions = (job.request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
        latest: dict[str, tuple[float, int]] = {}
        for d in definitions:
            try:
                rx = re.compile(d["Regex"])
            except (re.error, KeyError):
                continue
            for ts, _, text in job.lines:
                for m in rx.finditer(text):
                    try:
                        value = float(m.group(1) if rx.groups else m.group(0))
                    except (ValueError, IndexError, TypeError):
                        continue
                    latest[d["Name"]] = (value, ts)
        return [{"MetricName": n, "Value": v, "Timestamp": datetime.fromtimestamp(
            ts / 1000, UTC).replace(tzinfo=None)} for n, (v, ts) in latest.items()]

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

    def _ensure_log_stream(self, job: _Job) -> None:
        logs = self._client("logs", job.region)
        try:
            logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=job.log_stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass

    def _ship_logs(self, job: _Job) -> None:
        if self._closed or job.log_stream is None:
            return
        with self._lock:
            batch = job.lines[job.shipped:]
            job.shipped = len(job.lines)
        logs = self._client("logs", job.region)
        for i in range(0, len(batch), _LOG_BATCH):
            chunk = batch[i:i + _LOG_BATCH]
            try:
                logs.put_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=job.log_stream,
                                    logEvents=[{"timestamp": ts, "message": text}
                                               for ts, _, text in chunk])
            except Exception as exc:  # noqa: BLE001
                self._error(f"put_log_events for {job.training_job_name} failed: {exc!r}")

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


def _tar_dir(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buf.getvalue()
