"""Which Lambda handlers run without numpy/scipy: each one run for real in a fresh interpreter where
importing numpy or scipy raises ``ImportError``.

``probe(name)`` (the parent side) builds a tuning job's history on the in-memory fakes
(``tests.fakes.FakeAws``; numpy is allowed here, the proposer draws the trials), pickles it, and
runs ``python -m tests.lean <name> <state>`` with numpy and scipy blocked. The child:

1. blocks numpy/scipy (a ``sys.meta_path`` finder that raises ``ImportError``), before any import;
2. imports ``lambdas/<name>/handler.py`` as the Lambda runtime does (its folder on the path);
3. builds the service the way the handler does (``tuner.wiring.service()`` / ``family_service()`` /
   ``front_door()``: boto3 clients, no AWS call), with the environment the stack gives it;
4. for the handlers whose use case runs on the fakes (``EVENTS``), swaps ``wiring.service`` for
   the fakes' service and calls ``handler(event, None)`` with each event: the same code path as on
   Lambda, over in-memory ports.

It prints one JSON line: what ran, each call's outcome, and the modules loaded.
``cli(*args)`` runs the ``tuner`` command line the same way (``python -m tests.lean --cli ...``). The sweeper's
events are built so that the median stopping rule and Hyperband's rung decision both stop a
trial (so their code really runs); ``stopped`` shows it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("numpy", "scipy")
ENVIRONMENT = {  # what the stack sets (tests/infra/test_functions.py checks the names), dummy values
    "TUNER_TABLE_NAME": "tuner-lean-probe",
    "TUNER_BUCKET_NAME": "tuner-lean-probe",
    "TUNER_EVENT_BUS_NAME": "tuner-lean-probe",
    "TUNER_LOG_LEVEL": "WARNING",
    "TUNER_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:Tuner",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",  # boto3 clients are built, never called
    "AWS_SECRET_ACCESS_KEY": "testing",
}
# How each handler gets its service from the composition root (``tuner.wiring``).
BUILDERS = {"front_door": "front_door", "retune": "family_service"}


class _Blocker(importlib.abc.MetaPathFinder):
    """Refuses numpy and scipy, as an interpreter without the scientific layer would."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {fullname!r} (blocked: a function without the scientific layer)")
        return None


@dataclass
class Outcome:
    """What the child reported: ``ok`` when every step ran; ``error`` the first failure."""

    name: str
    ok: bool
    error: str
    calls: int
    stopped: list[str]
    loaded: list[str]

    @property
    def needs_numpy(self) -> bool:
        """The handler failed because it imports numpy or scipy."""
        return not self.ok and any(f"'{top}" in self.error for top in BLOCKED) and "blocked" in self.error


# --- the parent side: the state the handlers run over ----------------------------------------------


def _state() -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    """A FakeAws holding a finished parent job and two running jobs (median rule, Hyperband), and
    the events each handler gets over it."""
    from tests.builders import tuning_request
    from tests.fakes import FakeAws

    aws = FakeAws()
    parent = tuning_request("parent", strategy="Bayesian", max_jobs=2)
    aws.service.create_job(parent, aws.executions.start("parent", parent))
    for i in (1, 2):
        job = aws.service.next_trial("parent", i, 0, f"p{i}")["TrainingJobName"]
        aws.logs.by_job[job] = [f"loss: {0.5 + i / 10}"]
        aws.backend.finish(job, "Completed")
        aws.service.record_training_job(job)
    aws.service.finalize("parent")

    # Early stopping (median rule) and Hyperband (rungs 1 and 3 below MaxResource 9): four running
    # trials each; the median rule stops the fourth, the rung at 3 keeps the best two of four.
    median = tuning_request("median", strategy="Bayesian", max_jobs=8, max_parallel=4, early_stopping="Auto")
    hyperband = tuning_request("hyperband", strategy="Hyperband", max_jobs=8, max_parallel=4,
                               strategy_config={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}})
    running: dict[str, list[str]] = {}
    for req in (median, hyperband):
        name = req["HyperParameterTuningJobName"]
        aws.service.create_job(req, aws.executions.start(name, req))
        laps = [aws.service.next_trial(name, lap, 0, f"{name}-{lap}") for lap in range(1, 5)]
        running[name] = [lap["TrainingJobName"] for lap in laps]
        for k, job in enumerate(running[name]):  # three values each; the fourth trial is far worse
            aws.logs.by_job[job] = [f"loss: {9.0 if k == 3 else 1.0 + k / 10}"] * 3
    finished = running["median"][0]
    aws.backend.finish(finished, "Completed")

    requests = [
        tuning_request("new-bayesian", strategy="Bayesian", early_stopping="Auto",
                       warm_start=["parent"], warm_start_type="TransferLearning"),
        tuning_request("new-hyperband", strategy="Hyperband", static={"epochs": "9"}),
        tuning_request("new-grid", strategy="Grid", ranges={"CategoricalParameterRanges": [
            {"Name": "x", "Values": ["a", "b", "c"]}]}, max_jobs=None),
        tuning_request("new-random", strategy="Random"),
    ]
    events: dict[str, list[dict[str, Any]]] = {
        "create_job": [{"Request": r, "ExecutionArn": aws.executions.start(r["HyperParameterTuningJobName"], r)}
                       for r in requests],
        "training_event": [{"detail": {"TrainingJobName": finished}}],
        "sweeper": [{}],
        "finalize": [{"TuningJobName": "median"}],
        "fail_job": [{"TuningJobName": "hyperband", "Error": {"Error": "States.TaskFailed", "Cause": "probe"}}],
        "next_trial": [{"TuningJobName": "median", "Lap": 1, "Iteration": 1, "TaskToken": "again"}],
    }
    return aws, events


@cache
def _pickled_state() -> tuple[bytes, dict[str, bytes]]:
    aws, events = _state()
    return pickle.dumps(aws), {name: pickle.dumps(e) for name, e in events.items()}


@cache
def probe(name: str, *, timeout: float = 120) -> Outcome:
    """Run ``lambdas/<name>``'s handler in a fresh interpreter with numpy and scipy blocked (once
    per test session: the result is cached)."""
    aws, events = _pickled_state()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.pickle"
        state.write_bytes(pickle.dumps((aws, events.get(name, pickle.dumps([])))))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "AWS_"))}
        env.update(ENVIRONMENT)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "tuner" / "python")])
        done = subprocess.run(
            [sys.executable, "-m", "tests.lean", name, str(state)],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return Outcome(name, False, done.stderr[-3000:] or done.stdout[-3000:], 0, [], [])
    return Outcome(name=name, **json.loads(lines[-1]))


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``tuner <args>`` in a fresh interpreter with numpy and scipy blocked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "AWS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "tuner" / "python")])
    return subprocess.run([sys.executable, "-m", "tests.lean", "--cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


# --- the child side ---------------------------------------------------------------------------------


def _child(name: str, state_path: str) -> dict[str, Any]:
    _block()
    folder = ROOT / "lambdas" / name
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"lean_{name}_handler", folder / "handler.py")
    assert spec is not None and spec.loader is not None
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)

    from tuner import wiring

    getattr(wiring, BUILDERS.get(name, "service"))()  # built as on Lambda: boto3 clients, no call
    pickled_aws, pickled_events = pickle.loads(Path(state_path).read_bytes())
    aws, events = pickle.loads(pickled_aws), pickle.loads(pickled_events)
    wiring.service = lambda: aws.service  # type: ignore[assignment]  # the use case over the fakes
    for event in events:
        handler.handler(event, None)
    return {
        "ok": True,
        "error": "",
        "calls": len(events),
        "stopped": list(aws.backend.stopped),
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
    }


def _block() -> None:
    loaded_before = set(sys.modules) & set(BLOCKED)
    if loaded_before:
        raise RuntimeError(f"{sorted(loaded_before)} loaded before the probe started: the probe proves nothing")
    sys.meta_path.insert(0, _Blocker())


if __name__ == "__main__" and sys.argv[1] == "--cli":
    _block()
    from tuner.cli import main

    sys.exit(main(sys.argv[2:]))
elif __name__ == "__main__":
    try:
        report = _child(sys.argv[1], sys.argv[2])
    except ImportError as exc:
        report = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "calls": 0, "stopped": [], "loaded": []}
    print(json.dumps(report))
