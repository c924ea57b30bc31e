"""Smoke test of the ask-time benchmark's pieces (the benchmark itself is long and not a test)."""

from __future__ import annotations

import os

from tuner import constants

from benchmarks import ask_time


def test_a_measurement_reports_warm_and_cold_asks_and_the_threads_it_ran_with():
    result = ask_time.measure(n=12, repeats=2, pending_count=1)
    assert result["n"] == 12 and result["dim"] == 30 and result["repeats"] == 2
    assert 0 < result["median"] <= result["max"] and result["first_wall"] > 0
    assert set(result["threads"]) == set(constants.THREAD_VARIABLES)


def test_the_worker_environment_takes_the_given_thread_counts_only(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    env = ask_time.conditions_env({"OPENBLAS_NUM_THREADS": "1"})
    assert env["OPENBLAS_NUM_THREADS"] == "1" and "OMP_NUM_THREADS" not in env
    assert ask_time.conditions_env(None).keys().isdisjoint(constants.THREAD_VARIABLES)
    assert env["PATH"] == os.environ["PATH"]


def test_a_batch_measurement_asks_for_the_whole_batch_each_time():
    result = ask_time.measure(n=12, repeats=2, pending_count=0, batch=3)
    assert result["batch"] == 3 and result["pending"] == 0 and result["median"] > 0
    assert ask_time.goal(750, 10) == 2.0 and ask_time.goal(750, 1) == 1.0 and ask_time.goal(750, 4) is None
