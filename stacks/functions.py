"""What each tuner Lambda gets: memory, timeout, layers.

Plain data without CDK imports, so that ``layers/build.py`` (size report) and the stack read the
same table. Keys are the entries of ``tuner.constants.LAMBDAS``; the code of each lives in
``lambdas/<name>/handler.py``.

Layers: every function gets the ``tuner`` layer. The ``scientific`` layer (numpy + scipy, by far
the largest part of any function) goes to each function whose handler can import numpy/scipy.
Today that is every one of them: ``tuner.service.tuning`` imports the pure core (``tuner.core.space`` ->
numpy) at module level, so even ``finalize`` and ``fail_job`` load numpy. ``tests/infra`` checks
this statically (the handler's import closure through the ``tuner`` package): drop the layer from
a function only once its handler no longer reaches numpy/scipy, and that test will say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuner import constants

SCIENTIFIC = "scientific"
TUNER = "tuner"


@dataclass(frozen=True)
class FunctionSpec:
    """Sizing of one Lambda. ``timeout_seconds`` is the Lambda timeout, not a Step Functions one."""

    memory_mb: int = 512
    timeout_seconds: int = 60
    layers: tuple[str, ...] = (TUNER,)


FUNCTIONS: dict[str, FunctionSpec] = {
    # 1769 MB is one full vCPU: fitting the GP and optimising the acquisition is CPU-bound.
    "next_trial": FunctionSpec(memory_mb=1769, timeout_seconds=300, layers=(TUNER, SCIENTIFIC)),
    "create_job": FunctionSpec(layers=(TUNER, SCIENTIFIC)),
    "training_event": FunctionSpec(timeout_seconds=300, layers=(TUNER, SCIENTIFIC)),
    "sweeper": FunctionSpec(timeout_seconds=300, layers=(TUNER, SCIENTIFIC)),
    "finalize": FunctionSpec(layers=(TUNER, SCIENTIFIC)),
    "fail_job": FunctionSpec(layers=(TUNER, SCIENTIFIC)),
    # builds the next request (tuner.core.families -> tuner.core.space -> numpy)
    "retune": FunctionSpec(layers=(TUNER, SCIENTIFIC)),
}

if set(FUNCTIONS) != set(constants.LAMBDAS):  # pragma: no cover - a drift guard, fails at import
    raise RuntimeError(
        f"stacks/functions.py and tuner.constants.LAMBDAS disagree: {sorted(FUNCTIONS)} vs "
        f"{sorted(constants.LAMBDAS)}; add the missing function to both"
    )

# Glob patterns (CDK's ignore syntax) left out of the ``tuner`` layer and of each function's code.
# Tool caches (pytest, mypy, ruff) never ship: a mypy run inside the layer folder once added 31 MB.
_CACHE_DIRS = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
CODE_EXCLUDE: tuple[str, ...] = (*(f"**/{d}" for d in _CACHE_DIRS), "**/*.pyc", "**/*.egg-info")


def is_code_excluded(relative_path: str) -> bool:
    """True for a path (relative to the asset root, ``/`` separated) that ``CODE_EXCLUDE`` drops."""
    parts = relative_path.split("/")
    return any(
        part in _CACHE_DIRS or part.endswith(".egg-info") for part in parts
    ) or relative_path.endswith(".pyc")
