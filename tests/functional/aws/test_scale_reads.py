"""Reads at scale (issue 15, part 3): 10,000 recorded trials in moto against 100.

Measures with the offline meter (tuner.local.metering): DynamoDB read units of one NextTrial step
(claim, Bayesian proposal, start) in a cold and a warm container, and of one sweep; the peak memory
(tracemalloc) of one Bayesian proposal over 10,000 observations. The numbers are in
docs/reliability.md ("Reads at scale"); run with ``python -m pytest -q -s -m slow
tests/functional/aws/test_scale_reads.py``.
"""
from __future__ import annotations

import gc
import time
import tracemalloc

import boto3
import pytest
from tuner.service.jobs import load
from tuner.wiring import build_service

from tests.functional.aws.test_store_reads import metered, seed_history, step_reads
from tests.functional.tables import create_tuner_table

#: The proposer's memory (stacks/functions.py) and the issue's bound: 40 % of it.
PROPOSER_MB = 1769
MEMORY_SHARE = 0.40


@pytest.fixture
def session(aws):
    from tuner.local import atomic

    atomic.install()
    yield boto3.session.Session(region_name="us-east-1")
    atomic.uninstall()


def _history_query_reads(svc, name: str) -> float:
    """What every list of the trials cost before the cache: one consistent Query of them all."""
    store = svc.store
    with metered() as meter:
        sum(1 for _ in store._query_trials(store._pk(name)))
    return meter.usage.read_units


def _measure(session, trials: int) -> dict[str, float]:
    table = f"tuner-{trials}"
    ddb = session.client("dynamodb")
    create_tuner_table(ddb, table)
    name = f"scale-{trials}"
    started = time.perf_counter()
    seed_history(ddb, name, trials, table=table)
    seeded = time.perf_counter() - started
    out: dict[str, float] = {"seed_seconds": round(seeded, 1)}
    svc = build_service(table, session=session)
    out["full_query"] = _history_query_reads(svc, name)
    out["step_cold"] = step_reads(svc, name, 1, 0)
    out["step_warm"] = step_reads(svc, name, 2, 0)
    sweeper = build_service(table, session=session)  # another container: the sweeper's
    for key in ("sweep_cold", "sweep_warm"):
        with metered() as meter:
            sweeper.sweep()
        out[key] = meter.usage.read_units
    out["step_warm_seconds"] = _timed_step(svc, name)
    return out


def _timed_step(svc, name: str) -> float:
    started = time.perf_counter()
    svc.next_trial(name, 3, 0, "token-3-0")
    return round(time.perf_counter() - started, 2)


def _proposal_peak_mb(session, trials: int) -> tuple[float, float]:
    """(peak MB of one Bayesian proposal over the job's trials, MB the container keeps for them)."""
    svc = build_service(f"tuner-{trials}", session=session)
    name = f"scale-{trials}"
    gc.collect()
    tracemalloc.start()
    svc.store.list_trials(name)  # what a container keeps between proposals (the recorded trials)
    kept = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    job, req = load(svc.store, name)
    definition = req.definitions[0]
    gc.collect()
    tracemalloc.start()
    svc.proposals.propose(job, req, definition, job.next_trial + 1)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak, kept


@pytest.mark.slow
def test_reads_per_proposal_and_sweep_do_not_grow_with_10000_trials(session):
    small, large = _measure(session, 100), _measure(session, 10_000)
    peak, kept = _proposal_peak_mb(session, 10_000)
    print()
    for key in small:
        print(f"{key:>18}: 100 trials {small[key]:>9}   10,000 trials {large[key]:>9}")
    print(f"Bayesian proposal over 10,000 observations: peak {peak:.0f} MB; recorded trials kept {kept:.0f} MB")
    # THEN a warm container's step and sweep read the same whatever the history
    assert large["step_warm"] == small["step_warm"]
    assert large["sweep_warm"] == small["sweep_warm"]
    # AND a cold one reads the history once: about what every list used to cost
    assert large["step_cold"] < 1.1 * large["full_query"] + 20
    # AND one proposal stays within 40 % of the proposer's memory
    assert peak + kept < MEMORY_SHARE * PROPOSER_MB
