"""The ports the use cases work through (``typing.Protocol``s); ``tuner.aws`` implements them.

Each use case receives a ``Ports`` bundle. The composition root (``tuner.wiring``) fills it with
boto3-backed adapters; tests fill it with fakes. A port a deployment does not need (a read-only
client has no task tokens) is a null object that says so when used, never ``None``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tuner.core.records import JobRecord, TrialRecord


class Store(Protocol):
    """Tuning jobs and their trials (``tuner.aws.store.DynamoStore``)."""

    def create_job(self, job: JobRecord) -> JobRecord | None: ...
    def get_job(self, name: str) -> JobRecord | None: ...
    def update_job(self, name: str, *, expect_status: tuple[str, ...] | None = None, **v: Any) -> bool: ...
    def list_jobs(self) -> list[JobRecord]: ...
    def claim_trial(
        self, name: str, claim_key: str, max_trials: int,
        admit: Callable[[JobRecord], dict[str, float] | None] | None = None,
    ) -> int | None:
        """The next trial number for ``claim_key`` (the same one again for a retried claim); None when
        ``max_trials`` are claimed, or ``admit`` (given the job as read, consistently) refuses: it
        returns the job's ``reservations`` written with the claim, conditional on that read."""
        ...
    def claimed(self, name: str, claim_key: str) -> int | None: ...
    def put_trial(self, trial: TrialRecord) -> TrialRecord: ...
    def get_trial(self, name: str, number: int) -> TrialRecord | None: ...
    def update_trial(
        self, name: str, number: int, *, only_unrecorded: bool = False, attempt_of: str | None = None, **v: Any
    ) -> bool:
        """Set fields of a trial; with ``only_unrecorded`` only while it has no result, and with
        ``attempt_of`` only while its current attempt is that training job. Without
        ``only_unrecorded`` only ``task_token`` may be set (``ValueError`` otherwise,
        ``core.records.check_update_trial``): a recorded trial changes in nothing else."""
        ...
    def list_trials(self, name: str) -> list[TrialRecord]:
        """Every trial of the job, by number. A recorded trial comes without its ``task_token`` (the
        store may keep it from an earlier read): take tokens from ``open_trials`` or ``get_trial``."""
        ...
    def open_trials(self, name: str) -> list[TrialRecord]:
        """The trials still being worked on: not recorded yet, or recorded with a task token not yet
        delivered (a lap to wake). May lag a moment behind ``list_trials`` (a trial recorded just now
        can still be listed, one stored just now can be missing): callers re-check the trial they act on."""
        ...
    def reserve_name(self, name: str, at: str, *, replace: str | None = None) -> tuple[str, str] | None:
        """Reserve ``name`` (any case) for a create about to start its execution: None when done,
        else ``(name, at)`` of the holder. ``replace``: take the reservation over from that holder."""
        ...

    def reserved(self, name: str) -> str | None:
        """The name (as given) that holds the reservation of ``name`` (any case), if any."""
        ...

    def take_job_slot(self, name: str, limit: int) -> int | None:
        """Atomically take one of ``limit`` slots of concurrent tuning jobs for the job ``name`` (any
        case): None when it holds one (taken now, or by an earlier call: a name takes one slot at
        most, ever); else the number of slots in use, every one of them taken (the refusal)."""
        ...

    def release_job_slot(self, name: str) -> bool:
        """Give back the slot of the job ``name``; True only for the call that gave it back (none
        held, or given back already: False)."""
        ...

    def job_slots_in_use(self) -> int:
        """How many slots of concurrent tuning jobs are taken and not given back."""
        ...


class TrainingBackend(Protocol):
    """SageMaker training jobs (``tuner.aws.sagemaker.SageMakerBackend``)."""

    def start(self, request: dict[str, Any]) -> bool: ...
    def describe(self, name: str) -> dict[str, Any] | None: ...
    def stop(self, name: str) -> None: ...

    def describe_algorithm(self, name: str) -> dict[str, Any] | None:
        """DescribeAlgorithm's answer for an algorithm resource (name or ARN); None: no such one."""
        ...


#: The host whose log lines count for a training job's metrics: SageMaker names the hosts of a
#: training job ``algo-1`` ... ``algo-N`` and the training toolkit makes the first one the master
#: (see docs/reliability.md, "Metrics as AWS delivers them").
PRIMARY_HOST = "algo-1"


class LogSource(Protocol):
    """A training job's log lines, oldest first (``tuner.aws.logs.CloudWatchLogSource``).

    ``host``: the lines of that host only (``PRIMARY_HOST`` by default); None: every host's, host
    by host in host-number order (``algo-2`` before ``algo-10``).
    """

    def lines(self, job: str, *, host: str | None = PRIMARY_HOST) -> Iterable[str]: ...

    def lines_after(self, job: str, position: dict[str, Any], *, host: str | None = PRIMARY_HOST) -> Iterable[str]:
        """The lines after ``position``, oldest first, lazily: the lines a caller has not seen yet.

        ``position`` maps each of the job's streams to ``[token, skip, taken]`` (JSON-ready; ``{}``:
        nothing seen) and is advanced in place before each line is yielded, so that when the caller
        stops taking lines it is just past the last one taken. Streams that appeared since (a
        restarted host) are read from their head.
        """
        ...


class TaskTokens(Protocol):
    """Step Functions task tokens (``tuner.aws.stepfunctions.TaskTokens``)."""

    def succeed(self, token: str, output: dict[str, Any]) -> bool: ...


class Events(Protocol):
    """The tuner's EventBridge events (``tuner.aws.events.EventPublisher``)."""

    def tuning_job_state_change(self, detail: dict[str, Any], resources: list[str]) -> None: ...


class Executions(Protocol):
    """Executions of the tuner's state machine, one per tuning job, named after it
    (``tuner.aws.stepfunctions.Executions``)."""

    @property
    def region(self) -> str | None:
        """The region the state machine (so its tuning jobs) runs in; None when it is not known."""
        ...

    def start(self, name: str, request: Mapping[str, Any]) -> str:
        """Start the execution ``name``; its ARN. ``DuplicateTuningJobError`` if it exists."""
        ...

    def describe(self, name: str) -> dict[str, Any] | None:
        """DescribeExecution's answer for the execution ``name``; None when there is none."""
        ...

    def describe_arn(self, arn: str) -> dict[str, Any] | None:
        """DescribeExecution's answer for the execution ``arn``; None when there is none."""
        ...


class FamilyStore(Protocol):
    """Tuning families and their retune lock (``tuner.aws.families.FamilyStore``)."""

    def put(self, name: str, spec: dict[str, Any], *, replace: bool = False) -> bool: ...
    def get(self, name: str) -> dict[str, Any] | None: ...
    def list_all(self) -> list[dict[str, Any]]: ...
    def delete(self, name: str) -> bool: ...
    def acquire(self, name: str, job: str, *, previous: str | None, jobs: list[str]) -> bool: ...
    def release(self, name: str, job: str, *, forget: bool = False) -> bool: ...
    def set_pending(self, name: str, pending: dict[str, Any]) -> None: ...
    def clear_pending(self, name: str) -> None: ...
    def set_best(self, name: str, best: dict[str, Any], *, previous: dict[str, Any] | None) -> bool: ...
    def record_spend(self, name: str, job: str, usd: float, month: str) -> bool: ...


class ModelHosting(Protocol):
    """SageMaker models and endpoints, for deploying a best model (``tuner.aws.sagemaker.ModelHosting``)."""

    region: str

    def describe_training_job(self, name: str) -> dict[str, Any]: ...
    def create_model(self, request: dict[str, Any]) -> None: ...
    def create_endpoint_config(self, request: dict[str, Any]) -> None: ...
    def endpoint_exists(self, name: str) -> bool: ...
    def create_endpoint(self, name: str, config: str, tags: list[dict[str, str]]) -> str: ...
    def update_endpoint(self, name: str, config: str) -> str: ...
    def wait_in_service(self, name: str) -> None: ...


class Clock(Protocol):
    """The current time, timezone-aware (UTC)."""

    def __call__(self) -> datetime: ...


def system_clock() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """How the store keeps a time: ISO-8601 in UTC, milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class PortMissingError(RuntimeError):
    """A use case needed a port this service was built without (a wiring mistake, not user input)."""


class _Missing:
    def __init__(self, port: str) -> None:
        self._port = port

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise PortMissingError(
            f"this tuner service was built without a {self._port}; build it with tuner.wiring.build_service"
        )

    start = describe = describe_arn = stop = lines = lines_after = succeed = describe_algorithm = _fail


class _NoEvents:
    """Events are notifications: a service built without a publisher sends none."""

    def tuning_job_state_change(self, detail: dict[str, Any], resources: list[str]) -> None:
        return None


def _missing(port: str) -> Any:
    return _Missing(port)


@dataclass
class Ports:
    """Everything a use case may touch. Only ``store`` is required."""

    store: Store
    backend: TrainingBackend = field(default_factory=lambda: _missing("training backend"))
    logs: LogSource = field(default_factory=lambda: _missing("log source"))
    tokens: TaskTokens = field(default_factory=lambda: _missing("task-token client"))
    events: Events = field(default_factory=_NoEvents)
    executions: Executions = field(default_factory=lambda: _missing("state machine (executions)"))
    clock: Clock = system_clock

    def now(self) -> str:
        """The clock's time as the store keeps it."""
        return iso(self.clock())
