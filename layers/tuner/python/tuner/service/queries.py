"""Queries: DescribeHyperParameterTuningJob, ListTrainingJobsForHyperParameterTuningJob and
ListHyperParameterTuningJobs, answered from the store in SageMaker's shapes.

This is the one describe: the client, the CLI, the offline harness, the SageMaker SDK path and the
published state-change events all call ``Queries.describe``. Between ``StartExecution`` and the
state machine's first step a job has no record yet; when the service has the state machine's
executions, describe then answers from the execution (``InProgress``, or ``Failed`` with its
error), so a caller that describes right after creating never sees ``ResourceNotFound``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tuner.core import arns, results
from tuner.core.records import FAILED, IN_PROGRESS, JobRecord, TrialRecord
from tuner.core.warm_start import IDENTICAL, parent_names
from tuner.service.jobs import failure_reason, not_found
from tuner.service.ports import PortMissingError, Ports


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
        """The job's record and trials; a record built from its execution when none is stored yet."""
        job = self.ports.store.get_job(name)
        if job is not None:
            return job, self.ports.store.list_trials(name)
        return self._record_from_execution(name), []

    def describe(self, name: str) -> dict[str, Any]:
        """A ``DescribeHyperParameterTuningJob`` response (``TuningJobNotFoundError`` if unknown)."""
        job, trials = self.job(name)
        return results.describe(job, trials, self._parents(job))

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
        response, plus ``TuningJobCompletionReason`` when a completion criterion ended the job."""
        job, trials = self.job(name)
        detail = results.describe(job, trials, self._parents(job))
        if job.completion_reason:  # no such member in Describe's shape
            detail["TuningJobCompletionReason"] = job.completion_reason
        return detail

    def list_training_jobs(self, name: str, **params: Any) -> dict[str, Any]:
        """A ``ListTrainingJobsForHyperParameterTuningJob`` response (validated arguments)."""
        job, trials = self.job(name)
        return results.list_training_jobs(job, trials, **params)

    def _record_from_execution(self, name: str) -> JobRecord:
        """A job that has an execution but no record yet (or whose create step failed)."""
        try:
            execution = self.ports.executions.describe(name)
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
            name=name,
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
    def list_jobs(self, **params: Any) -> dict[str, Any]:
        """A ``ListHyperParameterTuningJobs`` response (validated arguments; newest first by default)."""
        jobs = [j for j in self.ports.store.list_jobs() if _matches(j, params)]
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
                results.job_summary(j, self.ports.store.list_trials(j.name)) for j in page
            ]
        }
        if start + size < len(jobs):
            out["NextToken"] = results.encode_token(start + size)
        return out


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
