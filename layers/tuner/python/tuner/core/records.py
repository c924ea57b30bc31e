"""What the tuner stores: one record per tuning job and one per trial (pure dataclasses)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# Tuning-job statuses (SageMaker's).
IN_PROGRESS, COMPLETED, FAILED, STOPPING, STOPPED = "InProgress", "Completed", "Failed", "Stopping", "Stopped"
TERMINAL_JOB = (COMPLETED, FAILED, STOPPED)

# Trial statuses: SageMaker's training job statuses plus Pending (claimed, not yet started).
PENDING = "Pending"
TERMINAL_TRIAL = (COMPLETED, FAILED, STOPPED)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class JobRecord:
    name: str
    request: dict[str, Any]
    status: str = IN_PROGRESS
    created: str = field(default_factory=now_iso)
    last_modified: str = field(default_factory=now_iso)
    ended: str | None = None
    failure_reason: str | None = None
    execution_arn: str | None = None
    region: str = "us-east-1"
    account: str = "123456789012"
    next_trial: int = 0  # trials claimed so far
    stop_requested: bool = False
    # Why the job ends before MaxNumberOfTrainingJobs (completion criteria, MaxRuntimeInSeconds);
    # DescribeHyperParameterTuningJob has no field for it, the state-change event carries it.
    completion_reason: str | None = None
    convergence_detected: str | None = None  # when ConvergenceDetected was met (ISO time)
    # A budgeted job (tuner.core.budget): the predicted cost in USD held by each claimed trial not yet
    # known to be recorded, by trial number (as text); written by the claim's conditional write.
    reservations: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrialRecord:
    job: str
    number: int
    params: dict[str, str]
    training_job_name: str
    definition: str | None = None
    status: str = PENDING
    lap: int | None = None  # the lap (child execution of the state machine's Map) that runs it
    created: str = field(default_factory=now_iso)
    started: str | None = None
    ended: str | None = None
    failure_reason: str | None = None
    final_objective: float | None = None
    objective_status: str = "Pending"  # Pending | Succeeded | Failed
    metrics: dict[str, float] = field(default_factory=dict)  # final value per metric
    series: list[float] = field(default_factory=list)  # intermediate objective values
    retryable: bool = False  # failed with a retryable (InternalServerError) failure
    recorded: bool = False  # the terminal result has been written
    task_token: str | None = None
    attempt: int = 0  # 0 = the first training job; k = the k-th retry after InternalServerError
    attempts: list[dict[str, Any]] = field(default_factory=list)  # earlier attempts (name, reason, times)
    stopped_by: str | None = None  # EarlyStopping | Hyperband | a completion reason | StopTuningJob
    rung: int = 0  # Hyperband: the highest rung this trial passed
    retry_claim: str | None = None  # the lap iteration that started the current retry
    capacity_since: str | None = None  # first ResourceLimitExceeded of the start being waited for
    capacity_waits: int = 0  # capacity waits of this trial's lap spent on it (docs/capacity.md)
    billable_seconds: int | None = None  # DescribeTrainingJob's BillableTimeInSeconds, once recorded
    # The monitor's place in the running training job's logs (service/monitor.py): ``job`` (the
    # training job it belongs to: a retry starts afresh), ``streams`` (per stream [token, skip,
    # taken]: LogSource.lines_after) and ``parse`` (core.metrics.ParseState: the objective so far).
    log_cursor: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_TRIAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_update_trial(
    name: str, number: int, only_unrecorded: bool, attempt_of: str | None, values: Mapping[str, Any]
) -> None:
    """The rule of every store's ``update_trial``: a recorded trial is immutable but for its task
    token, so without ``only_unrecorded`` only ``task_token`` may be set (and no attempt named)."""
    if not only_unrecorded and (set(values) != {"task_token"} or attempt_of is not None):
        raise ValueError(
            f"update_trial of {name} trial {number}: without only_unrecorded=True only task_token may be "
            f"set (a recorded trial is immutable but for its token), got {sorted(values)}"
            + (f" and attempt_of={attempt_of!r}" if attempt_of is not None else "")
        )
