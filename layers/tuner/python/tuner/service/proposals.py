"""Proposing a trial: which training job definition it uses and which hyperparameters it tries.

The strategy is rebuilt from the trial history at every proposal (a Lambda keeps nothing), sees
the finished trials as observations and the claimed-but-unfinished ones as pending, and, for a
warm start, the parents' scored trials too (read at proposal time: nothing is copied).
"""
from __future__ import annotations

import time

from tuner.core.allocation import choose_definition
from tuner.core.objective import is_better
from tuner.core.records import TERMINAL_JOB, JobRecord, TrialRecord
from tuner.core.request import Definition, TuningRequest
from tuner.core.strategies import Observation, make_strategy, seed_for
from tuner.core.warm_start import observations as warm_observations
from tuner.core.warm_start import parent_names
from tuner.service.jobs import definition_named, job_seed
from tuner.service.ports import Ports

PROPOSAL_WAIT_SECONDS = 10.0  # how long a proposal waits for lower-numbered trials to be stored
PROPOSAL_POLL_SECONDS = 0.05


class Proposals:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        # Warm-start parents are terminal: their trials no longer change. Kept per (name, ended)
        # for the life of the Lambda container instead of read again at every proposal.
        self._parent_cache: dict[str, tuple[str, list[TrialRecord]]] = {}

    def definition_for(self, job: JobRecord, req: TuningRequest, n: int) -> Definition:
        """The definition of trial n: allocated by each definition's results (core.allocation)."""
        if len(req.definitions) == 1:
            return req.definitions[0]
        counts: dict[str | None, int] = {}
        best: dict[str | None, float | None] = {}
        for t in self.ports.store.list_trials(job.name):
            if t.number == n:
                continue
            counts[t.definition] = counts.get(t.definition, 0) + 1
            if t.objective_status == "Succeeded" and t.final_objective is not None:
                if is_better(t.final_objective, best.get(t.definition), req.maximize):
                    best[t.definition] = t.final_objective
        chosen = choose_definition(
            n, [d.name for d in req.definitions], counts, best, req.maximize, job_seed(job, req)
        )
        return definition_named(req, chosen)

    def propose(self, job: JobRecord, req: TuningRequest, definition: Definition, n: int) -> dict[str, str]:
        strategy = make_strategy(
            req.strategy,
            definition.space,
            maximize=definition.maximize,
            seed=seed_for(req.strategy, req.random_seed, job_seed(job, req)),
            config=req.strategy_config,
        )
        if not strategy.needs_history():  # Grid; Random over a continuous range
            return strategy.propose(n, [], [])
        trials = [t for t in self._trials_before(job.name, n) if t.definition == definition.name]
        observations = [
            Observation(
                params=t.params,
                value=t.final_objective if t.objective_status == "Succeeded" else None,
                trial_number=t.number,
                step_values=tuple(t.series),
            )
            for t in trials
            if t.recorded
        ]
        pending = [t.params for t in trials if not t.recorded and t.number != n]
        return strategy.propose(n, self.parent_observations(req) + observations, pending)

    def _trials_before(self, name: str, n: int) -> list[TrialRecord]:
        """The stored trials, once every trial numbered below ``n`` is stored.

        Trials are claimed in number order; one claimed a moment earlier by another lap may still
        be being proposed. Waiting for it (bounded: its lap may have died) lets the strategy see
        it as pending, so parallel laps never propose the same point.
        """
        deadline = time.monotonic() + PROPOSAL_WAIT_SECONDS
        while True:
            trials = self.ports.store.list_trials(name)
            stored = {t.number for t in trials}
            if all(k in stored for k in range(1, n)) or time.monotonic() >= deadline:
                return trials
            time.sleep(PROPOSAL_POLL_SECONDS)

    def parent_observations(self, req: TuningRequest) -> list[Observation]:
        """Warm start: the parents' scored trials."""
        trials: list[TrialRecord] = []
        for parent in parent_names(req.warm_start):
            trials.extend(self._terminal_trials(parent))
        return warm_observations(req, trials) if trials else []

    def _terminal_trials(self, name: str) -> list[TrialRecord]:
        """A terminal job's trials: one read per container (a job item read checks the cache)."""
        job = self.ports.store.get_job(name)
        if job is None or job.status not in TERMINAL_JOB or not job.ended:
            return self.ports.store.list_trials(name)
        cached = self._parent_cache.get(name)
        if cached is not None and cached[0] == job.ended:
            return cached[1]
        trials = self.ports.store.list_trials(name)
        if all(t.recorded for t in trials):  # a Failed job's stopped trials may still be recorded
            self._parent_cache[name] = (job.ended, trials)
        return trials
