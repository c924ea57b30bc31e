"""Creating a tuning job: the checks of a CreateHyperParameterTuningJob request, once.

``check`` is every rule a request must pass (botocore's shape, AMT's semantic rules, and the rule
that needs the store: the warm-start parents); ``submit`` (the client, CLI and
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
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tuner.constants import DEFAULT_LAP_TRIALS
from tuner.core import arns
from tuner.core.laps import lap_plan
from tuner.core.naming import is_valid_name
from tuner.core.quotas import AMT_QUOTAS, Quotas
from tuner.core.records import FAILED, TERMINAL_JOB, JobRecord
from tuner.core.request import TuningRequest, parse_request
from tuner.core.warm_start import check_parents, parent_names
from tuner.errors import DuplicateTuningJobError, ValidationError
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
        """Every rule of a request, in order; raises ``ValidationError`` naming the field and the fix.
        ``quotas``: the per-job quotas to apply (None: none)."""
        check_algorithms(request, self.ports.backend)  # an AlgorithmName's rules: DescribeAlgorithm
        req = check_request(request, quotas)
        names = parent_names(req.warm_start)
        if names:
            check_parents(req, [(n, self.ports.store.get_job(n)) for n in names])
        return req

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


def check_request(request: Mapping[str, Any], quotas: Quotas | None = AMT_QUOTAS) -> TuningRequest:
    """The rules a request must pass on its own (``tuner validate``; ``CreateJob.check`` adds the
    warm-start parents): botocore's input shape, AMT's semantic rules, then the per-job ``quotas``
    (AMT's defaults unless given; None: not checked)."""
    from tuner.shapes import validate_input  # botocore's model: loaded only here

    validate_input("CreateHyperParameterTuningJob", dict(request))
    req = parse_request(request)  # AMT's rules, Hyperband's resources included
    if quotas is not None:
        quotas.check(req)
    return req


def duplicate(existing: JobRecord) -> DuplicateTuningJobError:
    return DuplicateTuningJobError(
        f"HyperParameterTuningJobName: a tuning job named {existing.name!r} exists already "
        f"(status {existing.status}, created {existing.created}); choose another name"
    )
