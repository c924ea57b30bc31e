"""Functions that do not propose run without numpy and scipy (issue 15, part 5), and the stack gives
the scientific layer to exactly the functions that need it.

Each handler runs in a fresh interpreter where importing numpy or scipy fails, as it would on
Lambda without the scientific layer: imported, its service built the way the handler builds it,
and its use case called with real events over the in-memory fakes (``tests/lean.py``). What the
handlers really call decides the layer, not a list kept by hand.
"""

from __future__ import annotations

import json

import pytest
from tuner import constants

from stacks.functions import FUNCTIONS, SCIENTIFIC
from tests.builders import EVENTS
from tests.lean import cli, probe

PROPOSER = "next_trial"  # the one function that proposes (tuner.service.lap -> service.proposals)


@pytest.mark.parametrize("name", sorted(set(constants.LAMBDAS) - {PROPOSER}))
def test_a_function_that_does_not_propose_runs_with_numpy_and_scipy_blocked(name):
    outcome = probe(name)
    assert outcome.ok, f"lambdas/{name} does not propose but cannot run without numpy/scipy:\n{outcome.error}"
    assert outcome.loaded == []


def test_the_proposer_needs_numpy():
    """Random and Grid need it too: trial seeds are numpy ``SeedSequence``s, Grid permutes with one."""
    assert probe(PROPOSER).needs_numpy


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_the_scientific_layer_goes_exactly_where_the_handler_needs_it(name):
    needs = probe(name).needs_numpy
    assert (SCIENTIFIC in FUNCTIONS[name].layers) == needs, (
        f"lambdas/{name} {'needs' if needs else 'runs without'} numpy/scipy: "
        f"{'attach' if needs else 'drop'} the scientific layer in stacks/functions.py"
    )


def test_the_probe_runs_the_use_cases_not_only_the_imports():
    """The events reach the rules that once pulled numpy in: the sweep stops a trial by the median
    rule and two by Hyperband's rung decision; create_job validates every strategy's request."""
    sweep = probe("sweeper")
    assert sweep.ok and sweep.calls == 1
    assert any(job.startswith("median-") for job in sweep.stopped)
    assert sum(job.startswith("hyperband-") for job in sweep.stopped) == 2
    assert probe("create_job").calls == 4


@pytest.mark.parametrize("request_file", sorted(p.name for p in EVENTS.glob("request_*.json")))
def test_the_cli_validates_a_request_with_numpy_and_scipy_blocked(request_file):
    done = cli("validate", str(EVENTS / request_file))
    assert done.returncode == 0, done.stderr[-2000:]
    assert ": valid (" in done.stdout


def test_the_cli_reports_an_invalid_request_with_numpy_and_scipy_blocked(tmp_path):
    bad = tmp_path / "bad.json"
    request = json.loads((EVENTS / "request_random.json").read_text())
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1", "MaxValue": "0.1"}]}
    bad.write_text(json.dumps(request))
    done = cli("validate", str(bad))
    assert done.returncode != 0
    assert "swap them" in done.stderr + done.stdout
    assert "blocked" not in done.stderr + done.stdout
