"""The Lambda layers hold what the functions run and nothing they never import: the ``tuner`` layer
leaves out the tools no Lambda runs (``stacks.functions.TUNER_LAYER_TOOLS``), and the trimmed
scientific layer runs the engine under Lambda's Python (``layers/engine_smoke.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tuner import constants

from stacks.functions import TUNER_LAYER_TOOLS, is_layer_excluded

from .test_functions import _tuner_file, import_closure

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "tuner"


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_no_handler_reaches_what_the_tuner_layer_leaves_out(name):
    reached = import_closure(ROOT / "lambdas" / name / "handler.py")[0]
    left_out = sorted(str(p) for p in reached if is_layer_excluded(p.resolve().relative_to(LAYER).as_posix()))
    assert not left_out, f"lambdas/{name} can import modules the tuner layer leaves out: {left_out}"


def test_the_strategies_loaded_by_name_ship_with_the_layer():
    from tuner.core import strategies

    for name in strategies.registered():
        module = strategies._REGISTRY[name].split(":")[0]
        path = _tuner_file(module)
        assert path is not None and not is_layer_excluded(path.resolve().relative_to(LAYER).as_posix()), name


def test_every_tool_left_out_still_exists():
    assert all((LAYER / tool).exists() for tool in TUNER_LAYER_TOOLS)


def test_the_engine_runs_on_the_built_layers_with_lambdas_python():
    sys.path.insert(0, str(ROOT / "layers"))
    try:
        import build as layer_build
    finally:
        sys.path.pop(0)
    site = ROOT / "build" / "layers" / "scientific" / "python"
    python = layer_build.python312()
    if python is None or not site.is_dir():
        pytest.skip("needs CPython 3.12 (Lambda's Python; TUNER_PYTHON312) and the built scientific layer")
    done = subprocess.run(
        [python, "-S", str(ROOT / "layers" / "engine_smoke.py"), str(site), str(LAYER / "python")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "optimize" in done.stdout and "stats" not in done.stdout
