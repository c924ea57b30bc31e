"""SageMaker's response shapes built from stored records (pure).

``describe`` returns a ``DescribeHyperParameterTuningJob`` response and ``list_training_jobs``
a ``ListTrainingJobsForHyperParameterTuningJob`` response. Times are ``datetime`` objects, as
boto3 returns them; ``to_json`` renders them as ISO-8601 strings.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tuner.core import arns
from tuner.core.objective import improves, is_better, job_maximizes, objective_of
from tuner.core.records import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    STOPPED,
    TERMINAL_JOB,
    JobRecord,
    TrialRecord,
)
from tuner.core.warm_start import IDENTICAL


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def job_arn(job: JobRecord) -> str:
    return arns.tuning_job_arn(job.region, job.account, job.name)


def training_job_arn(job: JobRecord, training_job_name: str) -> str:
    return arns.training_job_arn(job.region, job.account, training_job_name)


def best_trial(trials: Iterable[TrialRecord], maximize: bool) -> TrialRecord | None:
    best: TrialRecord | None = None
    for t in sorted(trials, key=lambda t: t.number):
        if t.objective_status == "Succeeded" and t.final_objective is not None:
            if best is None or is_better(t.final_objective, best.final_objective, maximize):
                best = t
    return best


def jobs_not_improving(trials: Iterable[TrialRecord], maximize: bool) -> int:
    """Finished trials since the last one that improved the best by at least 1%."""
    best: float | None = None
    count = 0
    for t in sorted((t for t in trials if t.terminal), key=lambda t: (t.ended or "", t.number)):
        v = t.final_objective if t.objective_status == "Succeeded" else None
        if v is not None and (best is None or improves(v, best, maximize)):
            best, count = v, 0
        else:
            count += 1
    return count


def training_status_counters(trials: Iterable[TrialRecord]) -> dict[str, int]:
    c = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    for t in trials:
        if t.status == COMPLETED:
            c["Completed"] += 1
        elif t.status == PENDING and t.attempt > 0:  # failed with InternalServerError, retry not started yet
            c["RetryableError"] += 1
        elif t.status in (IN_PROGRESS, PENDING, "Stopping"):
            c["InProgress"] += 1
        elif t.status == STOPPED:
            c["Stopped"] += 1
        elif t.status == FAILED:
            c["RetryableError" if t.retryable else "NonRetryableError"] += 1
    return c


def objective_status_counters(trials: Iterable[TrialRecord]) -> dict[str, int]:
    c = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for t in trials:
        c[t.objective_status] += 1
    return c


def trial_summary(job: JobRecord, t: TrialRecord) -> dict[str, Any]:
    """A ``HyperParameterTrainingJobSummary``."""
    s: dict[str, Any] = {
        "TrainingJobName": t.training_job_name,
        "TrainingJobArn": training_job_arn(job, t.training_job_name),
        "TuningJobName": job.name,
        "CreationTime": _dt(t.created),
        "TrainingJobStatus": IN_PROGRESS if t.status == PENDING else t.status,
        "TunedHyperParameters": dict(t.params),
        "ObjectiveStatus": t.objective_status,
    }
    if t.definition is not None:
        s["TrainingJobDefinitionName"] = t.definition
    if t.started:
        s["TrainingStartTime"] = _dt(t.started)
    if t.ended:
        s["TrainingEndTime"] = _dt(t.ended)
    if t.failure_reason:
        s["FailureReason"] = t.failure_reason[:1024]
    objective = objective_of(job.request, t.definition)
    if t.final_objective is not None and objective:
        s["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": float(t.final_objective),
        }
    return s


def overall_best(
    job: JobRecord, trials: Sequence[TrialRecord], parents: Sequence[tuple[JobRecord, Sequence[TrialRecord]]]
) -> dict[str, Any] | None:
    """``OverallBestTrainingJob``: the best training job of this job and its warm-start parents.

    AMT returns it for an ``IdenticalDataAndAlgorithm`` warm start only (the parents' objective
    values are comparable with the child's). On a tie the child's own job wins, then the parents'
    in the order they are listed.
    """
    if (job.request.get("WarmStartConfig") or {}).get("WarmStartType") != IDENTICAL:
        return None
    maximize = job_maximizes(job.request)
    winner: tuple[JobRecord, TrialRecord] | None = None
    for owner, owned in ((job, trials), *parents):
        best = best_trial(owned, maximize)
        if best is None or best.final_objective is None:
            continue
        if winner is None or is_better(best.final_objective, winner[1].final_objective, maximize):
            winner = (owner, best)
    return trial_summary(*winner) if winner is not None else None


_RANGE_LISTS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")


def _shown_ranges(ranges: Any) -> Any:
    """Ranges as describe shows them: all three lists, empty where none was given."""
    if not isinstance(ranges, Mapping):
        return ranges
    return {**{key: [] for key in _RANGE_LISTS}, **ranges}


def described_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``HyperParameterTuningJobConfig`` as describe shows it: AMT's default early stopping (``Off``)
    and all three range lists made explicit. The SageMaker SDK's ``HyperparameterTuner.attach``
    reads each of them (and ``ResourceLimits.MaxNumberOfTrainingJobs``, see ``TuningRequest.raw``)."""
    out = dict(config)
    out.setdefault("TrainingJobEarlyStoppingType", "Off")
    if "ParameterRanges" in out:
        out["ParameterRanges"] = _shown_ranges(out["ParameterRanges"])
    return out


def _described_definition(definition: Any) -> Any:
    if not isinstance(definition, Mapping) or "HyperParameterRanges" not in definition:
        return definition
    return {**definition, "HyperParameterRanges": _shown_ranges(definition["HyperParameterRanges"])}


def describe(
    job: JobRecord,
    trials: Sequence[TrialRecord],
    parents: Sequence[tuple[JobRecord, Sequence[TrialRecord]]] = (),
) -> dict[str, Any]:
    """A ``DescribeHyperParameterTuningJob`` response.

    ``parents``: the warm-start parents' records and trials, for ``OverallBestTrainingJob``.
    """
    req = job.request
    r: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job_arn(job),
        "HyperParameterTuningJobConfig": described_config(req.get("HyperParameterTuningJobConfig") or {}),
        "HyperParameterTuningJobStatus": job.status,
        "CreationTime": _dt(job.created),
        "LastModifiedTime": _dt(job.last_modified),
        "TrainingJobStatusCounters": training_status_counters(trials),
        "ObjectiveStatusCounters": objective_status_counters(trials),
    }
    for key in ("WarmStartConfig", "Autotune"):
        if req.get(key):
            r[key] = req[key]
    if req.get("TrainingJobDefinition"):
        r["TrainingJobDefinition"] = _described_definition(req["TrainingJobDefinition"])
    if req.get("TrainingJobDefinitions"):
        r["TrainingJobDefinitions"] = [_described_definition(d) for d in req["TrainingJobDefinitions"]]
    if job.ended:
        r["HyperParameterTuningEndTime"] = _dt(job.ended)
    if job.failure_reason:
        r["FailureReason"] = job.failure_reason[:1024]
    maximize = job_maximizes(req)
    best = best_trial(trials, maximize)
    if best is not None:
        r["BestTrainingJob"] = trial_summary(job, best)
    overall = overall_best(job, trials, parents)
    if overall is not None:
        r["OverallBestTrainingJob"] = overall
    r["TuningJobCompletionDetails"] = {
        "NumberOfTrainingJobsObjectiveNotImproving": jobs_not_improving(trials, maximize)
    }
    if job.convergence_detected:
        r["TuningJobCompletionDetails"]["ConvergenceDetectedTime"] = _dt(job.convergence_detected)
    end = _dt(job.ended) if job.status in TERMINAL_JOB and job.ended else _dt(job.last_modified)
    start = _dt(job.created)
    if start and end:
        r["ConsumedResources"] = {"RuntimeInSeconds": max(0, int((end - start).total_seconds()))}
    return r


def job_summary(job: JobRecord, trials: Sequence[TrialRecord]) -> dict[str, Any]:
    """A ``HyperParameterTuningJobSummary`` (ListHyperParameterTuningJobs)."""
    config = job.request.get("HyperParameterTuningJobConfig") or {}
    s: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job_arn(job),
        "HyperParameterTuningJobStatus": job.status,
        "Strategy": config.get("Strategy", "Bayesian"),
        "CreationTime": _dt(job.created),
        "LastModifiedTime": _dt(job.last_modified),
        "TrainingJobStatusCounters": training_status_counters(trials),
        "ObjectiveStatusCounters": objective_status_counters(trials),
    }
    if job.ended:
        s["HyperParameterTuningEndTime"] = _dt(job.ended)
    if config.get("ResourceLimits"):
        s["ResourceLimits"] = config["ResourceLimits"]
    return s


SORT_KEYS = ("Name", "CreationTime", "Status", "FinalObjectiveMetricValue")


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str) -> int:
    return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])


def list_training_jobs(
    job: JobRecord,
    trials: Sequence[TrialRecord],
    *,
    SortBy: str = "Name",
    SortOrder: str = "Ascending",
    StatusEquals: str | None = None,
    MaxResults: int = 10,
    NextToken: str | None = None,
) -> dict[str, Any]:
    """A ``ListTrainingJobsForHyperParameterTuningJob`` response (validated arguments)."""
    summaries = [trial_summary(job, t) for t in trials]
    if StatusEquals:
        summaries = [s for s in summaries if s["TrainingJobStatus"] == StatusEquals]
    key: Any
    if SortBy == "FinalObjectiveMetricValue":
        summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        key = lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]  # noqa: E731
    elif SortBy == "CreationTime":
        key = lambda s: (s["CreationTime"], s["TrainingJobName"])  # noqa: E731
    elif SortBy == "Status":
        key = lambda s: (s["TrainingJobStatus"], s["TrainingJobName"])  # noqa: E731
    else:
        key = lambda s: s["TrainingJobName"]  # noqa: E731
    summaries.sort(key=key, reverse=SortOrder == "Descending")
    start = decode_token(NextToken) if NextToken else 0
    page = summaries[start : start + MaxResults]
    out: dict[str, Any] = {"TrainingJobSummaries": page}
    if start + MaxResults < len(summaries):
        out["NextToken"] = encode_token(start + MaxResults)
    return out


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=lambda o: o.isoformat() if isinstance(o, datetime) else str(o))
