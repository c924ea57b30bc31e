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
* A built-in algorithm's image without ``sagemaker_program``/``sagemaker_submit_directory``
  (``tuner.core.builtins.algorithm_mode``) runs *as the algorithm*: the stand-in runs its emulation
  of the built-in XGBoost (``tuner.local.builtin_xgboost``) in place of a script, and fails a job of
  any other built-in algorithm, saying so. As SageMaker does, ``CreateTrainingJob`` refuses
  ``MetricDefinitions`` for a built-in algorithm, and ``FinalMetricDataList`` then comes from the
  algorithm's own metrics (the registry's regexes standing in for SageMaker's).
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
* Responses are SageMaker's output shapes (``tuner.shapes.validate_output``): DescribeTrainingJob
  has ``OutputDataConfig.KmsKeyId`` (``""`` when no key was given, as SageMaker answers) and no
  ``Tags`` member. One known gap: ``ModelArtifacts`` (required in botocore's model) is absent until
  the model has been uploaded (a job InProgress, or Failed before its upload).
* Account quotas (``quotas``, ``{instance type: instances}``; empty by default: unlimited): the
  instances of the jobs ``InProgress``/``Stopping`` count against their type's quota "<type> for
  training job usage"; a ``CreateTrainingJob`` over it fails with ``ResourceLimitExceeded`` and
  SageMaker's message (``tuner.local.quotas``).
* ``AddTags`` / ``ListTags`` / ``DeleteTags`` on a stand-in training job's ARN (moto's raise
  ``AttributeError`` on it): the request's ``Tags`` first; AddTags overwrites a key given again and
  refuses more than 50 tags; the state-change event shows the current tags. An unknown
  training-job or hyper-parameter-tuning-job ARN is a ``ValidationException``, as in SageMaker (the
  tuner's own tuning jobs are tagged through ``tuner.client.TunerClient``, which answers for
  them); every other ARN goes to moto.
* Every change of ``TrainingJobStatus`` or ``SecondaryStatus`` puts a
  ``"SageMaker Training Job State Change"`` event (source ``aws.sagemaker``) on the default bus of
  moto EventBridge; ``detail`` is the DescribeTrainingJob shape with times as epoch milliseconds and
  ``Tags`` as a ``{key: value}`` map, like the real event.

* Endpoints (``CreateEndpoint``, ``UpdateEndpoint``, ``DeleteEndpoint``, ``InvokeEndpoint``) serve
  their model: ``tuner.local.hosting.LocalHosting``, installed and uninstalled with the stand-in
  (``LocalSageMaker.hosting``).

Fault hook
----------
``fault(job_name, request) -> str | None`` is called once per ``CreateTrainingJob`` call (note that
botocore retries throttling errors by itself, so a throttled create calls it again):

* ``None``: the job runs normally.
* ``"<ErrorCode>:create"`` (e.g. ``"ThrottlingException:create"``, ``"Throttling:create"``,
  ``"ResourceLimitExceeded:create"``): the API call itself fails with that error code
  (``Throttling`` is an alias of ``ThrottlingException``); no job is created.
  ``ResourceLimitExceeded`` carries SageMaker's quota message for the request's instance type, as
  if the quota were full: its limit is what is in use (at least the request's delta, so a job
  of this size could run once capacity frees).
* ``"InternalServerError"``: the job is created, goes ``InProgress`` and then ``Failed`` at once with
  ``FailureReason`` ``"InternalServerError: We encountered an internal error. Please try again."``
  (a retryable SageMaker failure).
* any other string: the job fails at once with that string as ``FailureReason`` (a string without
  ``": "`` is prefixed with ``"ClientError: "``).

Layout
------
This module holds ``LocalSageMaker`` itself (installing into moto, the API handlers, job state and
events). A job's record and its Describe view are ``tuner.local.training_job._Job``; the job thread
that runs the script-mode process is ``tuner.local.training_process._ProcessRunner``, a mixin of
``LocalSageMaker``.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from tuner.constants import SAGEMAKER_SOURCE, TRAINING_STATE_CHANGE
from tuner.core import arns
from tuner.core.builtins import algorithm_mode
from tuner.local import quotas as _quotas
from tuner.local.hosting import LocalHosting, as_method, restore
from tuner.local.training_job import ACTIVE, TERMINAL, _Job, _now
from tuner.local.training_process import (  # noqa: F401 - HOST... re-exported
    FAILURE_REASON_MAX,
    HOST,
    INTERNAL_ERROR_REASON,
    _ProcessRunner,
)

log = logging.getLogger(__name__)


def _service_error(code: str, message: str) -> Exception:
    from moto.core.exceptions import ServiceException

    class _Err(ServiceException):
        pass

    _Err.code = code
    return _Err(message)


class LocalSageMaker(_ProcessRunner):
    """Runs moto training jobs as local script-mode processes. See the module docstring.

    ``work_dir``: one sub-folder per job (``<job>/code``, ``<job>/opt/ml``).
    ``python``: interpreter for the training scripts. ``fault``: test hook (module docstring).
    ``poll_interval``: seconds between process polls (logs are shipped every few polls).
    ``stop_grace``: seconds between SIGTERM and SIGKILL (SageMaker waits 120 s).
    ``emit_events``: put the state-change events on the default bus.

    Attributes: ``max_in_progress`` (most jobs InProgress/Stopping at once), ``transitions``
    (list of ``(epoch seconds, job name, TrainingJobStatus)``), ``errors`` (internal errors of job
    threads and event emission, also logged), ``quotas`` (``{instance type: instances}`` for
    training job usage, settable at any time; a type not in it is unlimited).
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
        self.quotas: dict[str, int] = {}
        self.transitions: list[tuple[float, str, str]] = []
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._log_groups_lock = threading.Lock()
        self._jobs: dict[tuple[str, str, str], _Job] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._session: boto3.session.Session | None = None
        self._saved: dict[str, Any] = {}
        self._installed = False
        self._closed = False
        self.hosting = LocalHosting(self.work_dir / "endpoints", python=python, client=self._client,
                                    error=self._error)

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
        handlers: dict[str, Callable[[Any], Any]] = {
            "create_training_job": self._api_create,
            "describe_training_job": self._api_describe,
            "stop_training_job": self._api_stop,
            "list_tags": self._api_list_tags,
            "add_tags": self._api_add_tags,
            "delete_tags": self._api_delete_tags,
            "describe_algorithm": self._api_describe_algorithm,
        }
        # A monkeypatch: moto's methods are replaced by plain functions of other signatures (moto has
        # no stop_training_job to replace: it is added). The tag handlers call moto's own (saved)
        # methods for ARNs that are not the stand-in's.
        for name, handler in handlers.items():
            self._saved[name] = SageMakerResponse.__dict__.get(name)
            setattr(SageMakerResponse, name, as_method(handler))
        self.hosting.install()
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
        self.hosting.uninstall()
        for name, original in self._saved.items():
            restore(SageMakerResponse, name, original)
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
        spec = request["AlgorithmSpecification"]
        if spec.get("MetricDefinitions") and algorithm_mode(spec.get("TrainingImage"), request.get("HyperParameters")):
            raise ValidationError("You can't override the metric definitions for Amazon SageMaker algorithms. "
                                  "Please retry the request without specifying metric definitions.")
        backend = self._backend(resp)
        key = (resp.current_account, resp.region, name)
        fault = self.fault(name, copy.deepcopy(request)) if self.fault else None
        if fault and fault.endswith(":create"):
            code = fault[: -len(":create")]
            code = "ThrottlingException" if code == "Throttling" else code
            if code == _quotas.RESOURCE_LIMIT_EXCEEDED:
                with self._lock:
                    message = _quotas.full(request, self._used(resp.current_account, resp.region))
                raise _service_error(code, message)
            raise _service_error(code, f"Injected fault: {code} for CreateTrainingJob {name}")
        with self._lock:
            if self._closed:
                raise ValidationError("The local SageMaker stand-in is uninstalled.")
            if key in self._jobs or name in backend.training_jobs:
                raise ResourceInUseException(
                    "Training job names must be unique within an AWS account and region, and a "
                    "training job with this name already exists "
                    f"({arns.training_job_arn(resp.region, resp.current_account, name)})")
            # the check and the create hold the one lock: two creates cannot both take the last instance
            refusal = _quotas.refusal(self.quotas, request, self._used(resp.current_account, resp.region))
            if refusal is not None:
                raise _service_error(_quotas.RESOURCE_LIMIT_EXCEEDED, refusal)
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

    # -- tags (AddTags / ListTags / DeleteTags) ------------------------------------------------
    def _checked(self, resp: Any, operation: str) -> dict[str, Any]:
        """The request of a tag operation, checked like SageMaker's front end (patterns, bounds)."""
        from moto.sagemaker.exceptions import ValidationError

        from tuner.shapes import input_problems

        params = self._request(resp)
        problems = input_problems(operation, params)
        if problems:
            raise ValidationError(f"{len(problems)} validation error(s) detected: " + "; ".join(problems))
        return params

    def _api_describe_algorithm(self, resp: Any) -> Any:
        """The stand-in has no algorithm resources (neither has moto): every DescribeAlgorithm is
        answered as SageMaker answers one for an algorithm it does not have."""
        from moto.sagemaker.exceptions import ValidationError

        params = self._checked(resp, "DescribeAlgorithm")
        raise ValidationError(f"Could not find algorithm {params['AlgorithmName']!r}.")

    def _tag_target(self, resp: Any, arn: str) -> _Job | None:
        """The stand-in's training job an ARN names; None for an ARN moto answers.

        An ARN of a training job or tuning job that neither the stand-in nor moto has is refused
        with ``ValidationException`` (what SageMaker answers for a resource it does not have).
        """
        from moto.sagemaker.exceptions import ValidationError

        parsed = arns.parse(arn)
        kind, _, name = (parsed.resource if parsed else "").partition("/")
        if kind not in ("training-job", "hyper-parameter-tuning-job"):
            return None
        wanted = arn.lower()
        backend = self._backend(resp)
        if kind == "training-job":
            with self._lock:
                for job in self._jobs.values():
                    if job.arn.lower() == wanted:
                        return job
            if any(j.arn.lower() == wanted for j in backend.training_jobs.values()):
                return None
            raise ValidationError(f"Could not find training job '{arn}'.")
        if any(n.lower() == name.lower() for n in backend.hyper_parameter_tuning_jobs):
            return None
        raise ValidationError(
            f"Could not find hyper-parameter-tuning-job '{arn}'. (The tuner's own tuning jobs are "
            "tagged through tuner.client.TunerClient, which answers for their ARNs.)")

    def _api_list_tags(self, resp: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.sagemaker.exceptions import ValidationError

        params = self._checked(resp, "ListTags")
        job = self._tag_target(resp, params["ResourceArn"])
        if job is None:
            return self._saved["list_tags"](resp)
        if params.get("NextToken"):  # never given out: a job's tags (at most 50) fit one page
            raise ValidationError("Invalid pagination token because it was not issued by this API.")
        with self._lock:
            return ActionResult({"Tags": copy.deepcopy(job.tags)})

    def _api_add_tags(self, resp: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.sagemaker.exceptions import ValidationError

        params = self._checked(resp, "AddTags")
        job = self._tag_target(resp, params["ResourceArn"])
        if job is None:
            return self._saved["add_tags"](resp)
        with self._lock:
            problems = job.add_tags(params.get("Tags") or [])
            if problems:
                raise ValidationError("; ".join(problems))
            return ActionResult({"Tags": copy.deepcopy(job.tags)})

    def _api_delete_tags(self, resp: Any) -> Any:
        from moto.core.responses import EmptyResult

        params = self._checked(resp, "DeleteTags")
        job = self._tag_target(resp, params["ResourceArn"])
        if job is None:
            return self._saved["delete_tags"](resp)
        with self._lock:
            job.delete_tags(params.get("TagKeys") or [])
        return EmptyResult()

    # -- log streams ----------------------------------------------------------------------------
    def _ensure_log_streams(self, job: _Job, hosts: list[str]) -> None:
        """Create the job's log group and streams, one job at a time: moto's ``CreateLogGroup``
        checks and then inserts without a lock, so two jobs starting at once could both create the
        group, the second replacing the first's with its streams (every later ``PutLogEvents`` of
        that job then failed: "The specified log stream does not exist"). CloudWatch Logs creates
        a group once; this keeps moto to that."""
        with self._log_groups_lock:
            super()._ensure_log_streams(job, hosts)

    # -- account quotas (tuner.local.quotas) -------------------------------------------------
    def _used(self, account: str, region: str) -> dict[str, int]:
        """Instances per type held by the account's jobs InProgress/Stopping in ``region`` (lock held)."""
        return _quotas.usage(j.request for j in self._jobs.values()
                             if (j.account, j.region) == (account, region) and j.training_job_status in ACTIVE)

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
                if self._session is None:
                    raise RuntimeError("the local SageMaker stand-in is not installed (install() first)")
                self._clients[key] = self._session.client(service, region_name=region)
            return self._clients[key]
