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
``list_tags``, ``add_tags`` and ``delete_tags`` on the ARN of one of the tuner's tuning jobs are
served by the tuner too (the job's tags are its request's ``Tags``); on any other ARN they go to
SageMaker.
Every other attribute (``describe_training_job``, ``create_model``, ``meta``, ``exceptions``,
``get_waiter``...) is the real boto3 SageMaker client's. Errors are botocore ``ClientError``s with
SageMaker's codes: ``ValidationException``, ``ResourceNotFound`` and ``ResourceInUse`` (the last two
are the modeled ``client.exceptions.ResourceNotFound`` / ``ResourceInUse`` classes).

Offline (no AWS account), ``tuner.local.offline_client()`` yields the same client bound to the
moto deployment.

The front door (docs/security.md): a stack with a ``FrontDoorUrl`` output takes the calls that
change something (create, stop, and AddTags / DeleteTags on its tuning jobs) at that function URL,
signed with the caller's credentials, and runs them only when IAM says the caller may (the
permissions SageMaker would check: ``sagemaker:CreateHyperParameterTuningJob``, ``iam:PassRole`` of
the execution roles...). ``front_door=False`` calls the tuner directly (``states:StartExecution``:
administrators); ``front_door=True`` insists on the front door. Reads go to the deployment's table.

Between ``StartExecution`` and the state machine's first step the job has no record yet;
``describe`` then answers from the execution (``InProgress``, or ``Failed`` with its error), so a
caller that describes right after creating never sees ``ResourceNotFound``.

Read your own writes: ``list_hyper_parameter_tuning_jobs`` reads the table's job index, which is
eventually consistent and lists a job only once the first step stored it. The client remembers the
jobs it created (for ``RECENT_SECONDS``) and the list merges each one it lacks, read consistently
(the stored record, else the execution), so a list right after a create shows the job, as describe
does (session consistency; docs/parity.md). Names are unique regardless of case, as in SageMaker.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tuner import constants
from tuner.core import arns
from tuner.core.naming import name_key
from tuner.core.records import IN_PROGRESS, JobRecord
from tuner.core.request import check_tags
from tuner.errors import TuningError, TuningJobNotFoundError, ValidationError
from tuner.service.queries import find_job
from tuner.service.tuning import TuningService
from tuner.stack_outputs import StackOutputs

OPERATIONS = {
    "create_hyper_parameter_tuning_job": "CreateHyperParameterTuningJob",
    "describe_hyper_parameter_tuning_job": "DescribeHyperParameterTuningJob",
    "list_hyper_parameter_tuning_jobs": "ListHyperParameterTuningJobs",
    "list_training_jobs_for_hyper_parameter_tuning_job": "ListTrainingJobsForHyperParameterTuningJob",
    "stop_hyper_parameter_tuning_job": "StopHyperParameterTuningJob",
}
TERMINAL = ("Completed", "Failed", "Stopped")
_TUNING_JOB = "hyper-parameter-tuning-job/"  # the resource part of a tuning job's ARN, before its name
# How long the client merges a job it created into its lists: far beyond the index's lag (typically
# well under a second) and the state machine's first step (seconds, a cold start included).
RECENT_SECONDS = 300.0


def client_error(code: str, message: str, operation: str, exceptions: Any = None) -> Exception:
    """A botocore ``ClientError`` (the modeled subclass when the code has one)."""
    from botocore.exceptions import ClientError

    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": str(uuid.uuid4())},
    }
    # from_code gives the modeled subclass (ResourceNotFound, ...) or ClientError itself
    cls = exceptions.from_code(code) if exceptions is not None else ClientError
    return cls(response, operation)


def _metadata() -> dict[str, Any]:
    return {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}


class TunerClient(StackOutputs):
    """boto3-style SageMaker client for the tuner stack. See the module docstring.

    ``region_name``: the stack's region (default: the session's). ``stack_name``: the CloudFormation
    stack whose outputs name the state machine and the table. ``session``: a ``boto3.session.Session``
    (default: a new one). ``sagemaker_client``: the client everything else is delegated to (default:
    ``session.client("sagemaker")``). ``outputs``: the stack outputs, when already known.
    ``front_door``: None (the default) uses the stack's front door when it has one, True insists on
    it, False calls the tuner directly. ``service``: the ``TuningService`` to act with (the front
    door's own; default: one over the stack's table and state machine).
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
        front_door: bool | None = None,
        service: TuningService | None = None,
    ) -> None:
        import boto3

        self._session = session or boto3.session.Session(region_name=region_name)
        self._region = region_name or self._session.region_name or "us-east-1"
        self._sm = sagemaker_client or self._session.client("sagemaker", region_name=self._region)
        self.stack_name = stack_name
        self._outputs: dict[str, str] | None = dict(outputs) if outputs else None
        self._service: TuningService | None = service
        self._front_door = front_door
        self._front_client: Any = None
        self._created: dict[str, tuple[str, float]] = {}  # name_key -> (name, when created)

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
    def service(self) -> TuningService:
        """The ``TuningService`` over the stack's table and state machine."""
        if self._service is None:
            from tuner.aws.assembly import build_service

            self._service = build_service(
                self.table_name, region=self._region, session=self._session, state_machine_arn=self.state_machine_arn
            )
        return self._service

    @property
    def front_door(self) -> Any:
        """The boto3 SageMaker client of the stack's front door (SageMaker's JSON API at its function
        URL, SigV4-signed for ``lambda``); None when this client calls the tuner directly."""
        if self._front_door is False:
            return None
        url = self.outputs.get(constants.OUTPUT_FRONT_DOOR_URL)
        if not url:
            if self._front_door:
                raise client_error(
                    "ResourceNotFound",
                    f"stack {self.stack_name!r} has no {constants.OUTPUT_FRONT_DOOR_URL} output: redeploy the "
                    "tuner (the front door came with it), or call it directly with front_door=False",
                    "DescribeStacks",
                )
            return None
        if self._front_client is None:
            client = self._session.client("sagemaker", region_name=self._region, endpoint_url=url)

            def sign_for_lambda(request: Any, **_: Any) -> None:
                # A function URL with AuthType AWS_IAM takes SigV4 for the ``lambda`` service.
                request.context.setdefault("signing", {})["signing_name"] = "lambda"

            client.meta.events.register("before-sign.sagemaker", sign_for_lambda)
            self._front_client = client
        return self._front_client

    def tuning_job_arn(self, name: str) -> str:
        account = arns.region_and_account(self.state_machine_arn)[1]
        return arns.tuning_job_arn(self._region, account, name)

    # ---- errors ----------------------------------------------------------------------------------
    def _error(self, code: str, message: str, operation: str) -> Exception:
        return client_error(code, message, operation, self._sm.exceptions)

    @contextlib.contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Tuner errors -> ClientError with SageMaker's codes (each error class names its code)."""
        try:
            yield
        except TuningError as err:
            raise self._error(err.code, str(err), operation) from None

    def _validate(self, operation: str, params: dict[str, Any]) -> None:
        from tuner.shapes import validate_input

        validate_input(operation, params)

    # ---- the five operations ---------------------------------------------------------------------
    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        """Check the request, then StartExecution of the tuner's state machine (execution name = job name)."""
        op = OPERATIONS["create_hyper_parameter_tuning_job"]
        with self._errors(op):
            self._validate(op, request)
            if self.front_door is not None:
                self.front_door.create_hyper_parameter_tuning_job(**request)
            else:
                self.service.submit(request)
        name = request["HyperParameterTuningJobName"]
        self._created[name_key(name)] = (name, time.monotonic())
        return {"HyperParameterTuningJobArn": self.tuning_job_arn(name), "ResponseMetadata": _metadata()}

    def describe_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        op = OPERATIONS["describe_hyper_parameter_tuning_job"]
        with self._errors(op):
            self._validate(op, params)
            out = self.service.describe(params["HyperParameterTuningJobName"])
        _sdk_view(out)
        out["ResponseMetadata"] = _metadata()
        return out

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        op = OPERATIONS["list_training_jobs_for_hyper_parameter_tuning_job"]
        with self._errors(op):
            self._validate(op, params)
            params = dict(params)
            out = self.service.list_training_jobs(params.pop("HyperParameterTuningJobName"), **params)
        out["ResponseMetadata"] = _metadata()
        return out

    def list_hyper_parameter_tuning_jobs(self, **params: Any) -> dict[str, Any]:
        """ListHyperParameterTuningJobs over the stored jobs (newest first by default), with the
        jobs this client created in the last ``RECENT_SECONDS`` (read your own writes)."""
        op = OPERATIONS["list_hyper_parameter_tuning_jobs"]
        with self._errors(op):
            self._validate(op, params)
            out = self.service.list_jobs(recent=self._recent(), **params)
        out["ResponseMetadata"] = _metadata()
        return out

    def stop_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        op = OPERATIONS["stop_hyper_parameter_tuning_job"]
        if self.front_door is not None:
            with self._errors(op):
                self._validate(op, params)
            return dict(self.front_door.stop_hyper_parameter_tuning_job(**params))
        with self._errors(op):
            self._validate(op, params)
            name = params["HyperParameterTuningJobName"]
            deadline = time.monotonic() + self.create_grace
            while self.service.store.get_job(name) is None:
                job = self.service.describe(name)  # ResourceNotFound without an execution
                if job["HyperParameterTuningJobStatus"] != "InProgress":
                    raise ValidationError(
                        f"the tuning job {name!r} is {job['HyperParameterTuningJobStatus']} already"
                    )
                if time.monotonic() > deadline:
                    raise ValidationError(f"the tuning job {name!r} is still being created; try again")
                time.sleep(0.2)  # stopped right after create: the first step is about to store it
            self.service.stop(name)
        return {"ResponseMetadata": _metadata()}

    def _recent(self) -> list[str]:
        """The names of the jobs this client created in the last ``RECENT_SECONDS``."""
        horizon = time.monotonic() - RECENT_SECONDS
        for key in [k for k, (_, when) in self._created.items() if when < horizon]:
            self._created.pop(key, None)
        return [name for name, _ in self._created.values()]

    # ---- tags of the tuner's tuning jobs ---------------------------------------------------------
    # A tuning job is the tuner's, not SageMaker's: SageMaker (and moto) do not know its ARN, so the
    # tag operations on it are answered here, from the job's stored request, online and offline
    # alike. Its tags are the request's ``Tags``: the tuner gives them to each training job it
    # starts, so (as SageMaker documents for AddTags / DeleteTags on a tuning job) a change reaches
    # the training jobs started after it, not those started before.
    def list_tags(self, **params: Any) -> dict[str, Any]:
        if self._tuning_job_name(params.get("ResourceArn")) is None:
            return dict(self._sm.list_tags(**params))
        with self._errors("ListTags"):
            self._validate("ListTags", params)
            job = self._tuning_job(params["ResourceArn"], stored=False)
            if job is None:
                return dict(self._sm.list_tags(**params))
            if params.get("NextToken"):  # never given out: a job's tags (at most 50) fit one page
                raise ValidationError("this NextToken was not issued by ListTags", "NextToken")
            tags = _tags(job.request)
        return {"Tags": tags, "ResponseMetadata": _metadata()}

    def add_tags(self, **params: Any) -> dict[str, Any]:
        """AddTags: a key given again overwrites its value; the job's tags keep a request's rules
        (``tuner.core.request.check_tags``: no ``tuner:*`` key, room for the tuner's own tag)."""
        if self._tuning_job_name(params.get("ResourceArn")) is None:
            return dict(self._sm.add_tags(**params))
        with self._errors("AddTags"):
            self._validate("AddTags", params)
            job = self._tuning_job(params["ResourceArn"], stored=self.front_door is None)
            if job is None:
                return dict(self._sm.add_tags(**params))
            if self.front_door is not None:
                return dict(self.front_door.add_tags(**params))
            merged = {t["Key"]: t for t in _tags(job.request)}
            merged.update({t["Key"]: {"Key": t["Key"], "Value": t.get("Value", "")} for t in params["Tags"]})
            check_tags(list(merged.values()))  # the request's rules: no tuner:* key, room for the tuner's tag
            tags = self._set_tags(job.name, job.request, list(merged.values()))
        return {"Tags": tags, "ResponseMetadata": _metadata()}

    def delete_tags(self, **params: Any) -> dict[str, Any]:
        """DeleteTags: a key the job does not have is ignored."""
        if self._tuning_job_name(params.get("ResourceArn")) is None:
            return dict(self._sm.delete_tags(**params))
        with self._errors("DeleteTags"):
            self._validate("DeleteTags", params)
            job = self._tuning_job(params["ResourceArn"], stored=self.front_door is None)
            if job is None:
                return dict(self._sm.delete_tags(**params))
            if self.front_door is not None:
                return dict(self.front_door.delete_tags(**params))
            gone = set(params["TagKeys"])
            self._set_tags(job.name, job.request, [t for t in _tags(job.request) if t["Key"] not in gone])
        return {"ResponseMetadata": _metadata()}

    @staticmethod
    def _tuning_job_name(arn: Any) -> str | None:
        """The (lower-case) name in a SageMaker tuning job's ARN; None for any other value."""
        parsed = arns.parse(arn if isinstance(arn, str) else None)
        if parsed is None or parsed.service != "sagemaker" or not parsed.resource.startswith(_TUNING_JOB):
            return None
        return parsed.resource[len(_TUNING_JOB) :] or None

    def _tuning_job(self, arn: str, *, stored: bool) -> JobRecord | None:
        """The record of the tuner's tuning job ``arn`` names; None when the tuner has no such job.

        ARNs hold the name in lower case, which finds any job by its key (``core.naming.name_key``);
        one stored under a mixed-case name before names were keyed so is found by a scan. Between create
        and the state machine's first step the job has no record: ``stored=False`` answers from the
        execution, ``stored=True`` waits (up to ``create_grace``) for the record.
        """
        name = self._tuning_job_name(arn) or ""
        store = self.service.store
        job = find_job(store, name)
        deadline = time.monotonic() + self.create_grace
        while job is None:
            try:
                pending = self.service.queries.job(name)[0]  # the stored record, else from the execution
            except TuningJobNotFoundError:
                return None
            job = store.get_job(name)
            if job is not None or not stored:
                job = job or pending
                break
            if pending.status != IN_PROGRESS:
                raise ValidationError(f"the tuning job {name!r} ended ({pending.status}) before it was stored")
            if time.monotonic() > deadline:
                raise ValidationError(f"the tuning job {name!r} is still being created; try again")
            time.sleep(0.2)  # just created: the first step is about to store it
        return job if self.tuning_job_arn(job.name).lower() == arn.lower() else None

    def _set_tags(self, name: str, request: Mapping[str, Any], tags: list[dict[str, str]]) -> list[dict[str, str]]:
        updated = {**request, "Tags": tags}
        if not tags:
            updated.pop("Tags")  # as if created without tags
        self.service.store.update_job(name, request=updated)
        return tags

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

    def upload_sources(
        self, request: Mapping[str, Any], base_dir: Any = ".", report: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """Upload local ``sagemaker_submit_directory`` / channel paths (relative to ``base_dir``) to
        the stack's bucket (as the SageMaker SDK does) and return the request with ``s3://`` URIs in
        their place; ``report(line)`` for each upload (``tuner.sources``)."""
        from pathlib import Path

        from tuner.sources import prepare_request_sources

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
            report,
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


def _tags(request: Mapping[str, Any]) -> list[dict[str, str]]:
    """A tuning job's tags: its request's ``Tags`` (copies; ``Value`` always present)."""
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for t in request.get("Tags") or [] if "Key" in t]


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


def with_max_spend(request: Mapping[str, Any], usd: float, policy: str | None = None) -> dict[str, Any]:
    """A copy of ``request`` with a dollar budget (``tuner:MaxSpendUSD``, and ``tuner:SpendPolicy``
    when ``policy`` is given; docs/cost.md): what ``tuner create --max-spend`` does, for Python
    callers: ``client.create_hyper_parameter_tuning_job(**with_max_spend(request, 25))``. A bad value
    raises ``ValidationError`` naming the tag."""
    from tuner.core.budget import set_tags

    out = dict(request)
    out["Tags"] = set_tags(request.get("Tags"), usd, policy)
    return out


__all__ = ["OPERATIONS", "TunerClient", "client_error", "with_max_spend"]
