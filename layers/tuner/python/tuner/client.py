"""A boto3-style SageMaker client whose tuning-job operations go to the tuner stack.

    from tuner.client import TunerClient

    sm = TunerClient(region_name="eu-west-1")               # finds the stack by its outputs
    sm.create_hyper_parameter_tuning_job(**request)          # StartExecution (name = job name)
    sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="my-job")
    sm.describe_training_job(TrainingJobName="...")          # any other call: real SageMaker

    import sagemaker
    session = sagemaker.Session(sagemaker_client=sm)         # the SageMaker Python SDK, unchanged

Five operations are served by the tuner (request and response shapes are SageMaker's, checked
against botocore's service model): ``create_hyper_parameter_tuning_job``,
``describe_hyper_parameter_tuning_job``, ``list_hyper_parameter_tuning_jobs``,
``list_training_jobs_for_hyper_parameter_tuning_job`` and ``stop_hyper_parameter_tuning_job``.
Every other attribute (``describe_training_job``, ``create_model``, ``meta``, ``exceptions``,
``get_waiter``...) is the real boto3 SageMaker client's. Errors are botocore ``ClientError``s with
SageMaker's codes: ``ValidationException``, ``ResourceNotFound`` and ``ResourceInUse`` (the last two
are the modeled ``client.exceptions.ResourceNotFound`` / ``ResourceInUse`` classes).

Offline (no AWS account), ``tuner.local.offline_client()`` yields the same client bound to the
moto deployment.

Between ``StartExecution`` and the state machine's first step the job has no record yet;
``describe`` then answers from the execution (``InProgress``, or ``Failed`` with its error), so a
caller that describes right after creating never sees ``ResourceNotFound``.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from tuner import constants
from tuner.errors import DuplicateTuningJobError, TuningError, TuningJobNotFoundError, ValidationError
from tuner.stack_outputs import StackOutputs

OPERATIONS = {
    "create_hyper_parameter_tuning_job": "CreateHyperParameterTuningJob",
    "describe_hyper_parameter_tuning_job": "DescribeHyperParameterTuningJob",
    "list_hyper_parameter_tuning_jobs": "ListHyperParameterTuningJobs",
    "list_training_jobs_for_hyper_parameter_tuning_job": "ListTrainingJobsForHyperParameterTuningJob",
    "stop_hyper_parameter_tuning_job": "StopHyperParameterTuningJob",
}
TERMINAL = ("Completed", "Failed", "Stopped")


def client_error(code: str, message: str, operation: str, exceptions: Any = None) -> Exception:
    """A botocore ``ClientError`` (the modeled subclass when the code has one)."""
    from botocore.exceptions import ClientError

    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": str(uuid.uuid4())},
    }
    cls = ClientError
    if exceptions is not None:
        try:
            cls = exceptions.from_code(code)
        except Exception:
            cls = ClientError
    return cls(response, operation)


def _metadata() -> dict[str, Any]:
    return {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class TunerClient(StackOutputs):
    """boto3-style SageMaker client for the tuner stack. See the module docstring.

    ``region_name``: the stack's region (default: the session's). ``stack_name``: the CloudFormation
    stack whose outputs name the state machine and the table. ``session``: a ``boto3.session.Session``
    (default: a new one). ``sagemaker_client``: the client everything else is delegated to (default:
    ``session.client("sagemaker")``). ``outputs``: the stack outputs, when already known.
    """

    create_grace = 30.0  # seconds stop waits for a just-started job's record

    def __init__(
        self,
        region_name: str | None = None,
        stack_name: str = constants.DEFAULT_STACK_NAME,
        session: Any = None,
        *,
        sagemaker_client: Any = None,
        outputs: Mapping[str, str] | None = None,
    ) -> None:
        import boto3

        self._session = session or boto3.session.Session(region_name=region_name)
        self._region = region_name or self._session.region_name or "us-east-1"
        self._sm = sagemaker_client or self._session.client("sagemaker", region_name=self._region)
        self.stack_name = stack_name
        self._outputs: dict[str, str] | None = dict(outputs) if outputs else None
        self._service: Any = None
        self._sfn: Any = None

    # ---- delegation ----------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "_sm" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self._sm, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self._sm)))

    def __repr__(self) -> str:
        return f"TunerClient(region_name={self._region!r}, stack_name={self.stack_name!r})"

    @property
    def meta(self) -> Any:
        return self._sm.meta

    @property
    def exceptions(self) -> Any:
        return self._sm.exceptions

    @property
    def session(self) -> Any:
        return self._session

    @property
    def region_name(self) -> str:
        return self._region

    # ---- the stack -----------------------------------------------------------------------------
    @property
    def outputs(self) -> dict[str, str]:
        """The tuner stack's CloudFormation outputs (read once)."""
        if self._outputs is None:
            cfn = self._session.client("cloudformation", region_name=self._region)
            from botocore.exceptions import ClientError

            try:
                stacks = cfn.describe_stacks(StackName=self.stack_name)["Stacks"]
            except ClientError as err:
                raise client_error(
                    "ResourceNotFound",
                    f"no tuner stack named {self.stack_name!r} in {self._region} "
                    f"({err.response['Error'].get('Message', err)}); deploy it with `make deploy` "
                    "or give the stack name and region of yours",
                    "DescribeStacks",
                ) from None
            self._outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
            missing = [
                k
                for k in (constants.OUTPUT_STATE_MACHINE_ARN, constants.OUTPUT_TABLE_NAME)
                if k not in self._outputs
            ]
            if missing:
                raise client_error(
                    "ResourceNotFound",
                    f"stack {self.stack_name!r} has no output {', '.join(missing)}: is it the tuner stack?",
                    "DescribeStacks",
                )
        return self._outputs

    @property
    def service(self) -> Any:
        """The ``TuningService`` over the stack's table (reads and stop)."""
        if self._service is None:
            from tuner.service.runtime import build_service

            self._service = build_service(self.table_name, region=self._region, session=self._session)
        return self._service

    @property
    def sfn(self) -> Any:
        if self._sfn is None:
            self._sfn = self._session.client("stepfunctions", region_name=self._region)
        return self._sfn

    def _account(self) -> str:
        parts = self.state_machine_arn.split(":")
        return parts[4] if len(parts) > 4 else "123456789012"

    def _execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def tuning_job_arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self._region}:{self._account()}:hyper-parameter-tuning-job/{name.lower()}"

    # ---- errors ----------------------------------------------------------------------------------
    def _error(self, code: str, message: str, operation: str) -> Exception:
        return client_error(code, message, operation, self._sm.exceptions)

    @contextlib.contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Tuner errors -> ClientError with SageMaker's codes."""
        try:
            yield
        except TuningJobNotFoundError as err:
            raise self._error("ResourceNotFound", str(err), operation) from None
        except DuplicateTuningJobError as err:
            raise self._error("ResourceInUse", str(err), operation) from None
        except ValidationError as err:
            raise self._error("ValidationException", str(err), operation) from None
        except TuningError as err:
            raise self._error("ValidationException", str(err), operation) from None

    def _validate(self, operation: str, params: dict[str, Any]) -> None:
        from tuner.shapes import validate_input

        validate_input(operation, params)

    # ---- the five operations ---------------------------------------------------------------------
    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        """Validate, then StartExecution of the tuner's state machine (execution name = job name)."""
        from tuner.core.request import parse_request

        op = OPERATIONS["create_hyper_parameter_tuning_job"]
        with self._errors(op):
            self._validate(op, request)
            self._check_parents(request, op)
            request = self._inherit_metric_definitions(request)
            parse_request(request)
            name = request["HyperParameterTuningJobName"]
            if self.service.store.get_job(name) is not None:
                raise DuplicateTuningJobError(
                    f"HyperParameterTuningJobName: a tuning job named {name!r} exists already; "
                    "choose another name"
                )
            try:
                self.sfn.start_execution(
                    stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(request, default=str)
                )
            except self.sfn.exceptions.ExecutionAlreadyExists:
                raise DuplicateTuningJobError(
                    f"HyperParameterTuningJobName: a tuning job named {name!r} was started already; "
                    "choose another name"
                ) from None
        return {"HyperParameterTuningJobArn": self.tuning_job_arn(name), "ResponseMetadata": _metadata()}

    def _check_parents(self, request: Mapping[str, Any], op: str) -> None:
        """Warm-start parents must exist and have ended (SageMaker checks this on create)."""
        warm = request.get("WarmStartConfig") or {}
        for parent in warm.get("ParentHyperParameterTuningJobs") or ():
            pname = parent.get("HyperParameterTuningJobName")
            job = self.service.store.get_job(pname)
            if job is None:
                raise self._error(
                    "ResourceNotFound", f"warm-start parent tuning job {pname!r} does not exist", op
                )
            if job.status not in TERMINAL:
                raise ValidationError(
                    f"the warm-start parent {pname!r} is {job.status}; a parent must have ended "
                    "(Completed, Failed or Stopped)",
                    "WarmStartConfig.ParentHyperParameterTuningJobs",
                )

    def _inherit_metric_definitions(self, request: dict[str, Any]) -> dict[str, Any]:
        """A warm-started single definition without ``MetricDefinitions`` takes its parent's.

        The SageMaker SDK's warm-start helpers (``identical_dataset_and_algorithm_tuner``,
        ``transfer_learning_tuner``) drop the tuner's metric definitions (``_create_warm_start_tuner``
        does not pass them on); the parent ran the same algorithm, so its definitions are the
        ones meant. Only filled in when the parent defines the objective metric.
        """
        import copy

        definition = request.get("TrainingJobDefinition") or {}
        spec = definition.get("AlgorithmSpecification") or {}
        parents = (request.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs") or []
        objective = (
            (request.get("HyperParameterTuningJobConfig") or {}).get("HyperParameterTuningJobObjective") or {}
        ).get("MetricName")
        if not definition or spec.get("MetricDefinitions") or not parents or spec.get("AlgorithmName"):
            return request
        for parent in parents:
            job = self.service.store.get_job(parent.get("HyperParameterTuningJobName"))
            parent_def = (job.request.get("TrainingJobDefinition") or {}) if job else {}
            inherited = (parent_def.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
            if any(md.get("Name") == objective for md in inherited):
                request = copy.deepcopy(request)
                request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = inherited
                return request
        return request

    def describe_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        op = OPERATIONS["describe_hyper_parameter_tuning_job"]
        with self._errors(op):
            self._validate(op, params)
            name = params["HyperParameterTuningJobName"]
            from tuner.core import results

            job = self.service.store.get_job(name)
            if job is None:
                out = results.describe(self._record_from_execution(name), [])
            else:
                out = results.describe(job, self.service.store.list_trials(name))
        _sdk_view(out)
        out["ResponseMetadata"] = _metadata()
        return out

    def _record_from_execution(self, name: str) -> Any:
        """A job that has an execution but no record yet (or whose create step failed)."""
        from tuner.core.records import FAILED, IN_PROGRESS, JobRecord
        from tuner.service.tuning import _failure_reason

        try:
            ex = self.sfn.describe_execution(executionArn=self._execution_arn(name))
        except Exception:
            raise TuningJobNotFoundError(f"no tuning job named {name!r}; check the name") from None
        try:
            request = json.loads(ex.get("input") or "{}")
        except ValueError:
            request = {}
        started = _aware(ex.get("startDate")) or datetime.now(UTC)
        stopped = _aware(ex.get("stopDate"))
        running = ex.get("status") == "RUNNING"
        return JobRecord(
            name=name,
            request=request if isinstance(request, dict) else {},
            status=IN_PROGRESS if running else FAILED,
            created=started.isoformat(),
            last_modified=(stopped or started).isoformat(),
            ended=None if running else (stopped or started).isoformat(),
            failure_reason=None
            if running
            else _failure_reason(
                {"Error": ex.get("error") or "States.Failed", "Cause": ex.get("cause") or ""}
            ),
            execution_arn=ex.get("executionArn"),
            region=self._region,
            account=self._account(),
        )

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        op = OPERATIONS["list_training_jobs_for_hyper_parameter_tuning_job"]
        with self._errors(op):
            self._validate(op, params)
            params = dict(params)
            name = params.pop("HyperParameterTuningJobName")
            job = self.service.store.get_job(name)
            if job is None:
                self._record_from_execution(name)  # ResourceNotFound when there is no execution
                out: dict[str, Any] = {"TrainingJobSummaries": []}
            else:
                from tuner.core import results

                out = results.list_training_jobs(job, self.service.store.list_trials(name), **params)
        out["ResponseMetadata"] = _metadata()
        return out

    def list_hyper_parameter_tuning_jobs(self, **params: Any) -> dict[str, Any]:
        """ListHyperParameterTuningJobs over the stored jobs (newest first by default)."""
        from tuner.core import results

        op = OPERATIONS["list_hyper_parameter_tuning_jobs"]
        with self._errors(op):
            self._validate(op, params)
            jobs = self.service.store.list_jobs()
            jobs = [j for j in jobs if _matches(j, params)]
            sort_by = params.get("SortBy", "CreationTime")
            key: Callable[[Any], Any] = {
                "Name": lambda j: j.name,
                "Status": lambda j: (j.status, j.name),
            }.get(sort_by, lambda j: (j.created, j.name))
            jobs.sort(key=key, reverse=params.get("SortOrder", "Descending") == "Descending")
            start = results.decode_token(params["NextToken"]) if params.get("NextToken") else 0
            size = int(params.get("MaxResults", 100))
            page = jobs[start : start + size]
            out: dict[str, Any] = {
                "HyperParameterTuningJobSummaries": [self._job_summary(j) for j in page],
                "ResponseMetadata": _metadata(),
            }
            if start + size < len(jobs):
                out["NextToken"] = results.encode_token(start + size)
        return out

    def _job_summary(self, job: Any) -> dict[str, Any]:
        from tuner.core import results

        trials = self.service.store.list_trials(job.name)
        config = job.request.get("HyperParameterTuningJobConfig") or {}
        s: dict[str, Any] = {
            "HyperParameterTuningJobName": job.name,
            "HyperParameterTuningJobArn": results.job_arn(job),
            "HyperParameterTuningJobStatus": job.status,
            "Strategy": config.get("Strategy", "Bayesian"),
            "CreationTime": _aware(job.created),
            "LastModifiedTime": _aware(job.last_modified),
            "TrainingJobStatusCounters": results.training_status_counters(trials),
            "ObjectiveStatusCounters": results.objective_status_counters(trials),
        }
        if job.ended:
            s["HyperParameterTuningEndTime"] = _aware(job.ended)
        if config.get("ResourceLimits"):
            s["ResourceLimits"] = config["ResourceLimits"]
        return s

    def stop_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        op = OPERATIONS["stop_hyper_parameter_tuning_job"]
        with self._errors(op):
            self._validate(op, params)
            name = params["HyperParameterTuningJobName"]
            deadline = time.monotonic() + self.create_grace
            while self.service.store.get_job(name) is None:
                job = self._record_from_execution(name)  # ResourceNotFound without an execution
                if job.status != "InProgress":
                    raise ValidationError(f"the tuning job {name!r} is {job.status} already")
                if time.monotonic() > deadline:
                    raise ValidationError(f"the tuning job {name!r} is still being created; try again")
                time.sleep(0.2)  # stopped right after create: the first step is about to store it
            self.service.stop(name)
        return {"ResponseMetadata": _metadata()}

    # ---- paginators for the tuner's list operations ---------------------------------------------
    def can_paginate(self, operation_name: str) -> bool:
        if operation_name in (
            "list_hyper_parameter_tuning_jobs",
            "list_training_jobs_for_hyper_parameter_tuning_job",
        ):
            return True
        return bool(self._sm.can_paginate(operation_name))

    def get_paginator(self, operation_name: str) -> Any:
        if operation_name in (
            "list_hyper_parameter_tuning_jobs",
            "list_training_jobs_for_hyper_parameter_tuning_job",
        ):
            return _Paginator(getattr(self, operation_name))
        return self._sm.get_paginator(operation_name)

    # ---- helpers beyond the SageMaker API --------------------------------------------------------
    def all_training_jobs(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Every ``HyperParameterTrainingJobSummary`` of a tuning job (all pages)."""
        out: list[dict[str, Any]] = []
        for page in self.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=name, **params
        ):
            out.extend(page["TrainingJobSummaries"])
        return out

    def wait_for_tuning_job(
        self,
        name: str,
        *,
        poll: float = 2.0,
        timeout: float = 24 * 3600.0,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll describe until the job has ended; ``progress(describe)`` after each poll."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            if progress is not None:
                progress(d)
            if d["HyperParameterTuningJobStatus"] in TERMINAL:
                return d
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"tuning job {name} still {d['HyperParameterTuningJobStatus']} after {timeout:.0f} s"
                )
            time.sleep(poll)

    def upload_sources(self, request: Mapping[str, Any], base_dir: Any = ".") -> dict[str, Any]:
        """Upload local ``sagemaker_submit_directory`` / channel paths to the stack's bucket (as the
        SageMaker SDK does) and return the request with ``s3://`` URIs in their place."""
        from pathlib import Path

        from tuner.local.sources import prepare_request_sources

        bucket = self.bucket_name
        if not bucket:
            raise ValidationError(
                f"stack {self.stack_name!r} has no {constants.OUTPUT_BUCKET_NAME} output to upload to"
            )
        name = request.get("HyperParameterTuningJobName", "job")
        return prepare_request_sources(
            dict(request),
            Path(base_dir),
            self._session.client("s3", region_name=self._region),
            bucket,
            f"sources/{name}",
        )


def _sdk_view(describe: dict[str, Any]) -> None:
    """Two members the SageMaker SDK's ``HyperparameterTuner.attach`` reads from each definition:

    * the reserved static hyperparameter ``_tuning_objective_metric`` (the objective's MetricName),
      which SageMaker shows in the describe output;
    * ``ResourceConfig``: the SDK sends ``HyperParameterTuningResourceConfig`` but reads
      ``ResourceConfig`` back; the equivalent one (what each training job gets) is added beside it.
    """
    import copy

    from tuner.core.request import RESOURCE_FIELDS

    config = describe.get("HyperParameterTuningJobConfig") or {}
    objective = (config.get("HyperParameterTuningJobObjective") or {}).get("MetricName")
    defs: list[dict[str, Any]] = []
    if describe.get("TrainingJobDefinition"):
        describe["TrainingJobDefinition"] = copy.deepcopy(describe["TrainingJobDefinition"])
        defs.append(describe["TrainingJobDefinition"])
    if describe.get("TrainingJobDefinitions"):
        describe["TrainingJobDefinitions"] = copy.deepcopy(describe["TrainingJobDefinitions"])
        defs.extend(describe["TrainingJobDefinitions"])
    for d in defs:
        metric = (d.get("TuningObjective") or {}).get("MetricName") or objective
        if metric:
            d.setdefault("StaticHyperParameters", {}).setdefault("_tuning_objective_metric", metric)
        hp = d.get("HyperParameterTuningResourceConfig")
        if hp and not d.get("ResourceConfig"):
            rc = {k: hp[k] for k in RESOURCE_FIELDS if hp.get(k) is not None}
            first = (hp.get("InstanceConfigs") or [{}])[0]
            rc.update(
                {k: first[k] for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if k in first}
            )
            d["ResourceConfig"] = rc


def _matches(job: Any, p: Mapping[str, Any]) -> bool:
    if p.get("NameContains") and p["NameContains"].lower() not in job.name.lower():
        return False
    if p.get("StatusEquals") and job.status != p["StatusEquals"]:
        return False
    created, modified = _aware(job.created), _aware(job.last_modified)
    for field, value, after in (
        ("CreationTimeAfter", created, True),
        ("CreationTimeBefore", created, False),
        ("LastModifiedTimeAfter", modified, True),
        ("LastModifiedTimeBefore", modified, False),
    ):
        bound = p.get(field)
        if bound is None or value is None:
            continue
        bound = _aware(bound if not isinstance(bound, (int, float)) else datetime.fromtimestamp(bound, UTC))
        if (after and not value > bound) or (not after and not value < bound):
            return False
    return True


class _Paginator:
    """What ``client.get_paginator(op).paginate(**kwargs)`` gives: pages until no NextToken."""

    def __init__(self, method: Callable[..., dict[str, Any]]) -> None:
        self._method = method

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        config = kwargs.pop("PaginationConfig", None) or {}
        kwargs.setdefault("MaxResults", int(config.get("PageSize", 100)))
        token = config.get("StartingToken")
        while True:
            page = self._method(**kwargs, **({"NextToken": token} if token else {}))
            yield page
            token = page.get("NextToken")
            if not token:
                return


__all__ = ["OPERATIONS", "TunerClient", "client_error"]
