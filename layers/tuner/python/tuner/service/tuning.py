"""The tuner's use cases assembled over one set of ports (what ``tuner.wiring`` builds).

``TuningService`` holds no logic: each method is one use case's entry point (one Lambda's work,
see ``tuner.constants.LAMBDAS``, or one SageMaker operation), each in its own module:

============================  ======================================  ==========================
entry point                   use case                                caller
============================  ======================================  ==========================
``create_job`` / ``submit``   ``service.create.CreateJob``            create_job Lambda / client
``next_trial``                ``service.lap.LapStep``                 next_trial Lambda (a lap)
``record_training_job``       ``service.record.RecordResult``         training_event Lambda
``sweep``                     ``service.monitor.Monitor``             sweeper Lambda
``finalize``, ``fail_job``,   ``service.lifecycle.Lifecycle``         finalize / fail_job Lambdas,
``stop``                                                              client (StopHyperParameter...)
``describe``, ``list_*``      ``service.queries.Queries``             client, CLI, harness, events
============================  ======================================  ==========================

Every entry point is idempotent: Step Functions and EventBridge deliver at least once.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tuner.constants import DEFAULT_LAP_TRIALS
from tuner.service.create import CreateJob
from tuner.service.lap import LapStep
from tuner.service.lifecycle import Lifecycle
from tuner.service.limits import Limits
from tuner.service.monitor import Monitor
from tuner.service.ports import Ports, Store
from tuner.service.proposals import Proposals
from tuner.service.queries import Queries
from tuner.service.record import RecordResult


class TuningService:
    """``deployment``: the value of the ``tuner:deployment`` tag (``constants.DEPLOYMENT_TAG``) of
    every training job the service starts, its table's name when ``tuner.wiring`` builds it (the
    deployment's IAM grants and training-event rule expect it); None: untagged (tests on fakes)."""

    def __init__(self, ports: Ports, *, deployment: str | None = None) -> None:
        self.ports = ports
        self.queries = Queries(ports)
        self.lifecycle = Lifecycle(ports, self.queries)
        self.limits = Limits(ports, self.lifecycle)
        self.recorder = RecordResult(ports, self.limits)
        self.proposals = Proposals(ports)
        self.laps = LapStep(ports, self.proposals, self.recorder, self.limits, deployment)
        self.monitor = Monitor(ports, self.recorder, self.limits, self.lifecycle)
        self.creator = CreateJob(ports, self.lifecycle)

    @classmethod
    def over(cls, store: Store, **ports: Any) -> TuningService:
        """A service over ``store`` and the given ports (tests and tools)."""
        return cls(Ports(store=store, **ports))

    @property
    def store(self) -> Store:
        return self.ports.store

    # ---- create ---------------------------------------------------------------------------
    def create_job(
        self, request: Mapping[str, Any], execution_arn: str | None = None, lap_trials: int = DEFAULT_LAP_TRIALS
    ) -> dict[str, Any]:
        return self.creator.create_job(request, execution_arn, lap_trials)

    def submit(self, request: Mapping[str, Any]) -> str:
        return self.creator.submit(request)

    # ---- laps, results, monitor ---------------------------------------------------------------
    def next_trial(
        self,
        name: str,
        lap: int,
        iteration: int,
        token: str,
        lap_trials: int | None = None,
        capacity_wait: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.laps.next_trial(name, lap, iteration, token, lap_trials, capacity_wait)

    def record_training_job(self, training_job: str) -> dict[str, Any]:
        return self.recorder.record_training_job(training_job)

    def sweep(self) -> dict[str, Any]:
        return self.monitor.sweep()

    def check_completion(self, name: str) -> str | None:
        return self.limits.check_completion(name)

    # ---- end of a tuning job ---------------------------------------------------------------
    def finalize(self, name: str) -> dict[str, Any]:
        return self.lifecycle.finalize(name)

    def fail_job(self, name: str, error: Mapping[str, Any] | None) -> dict[str, Any]:
        return self.lifecycle.fail(name, error)

    def stop(self, name: str) -> None:
        self.lifecycle.stop(name)

    # ---- queries ------------------------------------------------------------------------------
    def describe(self, name: str) -> dict[str, Any]:
        return self.queries.describe(name)

    def list_training_jobs(self, name: str, **params: Any) -> dict[str, Any]:
        return self.queries.list_training_jobs(name, **params)

    def list_jobs(self, recent: Iterable[str] = (), **params: Any) -> dict[str, Any]:
        return self.queries.list_jobs(recent, **params)
