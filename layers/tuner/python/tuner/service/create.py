"""Creating a tuning job: the checks of a CreateHyperParameterTuningJob request, once.

``check_request`` is every rule a request must pass (botocore's shape, AMT's semantic rules, the
per-job quotas, and with the ports the rules that need them: an AlgorithmName's, the warm-start
parents), every problem reported at once; ``tuner validate`` and ``tuner local`` (before it deploys
anything) run it without the ports, accepting local source and data paths (checked, as
``tuner.sources`` uploads them), and ``CreateJob.check`` with them. ``submit`` (the client, CLI and
SDK path) checks, then starts the state machine's execution named after the job; ``create_job``
(the state machine's first step) checks again and stores the job. An invalid request ends as a
``Failed`` job whose FailureReason names the field and the fix; a duplicate name is refused and
the stored job is left alone. Names are unique regardless of case, as in SageMaker: ``case-job``
after ``Case-Job`` is a duplicate (the store keys jobs by ``core.naming.name_key``).

AMT's quotas (``tuner.core.quotas``, docs/quotas.md) are the deployment's: the stack sets them in the
create_job Lambda's environment (``tuner.constants.ENV_QUOTAS``). ``create_job`` enforces them, with
AMT's defaults for any the environment lacks (an older deployment): the per-job quotas in ``check``,
then the concurrent tuning jobs, whose slot it takes atomically in the store (``take_job_slot``;
``Lifecycle`` gives it back when the job ends). ``submit`` runs elsewhere (the client, the CLI, the
retune Lambda) and checks the per-job quotas only where the environment states them, so a client
never refuses what the deployment allows; ``tuner validate`` checks AMT's defaults.
"""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from tuner.constants import DEFAULT_LAP_TRIALS
from tuner.core import arns, budget
from tuner.core.cost import PriceTable
from tuner.core.laps import lap_plan
from tuner.core.naming import is_valid_name
from tuner.core.quotas import AMT_QUOTAS, Quotas
from tuner.core.records import FAILED, TERMINAL_JOB, JobRecord
from tuner.core.request import REQUEST_SUBJECT, TuningRequest, request_problems
from tuner.core.warm_start import check_parents, parent_names
from tuner.errors import DuplicateTuningJobError, Problems, ValidationError
from tuner.service.algorithms import check_algorithms, with_algorithm_metrics
from tuner.service.jobs import MAX_REASON
from tuner.service.lifecycle import Lifecycle
from tuner.service.ports import Ports

#: How long a name reservation without an execution blocks other cases of the name: far longer
#: than a StartExecution call takes, after which the reservation is taken to be a failed start's.
RESERVATION_SECONDS = 60.0


class CreateJob:
    def __init__(self, ports: Ports, lifecycle: Lifecycle, environ: Mapping[str, str] | None = None) -> None:
        self.ports = ports
        self.lifecycle = lifecycle
        # Where the deployment's quotas are read, at each call (None: this process's environment,
        # which the Lambda runtime fills from the stack's settings).
        self.environ = environ

    def quotas(self) -> Quotas | None:
        """The deployment's quotas as this process's environment states them (None: it states none)."""
        return Quotas.from_environment(os.environ if self.environ is None else self.environ)

    def prepare(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The request as it will be stored: a warm-started single definition without
        ``MetricDefinitions`` takes its parent's.

        The SageMaker SDK's warm-start helpers (``identical_dataset_and_algorithm_tuner``,
        ``transfer_learning_tuner``) drop the tuner's metric definitions; the parent ran the same
        algorithm, so its definitions are the ones meant. Only filled in when the parent defines
        the objective metric. An ``AlgorithmName`` without them takes the algorithm's own
        (``tuner.service.algorithms``).
        """
        out = with_algorithm_metrics(request, self.ports.backend)
        definition = out.get("TrainingJobDefinition")
        if not isinstance(definition, Mapping):
            return out
        spec = definition.get("AlgorithmSpecification") or {}
        warm = out.get("WarmStartConfig")
        if spec.get("MetricDefinitions") or spec.get("AlgorithmName") or not isinstance(warm, Mapping):
            return out
        objective = (
            (out.get("HyperParameterTuningJobConfig") or {}).get("HyperParameterTuningJobObjective") or {}
        ).get("MetricName")
        for parent in parent_names(warm):
            job = self.ports.store.get_job(parent)
            parent_def = (job.request.get("TrainingJobDefinition") or {}) if job else {}
            inherited = (parent_def.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
            if any(md.get("Name") == objective for md in inherited):
                out = copy.deepcopy(out)
                out["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = inherited
                return out
        return out

    def check(self, request: Mapping[str, Any], quotas: Quotas | None = None) -> TuningRequest:
        """Every rule of a request (``check_request`` with this deployment's ports); raises one
        ``ValidationError`` naming each problem's field and fix. ``quotas``: the per-job quotas to
        apply (None: none)."""
        return check_request(request, quotas, ports=self.ports)

    def submit(self, request: Mapping[str, Any]) -> str:
        """Check the request, then start the state machine's execution for it; its ARN.

        What CreateHyperParameterTuningJob does for the client, the CLI and the SageMaker SDK.
        """
        prepared = self.prepare(request)
        req = self.check(prepared, self.quotas())  # the deployment's quotas where known (the create step's always)
        existing = self.ports.store.get_job(req.name)
        if existing is not None:
            raise duplicate(existing)
        self._reserve(req.name)
        return self.ports.executions.start(req.name, prepared)

    def _reserve(self, name: str) -> None:
        """Reserve the name (any case) before its execution starts: two creates of ``Case-Job`` and
        ``case-job`` would otherwise both start (execution names are case-sensitive) and only the
        first step would tell them apart. A reservation whose execution never started (it failed
        after reserving) is taken over once ``RESERVATION_SECONDS`` old; the same name reserved
        again goes on, and StartExecution refuses it when its execution exists."""
        now = self.ports.now()
        held = self.ports.store.reserve_name(name, now)
        if held is None or held[0] == name:
            return
        holder, at = held
        execution = self.ports.executions.describe(holder) if holder else None
        running = execution is not None and execution.get("status") == "RUNNING"
        fresh = bool(at) and _seconds_between(at, now) < RESERVATION_SECONDS
        if running or (execution is None and fresh) or self.ports.store.reserve_name(name, now, replace=holder):
            raise DuplicateTuningJobError(
                f"HyperParameterTuningJobName: a tuning job named {holder!r} is being created (names are "
                "unique regardless of case); choose another name"
            )

    def create_job(
        self, request: Mapping[str, Any], execution_arn: str | None = None, lap_trials: int = DEFAULT_LAP_TRIALS
    ) -> dict[str, Any]:
        """Validate and store a tuning job (the state machine's first step); the laps to fan out to.

        Output: ``{TuningJobName, Laps: [1..K], MaxParallel: P, LapTrials: L, StartJitter: J}`` (``lap_plan``).

        The job takes one of the deployment's ``max_concurrent_tuning_jobs`` slots before it is
        stored (so that a refusal is stored like any other refused request); the slot is the name's,
        so a retried step, or a second execution of the name racing it, takes none more.
        """
        request = self.prepare(request)
        _check_execution_name(request, execution_arn)  # before anything is stored under the name
        quotas = self.quotas() or AMT_QUOTAS
        try:
            req = self.check(request, quotas)
            check_spend(req, arns.region_and_account(execution_arn)[0])
            if self.ports.store.get_job(req.name) is None:  # else a retry (slot held) or a duplicate
                self._take_slot(req.name, quotas)
        except ValidationError as err:
            self._store_refusal(request, execution_arn, err)
            raise
        region, account = arns.region_and_account(execution_arn)
        now = self.ports.now()
        job = JobRecord(  # the request as it runs: Autotune's choices, Grid's job count (parse_request)
            name=req.name, request=dict(req.raw), execution_arn=execution_arn, region=region, account=account,
            created=now, last_modified=now,
        )
        existing = self.ports.store.create_job(job)
        if existing is not None and not (execution_arn and existing.execution_arn == execution_arn):
            raise duplicate(existing)
        if existing is not None and existing.status in TERMINAL_JOB:  # a retry of a step that refused it
            raise ValidationError(existing.failure_reason or f"the tuning job is {existing.status} already")
        if existing is None:
            self.lifecycle.publish(req.name)  # InProgress
        return {"TuningJobName": req.name, **lap_plan(req.max_jobs, req.max_parallel, lap_trials)}

    def _take_slot(self, name: str, quotas: Quotas) -> None:
        """One of the deployment's concurrent tuning jobs, or the refusal (AMT's ResourceLimitExceeded)."""
        in_use = self.ports.store.take_job_slot(name, quotas.max_concurrent_tuning_jobs)
        if in_use is not None:
            raise quotas.concurrent_refusal(in_use)

    def _store_refusal(self, request: Mapping[str, Any], execution_arn: str | None, err: ValidationError) -> None:
        """A refused request with a usable name is stored as a Failed job saying why (describe shows it)."""
        name = request.get("HyperParameterTuningJobName")
        if not is_valid_name(name):
            return
        region, account = arns.region_and_account(execution_arn)
        now = self.ports.now()
        failed = JobRecord(
            name=str(name), request=dict(request), status=FAILED, failure_reason=str(err)[:MAX_REASON],
            created=now, last_modified=now, ended=now, execution_arn=execution_arn, region=region, account=account,
        )
        existing = self.ports.store.create_job(failed)
        if existing is not None and existing.execution_arn != execution_arn:
            raise duplicate(existing) from None


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def _check_execution_name(request: Mapping[str, Any], execution_arn: str | None) -> None:
    """The execution must be named after the tuning job: the state machine's failure path and every
    tool find the job by its execution's name (the console generates a name unless given one)."""
    name = request.get("HyperParameterTuningJobName")
    started_as = arns.execution_name(execution_arn)
    if started_as is not None and isinstance(name, str) and started_as != name:
        raise ValidationError(
            f"the execution is named {started_as!r} but the tuning job {name!r}: start the execution "
            "with the tuning job's name as its name (in the console: Start execution -> Name)",
            "HyperParameterTuningJobName",
        )


#: The operation whose input shape a request is checked against.
OPERATION = "CreateHyperParameterTuningJob"
#: The bucket that stands for a local path while a request is checked (nothing is uploaded to it).
LOCAL_PATH_BUCKET = "local-path-uploaded-when-run"

_T = TypeVar("_T")


def check_request(
    request: Mapping[str, Any],
    quotas: Quotas | None = AMT_QUOTAS,
    *,
    ports: Ports | None = None,
    local_dir: Path | None = None,
) -> TuningRequest:
    """Every rule a request must pass; raises one ``ValidationError`` listing every problem, each
    with its field path (``ValidationError.combined``).

    In order: with ``local_dir``, the local source and data paths (relative to it), checked as
    ``tuner.sources`` uploads them and standing for the s3:// URIs they get (``tuner validate``,
    ``tuner local``; None: a path must be an s3:// URI already, as in the state machine, which
    only sees uploaded requests); botocore's input shape; AMT's semantic rules
    (``core.request.request_problems``); with ``ports``, an AlgorithmName's rules (DescribeAlgorithm);
    the budget tags; the per-job ``quotas`` (AMT's defaults unless given; None: not checked); with
    ``ports``, the warm-start parents (the store). A rule whose member the shape check refused may
    not be able to run: its problem is the shape's, reported once.
    """
    from tuner.shapes import validate_input  # botocore's model: loaded only here

    problems = Problems(REQUEST_SUBJECT)
    if not isinstance(request, Mapping):
        raise ValidationError(f"must be an object, not {type(request).__name__}", "request")
    if local_dir is not None:
        request = _with_local_paths(request, local_dir, problems)
    before = len(problems)
    problems.check(validate_input, OPERATION, dict(request))
    shape = [line for err in problems.errors[before:] for line in err.problems]
    parsed = _unless_refused(shape, request_problems, request)
    req, semantic = parsed if parsed is not None else (None, [])
    for err in semantic:
        if not _reported(err.field, shape):
            problems.add(err)
    if ports is not None:  # an AlgorithmName's rules: DescribeAlgorithm
        _unless_refused(shape, problems.check, check_algorithms, request, ports.backend)
    if req is not None:
        problems.check(budget.budget_of, req.tags)  # tuner:MaxSpendUSD and tuner:SpendPolicy: their values
        if quotas is not None:
            problems.check(quotas.check, req)
        names = parent_names(req.warm_start) if ports is not None else []
        if ports is not None and names:
            problems.check(check_parents, req, [(n, ports.store.get_job(n)) for n in names])
    if problems or req is None:
        raise ValidationError.combined(problems.errors, REQUEST_SUBJECT)
    return req


def _unless_refused(shape: list[str], check: Callable[..., _T], *args: Any) -> _T | None:
    """``check(*args)``; when the shape check refused the request (``shape``: its problems), a rule
    that cannot run on it (a member of the wrong type) is left out: its problem is the shape's."""
    try:
        return check(*args)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        if not shape:
            raise
        return None


def _reported(field: str | None, shape: list[str]) -> bool:
    """Whether the shape check reported a problem at ``field`` or at a member holding it (a rule's
    problem there says the same again). ``shape`` lines read ``path: message``."""
    if not field:
        return False
    cuts = [m.start() for m in re.finditer(r"[.\[]", field)] + [len(field)]
    return any(line.startswith(f"{field[:cut]}: ") for cut in cuts for line in shape)


class _NoUpload:
    """The S3 client ``tuner.sources`` is given while a request is checked: it uploads nothing."""

    def put_object(self, **_: Any) -> None:
        return None

    def upload_file(self, *_: Any) -> None:
        return None


def _with_local_paths(request: Mapping[str, Any], base_dir: Path, problems: Problems) -> Mapping[str, Any]:
    """The request as ``tuner local`` and ``tuner create`` pass it on: each local source and data
    path checked by ``tuner.sources`` (the code that uploads them: it exists, a folder holds the
    script, ...) and standing for the s3:// URI it would get, in ``LOCAL_PATH_BUCKET``. A refused
    path is kept in ``problems`` and then stands for a URI too (the checks go on for the others)."""
    from tuner.sources import prepare_request_sources

    todo = copy.deepcopy(dict(request))
    refused: set[str] = set()
    while True:
        try:
            return prepare_request_sources(todo, base_dir, _NoUpload(), LOCAL_PATH_BUCKET, "checked")
        except ValidationError as err:
            problems.add(err)
            if err.field is None or err.field in refused or not _replace(todo, err.field, f"s3://{LOCAL_PATH_BUCKET}/"):
                return todo
            refused.add(err.field)
        except OSError as err:  # e.g. a name too long for the file system
            problems.add(ValidationError(
                f"the local path {err.filename!r:.100} cannot be read ({err.strerror}); give an existing "
                "file or folder, or an s3:// URI"
            ))
            return todo
        except (AttributeError, KeyError, TypeError, ValueError):  # a malformed member: the shape check names it
            return todo


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _replace(obj: Any, path: str, value: Any) -> bool:
    """Set the member at ``path`` (``A.B[0].C``) of ``obj``; False when there is none."""
    steps: list[str | int] = [m[1] if m[1] is not None else int(m[2]) for m in _STEP.finditer(path)]
    if not steps:
        return False
    for step in steps[:-1]:
        try:
            obj = obj[step]
        except (KeyError, IndexError, TypeError):
            return False
    last = steps[-1]
    if isinstance(obj, dict) and isinstance(last, str) and last in obj:
        obj[last] = value
        return True
    if isinstance(obj, list) and isinstance(last, int) and last < len(obj):
        obj[last] = value
        return True
    return False


def local_paths(req: TuningRequest, request: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, local path)`` of each local path of ``request`` that ``check_request(..., local_dir=)``
    accepted as ``req``: ``tuner local`` and ``tuner create`` upload them before the job is created."""
    given = dict(_leaves(request, ""))
    return [(path, given.get(path, "")) for path, value in _leaves(req.raw, "")
            if f"s3://{LOCAL_PATH_BUCKET}/" in value]


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(path, string)`` of every string in a JSON-like value."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def check_spend(req: TuningRequest, region: str) -> None:
    """A budgeted request (``core.budget``) must be priceable in the job's region: each definition's
    instance types and the tuner's overhead in the price table (an unknown one is an error, never a
    guess), and with the hard policy a trial's worst case within the budget."""
    wanted = budget.budget_of(req.tags)
    if wanted is not None:
        budget.check(wanted, budget.prices_for(req.definitions, PriceTable.load(), region))


def duplicate(existing: JobRecord) -> DuplicateTuningJobError:
    return DuplicateTuningJobError(
        f"HyperParameterTuningJobName: a tuning job named {existing.name!r} exists already "
        f"(status {existing.status}, created {existing.created}); choose another name"
    )
