"""In-memory implementations of the service's ports (``tuner.service.ports``), for use-case tests.

Each fake keeps what it was asked to do, so a test asserts on the calls a use case made. The
store honours the same conditions as ``DynamoStore`` (create only once, ``expect_status``,
``only_unrecorded``, one claim per key, at most ``max_trials`` claims, one concurrent-job slot per
name, given back once) and keys jobs by ``name_key`` as it does (``Case-Job`` and ``case-job`` are
one job).
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tuner.core.naming import name_key
from tuner.core.records import JobRecord, TrialRecord, check_update_trial
from tuner.errors import DuplicateTuningJobError
from tuner.service.ports import PRIMARY_HOST, Ports, iso
from tuner.service.tuning import TuningService

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told (``advance``)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class MemoryStore:
    """Jobs, trials and claims by the job's ``name_key`` (read them through the methods)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.jobs: dict[str, JobRecord] = {}
        self.trials: dict[str, dict[int, TrialRecord]] = {}
        self.claims: dict[tuple[str, str], int] = {}
        self.names: dict[str, tuple[str, str]] = {}  # name_key -> (name, at): reservations
        self.slots: dict[str, bool] = {}  # name_key -> given back: concurrent tuning-job slots taken

    def create_job(self, job: JobRecord) -> JobRecord | None:
        key = name_key(job.name)
        if key in self.jobs:
            return copy.deepcopy(self.jobs[key])
        self.jobs[key] = copy.deepcopy(job)
        return None

    def get_job(self, name: str) -> JobRecord | None:
        return copy.deepcopy(self.jobs.get(name_key(name)))

    def update_job(self, name: str, *, expect_status: tuple[str, ...] | None = None, **values: Any) -> bool:
        job = self.jobs.get(name_key(name))
        if job is None or (expect_status and job.status not in expect_status):
            return False
        for k, v in {**values, "last_modified": iso(self.clock())}.items():
            setattr(job, k, copy.deepcopy(v))
        return True

    def reserve_name(self, name: str, at: str, *, replace: str | None = None) -> tuple[str, str] | None:
        held = self.names.get(name_key(name))
        if (held is not None and replace is None) or (replace is not None and (held or ("", ""))[0] != replace):
            return held or ("", "")
        self.names[name_key(name)] = (name, at)
        return None

    def reserved(self, name: str) -> str | None:
        held = self.names.get(name_key(name))
        return held[0] if held else None

    def take_job_slot(self, name: str, limit: int) -> int | None:
        if name_key(name) in self.slots:
            return None
        if self.job_slots_in_use() >= limit:
            return self.job_slots_in_use()
        self.slots[name_key(name)] = False
        return None

    def release_job_slot(self, name: str) -> bool:
        if self.slots.get(name_key(name)) is not False:
            return False
        self.slots[name_key(name)] = True
        return True

    def job_slots_in_use(self) -> int:
        return sum(not released for released in self.slots.values())

    def list_jobs(self) -> list[JobRecord]:
        return sorted((copy.deepcopy(j) for j in self.jobs.values()), key=lambda j: j.created, reverse=True)

    def claimed(self, name: str, claim_key: str) -> int | None:
        return self.claims.get((name_key(name), claim_key))

    def claim_trial(self, name: str, claim_key: str, max_trials: int, admit: Any = None) -> int | None:
        key = (name_key(name), claim_key)
        if key in self.claims:
            return self.claims[key]
        job = self.jobs.get(name_key(name))
        if job is None or job.next_trial >= max_trials:
            return None
        if admit is not None:
            reservations = admit(copy.deepcopy(job))
            if reservations is None:
                return None
            job.reservations = dict(reservations)
        job.next_trial += 1
        self.claims[key] = job.next_trial
        return job.next_trial

    def put_trial(self, trial: TrialRecord) -> TrialRecord:
        trials = self.trials.setdefault(name_key(trial.job), {})
        if trial.number in trials:
            return copy.deepcopy(trials[trial.number])
        trials[trial.number] = copy.deepcopy(trial)
        return trial

    def get_trial(self, name: str, number: int) -> TrialRecord | None:
        return copy.deepcopy(self.trials.get(name_key(name), {}).get(number))

    def update_trial(
        self, name: str, number: int, *, only_unrecorded: bool = False, attempt_of: str | None = None, **values: Any
    ) -> bool:
        check_update_trial(name, number, only_unrecorded, attempt_of, values)  # as DynamoStore's
        trial = self.trials.get(name_key(name), {}).get(number)
        if trial is None or (only_unrecorded and trial.recorded):
            return False
        if attempt_of is not None and trial.training_job_name != attempt_of:
            return False
        for k, v in values.items():
            setattr(trial, k, copy.deepcopy(v))
        return True

    def list_trials(self, name: str) -> list[TrialRecord]:
        """As DynamoStore's: a recorded trial comes without its task token (use open_trials)."""
        return [
            dataclasses.replace(copy.deepcopy(t), task_token=None) if t.recorded else copy.deepcopy(t)
            for _, t in sorted(self.trials.get(name_key(name), {}).items())
        ]

    def open_trials(self, name: str) -> list[TrialRecord]:
        return [copy.deepcopy(t) for _, t in sorted(self.trials.get(name_key(name), {}).items())
                if not t.recorded or t.task_token]

    # ---- for arranging a test ----------------------------------------------------------------
    def add_trial(self, job: str, number: int, value: float | None, **fields: Any) -> TrialRecord:
        """A recorded trial of ``job`` with objective ``value`` (None: Failed)."""
        trial = TrialRecord(
            job=job, number=number, params={"x": str(number)}, training_job_name=f"{job}-{number:03d}-0000abcd",
            status="Completed" if value is not None else "Failed", recorded=True,
            final_objective=value, objective_status="Succeeded" if value is not None else "Failed",
            created=iso(self.clock()), started=iso(self.clock()), ended=iso(self.clock()),
        )
        trial = dataclasses.replace(trial, **fields)
        self.trials.setdefault(name_key(job), {})[number] = trial
        return trial


class FakeBackend:
    """SageMaker training jobs: ``start`` records the request; ``finish`` sets a job's status (and
    any other members its describe should show, e.g. ``FinalMetricDataList``, ``TrainingEndTime``).

    ``refusals``: errors the next starts raise, one each, first in first out (an account quota's
    ``ResourceLimitExceededError``, as ``tuner.aws.sagemaker`` raises it); ``attempts`` counts every
    start, refused or not. ``algorithms``: the algorithm resources DescribeAlgorithm answers for
    (by name; an ARN is answered by its last part)."""

    def __init__(self) -> None:
        self.algorithms: dict[str, dict[str, Any]] = {}  # DescribeAlgorithm answers by name
        self.started: dict[str, dict[str, Any]] = {}
        self.status: dict[str, str] = {}
        self.stopped: list[str] = []
        self.fields: dict[str, dict[str, Any]] = {}
        self.refusals: list[Exception] = []
        self.attempts: list[str] = []

    def start(self, request: dict[str, Any]) -> bool:
        name = request["TrainingJobName"]
        self.attempts.append(name)
        if name in self.started:
            return False
        if self.refusals:
            raise self.refusals.pop(0)
        self.started[name] = request
        self.status[name] = "InProgress"
        return True

    def describe(self, name: str) -> dict[str, Any] | None:
        if name not in self.status:
            return None
        return {"TrainingJobName": name, "TrainingJobStatus": self.status[name], "CreationTime": T0,
                **copy.deepcopy(self.fields.get(name, {}))}

    def stop(self, name: str) -> None:
        self.stopped.append(name)

    def describe_algorithm(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.algorithms.get(name.rsplit("/", 1)[-1]))

    def finish(self, name: str, status: str = "Completed", **fields: Any) -> None:
        self.status[name] = status
        self.fields[name] = dict(fields)


class FakeLogs:
    """Log lines by job: ``by_job`` holds the primary host's, ``by_host[(job, host)]`` another host's.

    ``late[job]``: batches of the primary host's lines that land one per read, after it (CloudWatch
    Logs delivering after the job's status changed); ``reads`` lists every ``(job, host)`` read.
    """

    def __init__(self, lines: Mapping[str, Iterable[str]] | None = None) -> None:
        self.by_job: dict[str, list[str]] = {k: list(v) for k, v in (lines or {}).items()}
        self.by_host: dict[tuple[str, str], list[str]] = {}
        self.late: dict[str, list[list[str]]] = {}
        self.reads: list[tuple[str, str | None]] = []
        self.after: list[tuple[str, str | None, int]] = []

    def lines(self, job: str, *, host: str | None = PRIMARY_HOST) -> Iterable[str]:
        self.reads.append((job, host))
        primary = list(self.by_job.get(job, []))
        if self.late.get(job):
            self.by_job[job] = primary + self.late[job].pop(0)
        others = sorted(((h, lines) for (j, h), lines in self.by_host.items() if j == job),
                        key=lambda hl: (len(hl[0]), hl[0]))  # algo-2 before algo-10
        if host == PRIMARY_HOST:
            return iter(primary)
        if host is not None:
            return iter(self.by_host.get((job, host), []))
        return iter(primary + [line for _, lines in others for line in lines])

    def lines_after(self, job: str, position: dict[str, Any], *, host: str | None = PRIMARY_HOST) -> Iterable[str]:
        """The same lines as ``lines`` (one read of it), after ``position``: one stream per host
        asked, ``<job>/<host>``, whose ``[token, skip, taken]`` keeps only ``taken`` (the fake
        needs no tokens). ``after`` lists every ``(job, host, lines handed over)``."""
        stream = f"{job}/{host or 'every-host'}"
        everything = list(self.lines(job, host=host))
        taken = int(position.get(stream, [None, 0, 0])[2])
        handed = 0
        try:
            for line in everything[taken:]:
                taken += 1
                handed += 1
                position[stream] = [None, 0, taken]
                yield line
        finally:
            self.after.append((job, host, handed))


class FakeTokens:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        self.sent.append((token, output))
        return True


class FakeEvents:
    def __init__(self) -> None:
        self.details: list[dict[str, Any]] = []

    def tuning_job_state_change(self, detail: dict[str, Any], resources: list[str]) -> None:
        self.details.append(detail)


class FakeExecutions:
    """The state machine's executions by name: ``start`` records them; ``describe`` answers."""

    def __init__(self, arn_prefix: str = "arn:aws:states:us-east-1:123456789012:execution:Tuner") -> None:
        self.prefix = arn_prefix
        self.executions: dict[str, dict[str, Any]] = {}

    def start(self, name: str, request: Mapping[str, Any]) -> str:
        if name in self.executions:
            raise DuplicateTuningJobError(f"a tuning job named {name!r} was started already")
        arn = f"{self.prefix}:{name}"
        import json

        self.executions[name] = {
            "executionArn": arn, "status": "RUNNING", "startDate": T0, "input": json.dumps(request)
        }
        return arn

    @property
    def region(self) -> str | None:
        return self.prefix.split(":")[3] or None

    def describe(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.executions.get(name))

    def describe_arn(self, arn: str) -> dict[str, Any] | None:
        return next((copy.deepcopy(e) for e in self.executions.values() if e["executionArn"] == arn), None)

    def end(self, name: str, status: str) -> None:
        """The execution ``name`` ends (ABORTED, TIMED_OUT, FAILED, SUCCEEDED)."""
        self.executions[name]["status"] = status


class FakeHosting:
    """SageMaker models and endpoints for the best-model deployment."""

    region = "us-east-1"

    def __init__(self, training_jobs: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.training_jobs = dict(training_jobs or {})
        self.models: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, str] = {}
        self.calls: list[str] = []

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return self.training_jobs[name]

    def create_model(self, request: dict[str, Any]) -> None:
        self.calls.append("CreateModel")
        self.models[request["ModelName"]] = request

    def create_endpoint_config(self, request: dict[str, Any]) -> None:
        self.calls.append("CreateEndpointConfig")
        self.configs[request["EndpointConfigName"]] = request

    def endpoint_exists(self, name: str) -> bool:
        return name in self.endpoints

    def create_endpoint(self, name: str, config: str, tags: list[dict[str, str]]) -> str:
        self.calls.append("CreateEndpoint")
        self.endpoints[name] = config
        return f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"

    def update_endpoint(self, name: str, config: str) -> str:
        self.calls.append("UpdateEndpoint")
        self.endpoints[name] = config
        return f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"

    def wait_in_service(self, name: str) -> None:
        self.calls.append("Wait")


@dataclasses.dataclass
class FakeAws:
    """Every port, faked, and the service over them."""

    clock: FakeClock = dataclasses.field(default_factory=FakeClock)
    backend: FakeBackend = dataclasses.field(default_factory=FakeBackend)
    logs: FakeLogs = dataclasses.field(default_factory=FakeLogs)
    tokens: FakeTokens = dataclasses.field(default_factory=FakeTokens)
    events: FakeEvents = dataclasses.field(default_factory=FakeEvents)
    executions: FakeExecutions = dataclasses.field(default_factory=FakeExecutions)

    def __post_init__(self) -> None:
        self.store = MemoryStore(self.clock)
        self.service = TuningService(
            Ports(
                store=self.store, backend=self.backend, logs=self.logs, tokens=self.tokens,
                events=self.events, executions=self.executions, clock=self.clock,
            )
        )
