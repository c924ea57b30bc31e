"""Queries: DescribeHyperParameterTuningJob, ListTrainingJobsForHyperParameterTuningJob and
ListHyperParameterTuningJobs, answered from the store in SageMaker's shapes.

This is the one describe: the client, the CLI, the offline harness, the SageMaker SDK path and the
published state-change events all call ``Queries.describe``. Between ``StartExecution`` and the
state machine's first step a job has no record yet; when the service has the state machine's
executions, describe then answers from the execution (``InProgress``, or ``Failed`` with its
error), so a caller that describes right after creating never sees ``ResourceNotFound``.

A job is found by its name in any case (the store keys names by ``core.naming.name_key``); its
answers show the name as created. ``list_jobs`` reads the store's job index, which lags behind
writes (a DynamoDB global secondary index is eventually consistent) and knows nothing of a job whose
first step has not run: ``recent`` names jobs the caller created itself, read consistently and
merged, so a client lists what it just created (read your own writes, docs/parity.md).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tuner.core import arns, autotune, budget, results, tuner_events
from tuner.core.cost import PriceTable
from tuner.core.naming import name_key
from tuner.core.records import FAILED, IN_PROGRESS, JobRecord, TrialRecord
from tuner.core.request import parse_request
from tuner.core.warm_start import IDENTICAL, parent_names
from tuner.errors import TuningJobNotFoundError, ValidationError
from tuner.service.jobs import failure_reason, not_found
from tuner.service.ports import PortMissingError, Ports, Store


def find_job(store: Store, name: str) -> JobRecord | None:
    """The job called ``name`` in any case (``Store.get_job``), or one stored under a mixed-case
    name before names were keyed (``core.naming.name_key``) when ``name`` is its lower case, as an
    ARN holds it: found by a scan of the job list, made only on a miss."""
    return store.get_job(name) or next((j for j in store.list_jobs() if name_key(j.name) == name_key(name)), None)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Queries:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    # ---- one job ---------------------------------------------------------------------------
    def job(self, name: str) -> tuple[JobRecord, list[TrialRecord]]:
        """The job's record (any case of its name) and trials; a record built from its execution
        when none is stored yet."""
        job = self.ports.store.get_job(name)
        if job is not None:
            return job, self.ports.store.list_trials(job.name)
        return self._record_from_execution(name), []

    def describe(self, name: str) -> dict[str, Any]:
        """A ``DescribeHyperParameterTuningJob`` response (``TuningJobNotFoundError`` if unknown)."""
        job, trials = self.job(name)
        return results.describe(as_run(job), trials, self._parents(job))

    def _parents(self, job: JobRecord) -> list[tuple[JobRecord, Sequence[TrialRecord]]]:
        """The warm-start parents' records and trials (for ``OverallBestTrainingJob``)."""
        out: list[tuple[JobRecord, Sequence[TrialRecord]]] = []
        if (job.request.get("WarmStartConfig") or {}).get("WarmStartType") != IDENTICAL:
            return out
        for parent in parent_names(job.request.get("WarmStartConfig")):
            record = self.ports.store.get_job(parent)
            if record is not None:
                out.append((record, self.ports.store.list_trials(parent)))
        return out

    def state_change_detail(self, name: str) -> dict[str, Any]:
        """The detail of the tuner's "Hyperparameter Tuning Job State Change" event: the describe
        response, plus the tuner's ``extensions`` (``TuningJobCompletionReason``, ``TuningJobSpend``),
        without the values of ``StaticHyperParameters`` and ``Environment`` and fitted to one
        PutEvents entry (``tuner.core.tuner_events``; docs/events-security.md). Describe itself
        answers an authorised caller and keeps them."""

        job, trials = self.job(name)
        detail = results.describe(as_run(job), trials, self._parents(job))
        detail.update(extensions(job, trials))  # no such members in Describe's shape
        return tuner_events.state_change_detail(detail)

    def training_costs(self, name: str) -> dict[str, float]:
        """USD of each recorded training job (``core.budget.trial_cost``: billable seconds x its
        instances' prices, earlier attempts and the tuner's overhead included), by training job name;
        {} when the job's instance types or region are not in the price table."""
        job, trials = self.job(name)
        try:
            prices = budget.prices_for(parse_request(job.request).definitions, PriceTable.load(), job.region)
        except ValidationError:
            return {}
        return {t.training_job_name: budget.trial_cost(t, prices) for t in trials if t.recorded}

    def spent(self, name: str) -> float:
        """USD the tuning job has spent (``core.budget.spend_of``: its recorded trials and the earlier
        attempts of the others), budgeted or not; ``ValidationError`` when the price table cannot
        price its instance types in its region (never a guess)."""
        job, trials = self.job(name)
        prices = budget.prices_for(parse_request(job.request).definitions, PriceTable.load(), job.region)
        return budget.spend_of(job.reservations, trials, prices).spent

    def extensions(self, name: str) -> dict[str, Any]:
        """The tuner's members beside Describe's (``extensions``), for ``tuner describe``."""
        return extensions(*self.job(name))

    def list_training_jobs(self, name: str, **params: Any) -> dict[str, Any]:
        """A ``ListTrainingJobsForHyperParameterTuningJob`` response (validated arguments)."""
        job, trials = self.job(name)
        return results.list_training_jobs(job, trials, **params)

    def _record_from_execution(self, name: str) -> JobRecord:
        """A job that has an execution but no record yet (or whose create step failed)."""
        try:
            execution = self.ports.executions.describe(name)
            if execution is None:  # named in another case: the create's reservation has its name
                started_as = self.ports.store.reserved(name)
                if started_as is not None and started_as != name:
                    execution = self.ports.executions.describe(started_as)
        except PortMissingError:
            execution = None
        if execution is None:
            raise not_found(name)
        request = _request_of(execution.get("input"))
        started = _aware(execution.get("startDate")) or self.ports.clock()
        stopped = _aware(execution.get("stopDate"))
        running = execution.get("status") == "RUNNING"
        region, account = arns.region_and_account(execution.get("executionArn"))
        return JobRecord(
            name=arns.execution_name(execution.get("executionArn")) or name,  # as created
            request=request,
            status=IN_PROGRESS if running else FAILED,
            created=started.isoformat(),
            last_modified=(stopped or started).isoformat(),
            ended=None if running else (stopped or started).isoformat(),
            failure_reason=None
            if running
            else failure_reason({"Error": execution.get("error") or "States.Failed", "Cause": execution.get("cause")}),
            execution_arn=execution.get("executionArn"),
            region=region,
            account=account,
        )

    # ---- every job -------------------------------------------------------------------------
    def list_jobs(self, recent: Iterable[str] = (), **params: Any) -> dict[str, Any]:
        """A ``ListHyperParameterTuningJobs`` response (validated arguments; newest first by default).

        ``recent``: names of jobs the caller created, each read consistently (the stored record,
        else its execution) and merged when the index does not list it yet.
        """
        jobs = self._with_recent(self.ports.store.list_jobs(), recent)
        jobs = [j for j in jobs if _matches(j, params)]
        sort_by = params.get("SortBy", "CreationTime")
        key: Callable[[JobRecord], Any] = {
            "Name": lambda j: j.name,
            "Status": lambda j: (j.status, j.name),
        }.get(sort_by, lambda j: (j.created, j.name))
        jobs.sort(key=key, reverse=params.get("SortOrder", "Descending") == "Descending")
        start = results.decode_token(params["NextToken"]) if params.get("NextToken") else 0
        size = int(params.get("MaxResults", 100))
        page = jobs[start : start + size]
        out: dict[str, Any] = {
            "HyperParameterTuningJobSummaries": [
                results.job_summary(as_run(j), self.ports.store.list_trials(j.name)) for j in page
            ]
        }
        if start + size < len(jobs):
            out["NextToken"] = results.encode_token(start + size)
        return out

    def _with_recent(self, listed: list[JobRecord], recent: Iterable[str]) -> list[JobRecord]:
        """``listed`` plus each ``recent`` job it lacks (any case of its name), read consistently."""
        seen = {name_key(j.name) for j in listed}
        out = list(listed)
        for name in recent:
            if name_key(name) in seen:
                continue
            try:
                job = self.ports.store.get_job(name) or self._record_from_execution(name)
            except TuningJobNotFoundError:
                continue  # refused before its execution started, or gone
            seen.add(name_key(job.name))
            out.append(job)
        return out


def extensions(job: JobRecord, trials: Sequence[TrialRecord]) -> dict[str, Any]:
    """The tuner's own members beside DescribeHyperParameterTuningJob's: ``TuningJobCompletionReason``
    when the job ended early (a completion criterion, MaxRuntimeInSeconds, its budget) and
    ``TuningJobSpend`` for a budgeted job (``core.budget.summary``)."""
    out: dict[str, Any] = {}
    if job.completion_reason:
        out["TuningJobCompletionReason"] = job.completion_reason
    spend = spend_summary(job, trials)
    if spend is not None:
        out["TuningJobSpend"] = spend
    return out


def spend_summary(job: JobRecord, trials: Sequence[TrialRecord]) -> dict[str, Any] | None:
    """A budgeted job's spend (spent, held, budget, policy); None without a budget, or for a
    request that cannot be priced (refused at create: its describe says why)."""
    try:
        wanted = budget.budget_of(job.request.get("Tags"))
        if wanted is None:
            return None
        prices = budget.prices_for(parse_request(job.request).definitions, PriceTable.load(), job.region)
    except ValidationError:
        return None
    return budget.summary(wanted, budget.spend_of(job.reservations, trials, prices))


def as_run(job: JobRecord) -> JobRecord:
    """The job with its request as it runs (``TuningRequest.raw``: Autotune's choices, Grid's job
    count), which ``CreateJob`` stores. Derived here for a job known only from its execution or
    stored before those were filled in; a request that does not parse is shown as it is."""
    config = job.request.get("HyperParameterTuningJobConfig") or {}
    limits = config.get("ResourceLimits") if isinstance(config, Mapping) else None
    if isinstance(limits, Mapping) and "MaxNumberOfTrainingJobs" in limits and not autotune.pending(job.request):
        return job
    try:
        return dataclasses.replace(job, request=dict(parse_request(job.request).raw))
    except ValidationError:
        return job


def _request_of(text: Any) -> dict[str, Any]:
    import json

    try:
        request = json.loads(text or "{}")
    except ValueError:
        return {}
    return request if isinstance(request, dict) else {}


def _matches(job: JobRecord, p: Mapping[str, Any]) -> bool:
    """ListHyperParameterTuningJobs' filters."""
    if p.get("NameContains") and p["NameContains"].lower() not in job.name.lower():
        return False
    if p.get("StatusEquals") and job.status != p["StatusEquals"]:
        return False
    created, modified = _aware(job.created), _aware(job.last_modified)
    for member, value, after in (
        ("CreationTimeAfter", created, True),
        ("CreationTimeBefore", created, False),
        ("LastModifiedTimeAfter", modified, True),
        ("LastModifiedTimeBefore", modified, False),
    ):
        bound = _aware(p.get(member))
        if bound is None or value is None:
            continue
        if (after and not value > bound) or (not after and not value < bound):
            return False
    return True
