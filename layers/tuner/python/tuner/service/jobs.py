"""Small rules every use case shares: loading a job, its seed, reading a Step Functions error."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tuner.core.records import FAILED, JobRecord, TrialRecord
from tuner.core.request import Definition, TuningRequest, parse_request
from tuner.errors import TuningJobNotFoundError, ValidationError
from tuner.service.ports import Store

#: A training job's FailureReason prefix that AMT retries (``RetryStrategy``).
RETRYABLE_FAILURE = "InternalServerError"
#: The longest stored FailureReason (describe shows 1,024): a huge refusal must still fit an item.
MAX_REASON = 4096
#: The longest FailureReason describe returns (SageMaker's shape).
MAX_DESCRIBED_REASON = 1024


def not_found(name: str) -> TuningJobNotFoundError:
    return TuningJobNotFoundError(f"no tuning job named {name!r}; check the name")


def require_job(store: Store, name: str) -> JobRecord:
    job = store.get_job(name)
    if job is None:
        raise not_found(name)
    return job


def load(store: Store, name: str) -> tuple[JobRecord, TuningRequest]:
    """The stored job and its parsed request (``TuningJobNotFoundError`` when there is none)."""
    job = require_job(store, name)
    return job, parse_request(job.request)


def definition_named(req: TuningRequest, name: str | None) -> Definition:
    """The training job definition a trial belongs to (None: the only one)."""
    try:
        return req.definition(name)
    except KeyError:
        raise ValidationError(f"no training job definition named {name!r}", "TrainingJobDefinitions") from None


def job_seed(job: JobRecord, req: TuningRequest) -> int:
    """RandomSeed when given; otherwise a seed fixed for this job (so retries repeat proposals)."""
    if req.random_seed is not None:
        return int(req.random_seed)
    digest = hashlib.sha256(f"{job.name}|{job.created}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def iso_or_none(value: Any) -> str | None:
    """A time from an AWS response (datetime or text) as the store keeps it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    return str(value)


def failure_reason(error: Mapping[str, Any] | None) -> str:
    """A readable reason from a Step Functions error object ``{Error, Cause}``."""
    if not error:
        return "The tuning job failed"
    kind = error.get("Error", "Error")
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            cause = parsed.get("errorMessage") or parsed.get("Cause") or cause
    except (TypeError, ValueError):
        pass
    return f"{kind}: {cause}"[:MAX_DESCRIBED_REASON] if cause else str(kind)


def give_up_retry(store: Store, trial: TrialRecord, reason: str, now: str) -> None:
    """A trial whose retry never started (the job is ending): it ends as its last attempt did,
    Failed with a retryable error under that attempt's training job (the retry's name was never
    created in SageMaker, so it must not be listed)."""
    last = trial.attempts[-1] if trial.attempts else {}
    store.update_trial(
        trial.job, trial.number, only_unrecorded=True, status=FAILED, retryable=True,
        objective_status="Failed", recorded=True, ended=now,
        training_job_name=last.get("TrainingJobName", trial.training_job_name),
        failure_reason=f"{last.get('FailureReason', RETRYABLE_FAILURE)} (not retried: {reason})",
    )
