"""A local stand-in for SageMaker training, patched into moto (5.2.5).

``LocalSageMaker`` makes plain boto3 ``sagemaker`` calls inside an active ``moto.mock_aws()``
behave like the real service for training jobs:

* ``CreateTrainingJob`` keeps the whole request (moto drops ``Environment``, ``RetryStrategy``...,
  replaces ``MetricDefinitions`` and silently overwrites duplicates), refuses a duplicate name with
  ``ResourceInUse`` and starts the job in a background thread.
* The job runs in *script mode*, the way the SageMaker framework containers do: the
  ``sagemaker_submit_directory`` hyperparameter (an ``s3://`` URI of a ``sourcedir.tar.gz`` in moto
  S3; ``file://`` is accepted too) is downloaded and extracted, the ``sagemaker_program`` script is
  run as ``python <program> --name value ...`` with ``cwd`` = the extracted sources, an
  ``/opt/ml``-like tree under ``work_dir/<job>/opt/ml`` and the ``SM_*`` environment (plus the
  request's ``Environment``). Each ``InputDataConfig`` S3 prefix is downloaded to
  ``input/data/<channel>``.
* stdout/stderr are shipped while the job runs to CloudWatch Logs group
  ``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<epoch seconds>``.
* Outcomes: exit 0 -> ``Completed`` (``model/`` tarred to
  ``<S3OutputPath>/<job>/output/model.tar.gz``, ``output/data`` to ``output.tar.gz``);
  non-zero exit -> ``Failed`` with ``FailureReason`` ``"AlgorithmError: <output/failure file or
  last stderr lines>"``; ``StoppingCondition.MaxRuntimeInSeconds`` exceeded -> SIGTERM, grace,
  SIGKILL, then ``Stopped`` with ``SecondaryStatus`` ``MaxRuntimeExceeded`` (what SageMaker
  documents for that case; the model directory is still uploaded, as SageMaker does for stopped jobs).
* ``StopTrainingJob`` (not implemented by moto): ``Stopping`` -> SIGTERM -> SIGKILL after
  ``stop_grace`` seconds -> ``Stopped``. Stopping a job that is already ``Stopping`` is a no-op;
  stopping a ``Completed``/``Failed``/``Stopped`` job raises ``ValidationException`` ("The request
  was rejected because the training job is in status Completed."), like SageMaker; an unknown name
  raises ``ResourceNotFound``.
* ``FinalMetricDataList`` applies the request's ``MetricDefinitions`` regexes to every log line
  (latest value per metric).
* Every change of ``TrainingJobStatus`` or ``SecondaryStatus`` puts a
  ``"SageMaker Training Job State Change"`` event (source ``aws.sagemaker``) on the default bus of
  moto EventBridge; ``detail`` is the DescribeTrainingJob shape with times as epoch milliseconds and
  ``Tags`` as a ``{key: value}`` map, like the real event.

Fault hook
----------
``fault(job_name, request) -> str | None`` is called once per ``CreateTrainingJob`` call (note that
botocore retries throttling errors by itself, so a throttled create calls it again):

* ``None``: the job runs normally.
* ``"<ErrorCode>:create"`` (e.g. ``"ThrottlingException:create"``, ``"Throttling:create"``,
  ``"ResourceLimitExceeded:create"``): the API call itself fails with that error code
  (``Throttling`` is an alias of ``ThrottlingException``); no job is created.
* ``"InternalServerError"``: the job is created, goes ``InProgress`` and then ``Failed`` at once with
  ``FailureReason`` ``"InternalServerError: We encountered an internal error. Please try again."``
  (a retryable SageMaker failure).
* any other string: the job fails at once with that string as ``FailureReason`` (a string without
  ``": "`` is prefixed with ``"ClientError: "``).
"""
from __future__ import annotations

import copy
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from tuner.constants import SAGEMAKER_SOURCE, TRAINING_LOG_GROUP, TRAINING_STATE_CHANGE

log = logging.getLogger(__name__)

HOST = "algo-1"
ACTIVE = ("InProgress", "Stopping")
TERMINAL = ("Completed", "Failed", "Stopped")
INTERNAL_ERROR_REASON = "InternalServerError: We encountered an internal error. Please try again."
FAILURE_REASON_MAX = 1024
_LOG_BATCH = 5000
_LOG_LINE_MAX = 200_000
_EPOCH = datetime(1970, 1, 1)


def _now() -> datetime:
    """Naive UTC, like moto's own timestamps (so moto's list filters can compare them)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _millis(dt: datetime) -> int:
    return int((dt - _EPOCH).total_seconds() * 1000)


def _decode_hp(value: Any) -> Any:
    """The training toolkit's rule: a hyperparameter value is JSON if it parses, else a string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _cli_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _service_error(code: str, message: str) -> Exception:
    from moto.core.exceptions import ServiceException

    class _Err(ServiceException):
        pass

    _Err.code = code
    return _Err(message)


class _JobError(Exception):
    """Ends a job as Failed with ``reason`` before the script runs (setup problems)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Job:
    """One training job. Stored in moto's ``training_jobs`` map so ``ListTrainingJobs`` works."""

    def __init__(self, owner: LocalSageMaker, request: dict[str, Any], account: str, region: str,
                 fault: str | None) -> None:
        self.owner = owner
        self.request = request
        self.account = account
        self.region = region
        self.fault = fault
        self.training_job_name: str = request["TrainingJobName"]
        self.arn = f"arn:aws:sagemaker:{region}:{account}:training-job/{self.training_job_name.lower()}"
        now = _now()
        self.creation_time = now
        self.last_modified_time = now
        self.training_start_time: datetime | None = None
        self.training_end_time: datetime | None = None
        self.training_job_status = "InProgress"
        self.secondary_status = "Starting"
        self.failure_reason: str | None = None
        self.model_artifacts: dict[str, str] | None = None
        self.secondary_transitions: list[dict[str, Any]] = [
            {"Status": "Starting", "StartTime": now,
             "StatusMessage": "Launching requested ML instances"}]
        self.final_metrics: list[dict[str, Any]] = []
        self.stop_requested = threading.Event()
        self.stop_reason: str | None = None  # "Stopped" (API) or "MaxRuntimeExceeded"
        self.process: subprocess.Popen[str] | None = None
        self.thread: threading.Thread | None = None
        self.pending_events: list[dict[str, Any]] = []
        self.lines: list[tuple[int, str, str]] = []  # (epoch ms, "stdout"|"stderr", text)
        self.shipped = 0
        self.log_stream: str | None = None
        self.job_dir: Path | None = None

    # -- moto compatibility -------------------------------------------------------------------
    @property
    def response_object(self) -> dict[str, Any]:
        return self.describe()

    @property
    def training_job_arn(self) -> str:
        return self.arn

    # -- views --------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        with self.owner._lock:
            r = self.request
            out: dict[str, Any] = {
                "TrainingJobName": self.training_job_name,
                "TrainingJobArn": self.arn,
                "TrainingJobStatus": self.training_job_status,
                "SecondaryStatus": self.secondary_status,
                "HyperParameters": dict(r.get("HyperParameters") or {}),
                "AlgorithmSpecification": copy.deepcopy(r.get("AlgorithmSpecification") or {}),
                "RoleArn": r.get("RoleArn"),
                "InputDataConfig": copy.deepcopy(r.get("InputDataConfig")),
                "OutputDataConfig": copy.deepcopy(r.get("OutputDataConfig")),
                "ResourceConfig": copy.deepcopy(r.get("ResourceConfig")),
                "VpcConfig": copy.deepcopy(r.get("VpcConfig")),
                "StoppingCondition": copy.deepcopy(r.get("StoppingCondition")),
                "CreationTime": self.creation_time,
                "TrainingStartTime": self.training_start_time,
                "TrainingEndTime": self.training_end_time,
                "LastModifiedTime": self.last_modified_time,
                "SecondaryStatusTransitions": copy.deepcopy(self.secondary_transitions),
                "FinalMetricDataList": copy.deepcopy(self.final_metrics),
                "EnableNetworkIsolation": bool(r.get("EnableNetworkIsolation", False)),
                "EnableInterContainerTrafficEncryption":
                    bool(r.get("EnableInterContainerTrafficEncryption", False)),
                "EnableManagedSpotTraining": bool(r.get("EnableManagedSpotTraining", False)),
                "CheckpointConfig": copy.deepcopy(r.get("CheckpointConfig")),
                "Environment": dict(r.get("Environment") or {}) or None,
                "RetryStrategy": copy.deepcopy(r.get("RetryStrategy")),
                "ExperimentConfig": copy.deepcopy(r.get("ExperimentConfig")),
                "DebugHookConfig": copy.deepcopy(r.get("DebugHookConfig")),
                "TensorBoardOutputConfig": copy.deepcopy(r.get("TensorBoardOutputConfig")),
                "ModelArtifacts": copy.deepcopy(self.model_artifacts),
                "FailureReason": self.failure_reason,
                "Tags": copy.deepcopy(r.get("Tags")),
            }
            if self.training_start_time and self.training_end_time:
                secs = max(1, int(round((self.training_end_time
                                         - self.training_start_time).total_seconds())))
                out["TrainingTimeInSeconds"] = secs
                out["BillableTimeInSeconds"] = secs
            return {k: v for k, v in out.items() if v is not None}

    def event_detail(self) -> dict[str, Any]:
        """The ``detail`` of SageMaker's state-change event: times in epoch ms, Tags as a map."""
        d = self.describe()

        def conv(value: Any) -> Any:
            if isinstance(value, datetime):
                return _millis(value)
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        d = conv(d)
        d["Tags"] = {t["Key"]: t.get("Value", "") for t in (self.request.get("Tags") or [])}
        d.setdefault("SecondaryStatusTransitions", [])
        return d


class LocalSageMaker:
    """Runs moto training jobs as local script-mode processes. See the module docstring.

    ``work_dir``: one sub-folder per job (``<job>/code``, ``<job>/opt/ml``).
    ``python``: interpreter for the training scripts. ``fault``: test hook (module docstring).
    ``poll_interval``: seconds between process polls (logs are shipped every few polls).
    ``stop_grace``: seconds between SIGTERM and SIGKILL (SageMaker waits 120 s).
    ``emit_events``: put the state-change events on the default bus.

    Attributes: ``max_in_progress`` (most jobs InProgress/Stopping at once), ``transitions``
    (list of ``(epoch seconds, job name, TrainingJobStatus)``), ``errors`` (internal errors of job
    threads and event emission, also logged).
    """

    def __init__(self, work_dir: Path, *, python: str = os.path.abspath(sys.executable),
                 fault: Callable[[str, dict], str | None] | None = None,
                 poll_interval: float = 0.05, stop_grace: float = 2.0,
                 emit_events: bool = True) -> None:
        self.work_dir = Path(work_dir).resolve()  # scripts run with cwd = their code dir
        self.python = python
        self.fault = fault
        self.poll_interval = poll_interval
        self.stop_grace = stop_grace
        self.emit_events = emit_events
        self.max_in_progress = 0
        self.transitions: list[tuple[float, str, str]] = []
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._jobs: dict[tuple[str, str, str], _Job] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._session: boto3.session.Session | None = None
        self._saved: dict[str, Any] = {}
        self._installed = False
        self._closed = False

    # -- install / uninstall ------------------------------------------------------------------
    def __enter__(self) -> LocalSageMaker:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def install(self) -> LocalSageMaker:
        from moto.sagemaker.responses import SageMakerResponse

        if self._installed:
            return self
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._session = boto3.session.Session()
        self._closed = False
        owner = self
        for name in ("create_training_job", "describe_training_job", "stop_training_job"):
            self._saved[name] = SageMakerResponse.__dict__.get(name)

        def create_training_job(resp: Any) -> Any:
            return owner._api_create(resp)

        def describe_training_job(resp: Any) -> Any:
            return owner._api_describe(resp)

        def stop_training_job(resp: Any) -> Any:
            return owner._api_stop(resp)

        SageMakerResponse.create_training_job = create_training_job  # type: ignore[method-assign]
        SageMakerResponse.describe_training_job = describe_training_job  # type: ignore[method-assign]
        SageMakerResponse.stop_training_job = stop_training_job  # type: ignore[attr-defined]
        self._installed = True
        return self

    def uninstall(self) -> None:
        """Kill running processes, join the job threads and restore moto."""
        from moto.sagemaker.responses import SageMakerResponse

        if not self._installed:
            return
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop_requested.set()
            self._kill(job, graceful=False)
        for job in jobs:
            if job.thread is not None:
                job.thread.join(timeout=10)
        for name, original in self._saved.items():
            if original is None:
                if name in SageMakerResponse.__dict__:
                    delattr(SageMakerResponse, name)
            else:
                setattr(SageMakerResponse, name, original)
        self._saved.clear()
        self._installed = False

    # -- public helpers -----------------------------------------------------------------------
    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no job thread is running (including its final event). True if idle."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while any(j.thread is not None and j.thread.is_alive() or j.training_job_status in ACTIVE
                      for j in self._jobs.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.1))
        return True

    def in_progress(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.training_job_status in ACTIVE)

    def job_dir(self, name: str) -> Path:
        return self.work_dir / name

    # -- API handlers (run in the thread of the boto3 caller) ---------------------------------
    def _backend(self, resp: Any) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[resp.current_account][resp.region]

    def _request(self, resp: Any) -> dict[str, Any]:
        try:
            body = json.loads(resp.body) if resp.body else {}
            if isinstance(body, dict):
                return body
        except (TypeError, ValueError):
            pass
        return dict(resp.params)

    def _api_create(self, resp: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.sagemaker.exceptions import ResourceInUseException, ValidationError

        request = copy.deepcopy(self._request(resp))
        name = request.get("TrainingJobName")
        if not name:
            raise ValidationError("TrainingJobName is required.")
        for field in ("AlgorithmSpecification", "OutputDataConfig", "ResourceConfig",
                      "StoppingCondition", "RoleArn"):
            if not request.get(field):
                raise ValidationError(f"1 validation error detected: Value null at '{field[0].lower()}"
                                      f"{field[1:]}' failed to satisfy constraint: "
                                      "Member must not be null")
        backend = self._backend(resp)
        key = (resp.current_account, resp.region, name)
        fault = self.fault(name, copy.deepcopy(request)) if self.fault else None
        if fault and fault.endswith(":create"):
            code = fault[: -len(":create")]
            code = "ThrottlingException" if code == "Throttling" else code
            raise _service_error(code, f"Injected fault: {code} for CreateTrainingJob {name}")
        with self._lock:
            if self._closed:
                raise ValidationError("The local SageMaker stand-in is uninstalled.")
            if key in self._jobs or name in backend.training_jobs:
                raise ResourceInUseException(
                    "Training job names must be unique within an AWS account and region, and a "
                    "training job with this name already exists (arn:aws:sagemaker:"
                    f"{resp.region}:{resp.current_account}:training-job/{name.lower()})")
            job = _Job(self, request, resp.current_account, resp.region, fault)
            self._jobs[key] = job
            backend.training_jobs[name] = job
            self._record(job, "InProgress")
            job.pending_events.append(job.event_detail())
            job.thread = threading.Thread(target=self._run_job, args=(job,),
                                          name=f"sagemaker-job-{name}", daemon=True)
            job.thread.start()
        return ActionResult({"TrainingJobArn": job.arn})

    def _find(self, resp: Any, name: str) -> _Job | None:
        with self._lock:
            return self._jobs.get((resp.current_account, resp.region, name))

    def _api_describe(self, resp: Any) -> Any:
        from moto.core.responses import ActionResult

        name = resp._get_param("TrainingJobName")
        job = self._find(resp, name)
        if job is None:
            return ActionResult(self._backend(resp).describe_training_job(name))
        return ActionResult(job.describe())

    def _api_stop(self, resp: Any) -> Any:
        from moto.core.responses import EmptyResult
        from moto.sagemaker.exceptions import ResourceNotFound, ValidationError

        name = resp._get_param("TrainingJobName")
        job = self._find(resp, name)
        if job is None:
            raise ResourceNotFound("Requested resource not found.")
        with self._lock:
            status = job.training_job_status
            if status in TERMINAL:
                raise ValidationError(
                    f"The request was rejected because the training job is in status {status}.")
            if status == "InProgress":
                job.stop_reason = job.stop_reason or "Stopped"
                self._set_status(job, "Stopping", "Stopping", "Stopping the training job")
                job.stop_requested.set()
        return EmptyResult()

    # -- state --------------------------------------------------------------------------------
    def _record(self, job: _Job, status: str) -> None:
        self.transitions.append((time.time(), job.training_job_name, status))
        running = sum(1 for j in self._jobs.values() if j.training_job_status in ACTIVE)
        self.max_in_progress = max(self.max_in_progress, running)

    def _set_status(self, job: _Job, status: str, secondary: str, message: str) -> None:
        """Change the status (lock held or taken) and queue the state-change event."""
        with self._lock:
            now = _now()
            if job.secondary_status != secondary:
                if job.secondary_transitions:
                    job.secondary_transitions[-1].setdefault("EndTime", now)
                job.secondary_transitions.append(
                    {"Status": secondary, "StartTime": now, "StatusMessage": message})
                if status in TERMINAL:
                    job.secondary_transitions[-1]["EndTime"] = now
            primary_changed = job.training_job_status != status
            job.training_job_status = status
            job.secondary_status = secondary
            job.last_modified_time = now
            if primary_changed:
                self._record(job, status)
            job.pending_events.append(job.event_detail())
            self._idle.notify_all()

    def _flush_events(self, job: _Job) -> None:
        with self._lock:
            details, job.pending_events = job.pending_events, []
        if not self.emit_events or self._closed:
            return
        for detail in details:
            try:
                self._client("events", job.region).put_events(Entries=[{
                    "Source": SAGEMAKER_SOURCE,
                    "DetailType": TRAINING_STATE_CHANGE,
                    "Detail": json.dumps(detail),
                    "Resources": [job.arn],
                }])
            except Exception as exc:  # noqa: BLE001 - a broken target must not kill the job
                self._error(f"put_events for {job.training_job_name} failed: {exc!r}")

    def _error(self, message: str) -> None:
        log.error("%s", message)
        with self._lock:
            self.errors.append(message)

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                assert self._session is not None
                self._clients[key] = self._session.client(service, region_name=region)
            return self._clients[key]

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
        name = job.training_job_name
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

        job_dir = self.work_dir / name
        if job_dir.exists():
            shutil.rmtree(job_dir, ignore_errors=True)
        ml = job_dir / "opt" / "ml"
        code = job_dir / "code"
        for sub in ("input/config", "input/data", "model", "output/data", "output/intermediate",
                    "checkpoints"):
            (ml / sub).mkdir(parents=True, exist_ok=True)
        code.mkdir(parents=True)
        job.job_dir = job_dir

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
        channel_dirs = self._fetch_channels(job, channels, ml / "input" / "data")
        if job.stop_requested.is_set():
            self._finish(job, "Stopped", job.stop_reason or "Stopped")
            return

        user_hps = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}
        decoded = {k: _decode_hp(v) for k, v in user_hps.items()}
        args: list[str] = []
        for key in sorted(decoded):
            args += [f"--{key}", _cli_value(decoded[key])]
        resource_config = {"current_host": HOST, "current_instance_type":
                           (job.request.get("ResourceConfig") or {}).get("InstanceType", "local"),
                           "current_group_name": "homogeneousCluster", "hosts": [HOST],
                           "instance_groups": [], "network_interface_name": "eth0"}
        input_data_config = {
            c["ChannelName"]: {
                "TrainingInputMode": c.get("InputMode") or job.request["AlgorithmSpecification"]
                .get("TrainingInputMode", "File"),
                "S3DistributionType": c.get("DataSource", {}).get("S3DataSource", {})
                .get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": c.get("RecordWrapperType", "None"),
                **({"ContentType": c["ContentType"]} if c.get("ContentType") else {}),
            } for c in channels}
        (ml / "input/config/hyperparameters.json").write_text(json.dumps(user_hps))
        (ml / "input/config/resourceconfig.json").write_text(json.dumps(resource_config))
        (ml / "input/config/inputdataconfig.json").write_text(json.dumps(input_data_config))

        env = self._environment(job, ml, program, submit, decoded, args, channel_dirs,
                                resource_config, input_data_config)
        command = [self.python, program, *args]

        started = int(time.time())
        job.log_stream = f"{name}/{HOST}-{started}"
        self._ensure_log_stream(job)
        self._set_status(job, "InProgress", "Training",
                         "Training image download completed. Training in progress.")
        self._flush_events(job)
        self._add_line(job, "stdout", "Invoking script with the following command: "
                       + " ".join(["python", program, *args]))
        if job.stop_requested.is_set():
            self._finish(job, "Stopped", job.stop_reason or "Stopped")
            self._ship_logs(job)
            return
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
        rc = proc.returncode
        # The container ends with its main process: kill what the script left behind (it would
        # also hold the output pipes open).
        self._signal(proc, signal.SIGKILL)
        for r in readers:
            r.join(timeout=5)
        self._ship_logs(job)

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
    def _environment(self, job: _Job, ml: Path, program: str, submit: str,
                     hps: dict[str, Any], args: list[str], channel_dirs: dict[str, str],
                     resource_config: dict[str, Any], input_data_config: dict[str, Any]
                     ) -> dict[str, str]:
        num_cpus = os.cpu_count() or 1
        module = program[:-3] if program.endswith(".py") else program
        sm: dict[str, Any] = {
            "SM_MODEL_DIR": str(ml / "model"),
            "SM_INPUT_DIR": str(ml / "input"),
            "SM_INPUT_CONFIG_DIR": str(ml / "input/config"),
            "SM_OUTPUT_DIR": str(ml / "output"),
            "SM_OUTPUT_DATA_DIR": str(ml / "output/data"),
            "SM_OUTPUT_INTERMEDIATE_DIR": str(ml / "output/intermediate"),
            "SM_CHECKPOINT_DIR": str(ml / "checkpoints"),
            "SM_CHANNELS": json.dumps(sorted(channel_dirs)),
            "SM_HPS": json.dumps(hps),
            "SM_NUM_CPUS": str(num_cpus),
            "SM_NUM_GPUS": "0",
            "SM_NUM_NEURONS": "0",
            "SM_CURRENT_HOST": HOST,
            "SM_CURRENT_INSTANCE_TYPE": resource_config["current_instance_type"],
            "SM_HOSTS": json.dumps([HOST]),
            "SM_NETWORK_INTERFACE_NAME": "eth0",
            "SM_LOG_LEVEL": "20",
            "SM_USER_ENTRY_POINT": program,
            "SM_MODULE_NAME": module,
            "SM_MODULE_DIR": submit,
            "SM_USER_ARGS": json.dumps(args),
            "SM_RESOURCE_CONFIG": json.dumps(resource_config),
            "SM_INPUT_DATA_CONFIG": json.dumps(input_data_config),
            "SM_IS_MASTER": "true",
            "SM_MASTER_ADDR": HOST,
            "TRAINING_JOB_NAME": job.training_job_name,
            "TRAINING_JOB_ARN": job.arn,
            "PYTHONUNBUFFERED": "1",
        }
        for channel, path in channel_dirs.items():
            sm[f"SM_CHANNEL_{channel.upper()}"] = path
        for key, value in hps.items():
            sm[f"SM_HP_{key.upper().replace('-', '_')}"] = (
                value if isinstance(value, str) else json.dumps(value))
        sm["SM_TRAINING_ENV"] = json.dumps({
            "job_name": job.training_job_name, "hyperparameters": hps,
            "channel_input_dirs": channel_dirs, "current_host": HOST, "hosts": [HOST],
            "model_dir": sm["SM_MODEL_DIR"], "output_data_dir": sm["SM_OUTPUT_DATA_DIR"],
            "output_dir": sm["SM_OUTPUT_DIR"], "input_dir": sm["SM_INPUT_DIR"],
            "input_config_dir": sm["SM_INPUT_CONFIG_DIR"], "num_cpus": num_cpus, "num_gpus": 0,
            "module_name": module, "module_dir": submit, "user_entry_point": program,
            "resource_config": resource_config, "input_data_config": input_data_config,
            "log_level": 20, "is_master": True, "master_hostname": HOST,
        })
        env = dict(os.environ)
        env.update(sm)
        env.update({k: str(v) for k, v in (job.request.get("Environment") or {}).items()})
        return env

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
