"""Every example runs with its documented command (examples/README.md), and its output shows its feature.

Each command runs as a user runs it, in a subprocess from the root of a copy of ``examples/``
(``tuner local examples/<feature>/tuning-job.json``, ``python examples/<feature>/run.py``). Only the
sizes in the copy are smaller (``SIZES``: fewer training jobs, a smaller family budget), so that
the file runs in a few minutes; everything else is the example as committed. Each command deploys
its own offline stack, so these tests do not use the e2e package's ``local_tuner``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.builders import EXAMPLES

pytestmark = pytest.mark.e2e

TIMEOUT = 300
# example -> {request file: MaxNumberOfTrainingJobs in the copy}
SIZES: dict[str, dict[str, int]] = {
    "xgboost": {"tuning-job.json": 4},
    "builtin-xgboost": {"tuning-job.json": 3},
    "early-stopping": {"tuning-job.json": 6},
    "hyperband": {"tuning-job.json": 6},
    "multi-definition": {"tuning-job.json": 4},
    "retry-and-limits": {"tuning-job.json": 3},
    "warm-start": {"parent.json": 4, "tuning-job.json": 2},
}
FAMILY_BUDGET = {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2}


def documented_commands() -> dict[str, str]:
    """``{example: command}`` from the table at the top of examples/README.md."""
    commands = {}
    for line in (EXAMPLES / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`") and cells[0].startswith("`"):
            commands[cells[0].split("`")[1]] = cells[1].strip("`")
    return commands


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/ (under ``<root>/examples``) with the smaller sizes of ``SIZES``."""
    root = tmp_path_factory.mktemp("examples-copy")
    shutil.copytree(EXAMPLES, root / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    for example, files in SIZES.items():
        for file, jobs in files.items():
            path = root / "examples" / example / file
            request = json.loads(path.read_text())
            request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = jobs
            path.write_text(json.dumps(request))
    family = root / "examples" / "retuning" / "family.json"
    spec = json.loads(family.read_text())
    spec["Budget"] = FAMILY_BUDGET  # the warm-started retunes; the first (cold) one runs the base request's
    spec["BaseRequest"]["HyperParameterTuningJobConfig"]["ResourceLimits"] = FAMILY_BUDGET
    family.write_text(json.dumps(spec))
    return root


def run(command: str, root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``command`` as documented, from ``root``; ``tuner local`` writes under ``tmp_path``."""
    args = command.split()
    bin_dir = Path(sys.executable).parent
    if args[0] == "tuner":
        args = [str(bin_dir / "tuner"), *args[1:], "--output-dir", str(tmp_path / "out")]
    elif args[0] == "python":
        args = [sys.executable, *args[1:]]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    assert "moto" not in result.stderr.lower(), f"moto's own output reached the user:\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def summaries(tmp_path: Path) -> list[dict[str, Any]]:
    return json.loads((tmp_path / "out" / "training-jobs.json").read_text())["TrainingJobSummaries"]


def described(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / "describe.json").read_text())


def statuses(tmp_path: Path) -> list[str]:
    return [s["TrainingJobStatus"] for s in summaries(tmp_path)]


# ---- what each example's output must show ---------------------------------------------------------
def shows_tuning(out: str, tmp_path: Path) -> None:
    d = described(tmp_path)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert "Best training job:" in out and "validation:accuracy" in out
    values = {s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries(tmp_path)}
    assert len(values) > 1, "the hyperparameters made no difference to the accuracy"


def shows_builtin(out: str, tmp_path: Path) -> None:
    assert described(tmp_path)["HyperParameterTuningJobStatus"] == "Completed"
    assert "validation:auc" in out


def shows_completion(out: str, tmp_path: Path) -> None:
    d = described(tmp_path)
    limit = d["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert len(summaries(tmp_path)) < limit, "no completion criterion ended the job early"


def shows_early_stopping(out: str, tmp_path: Path) -> None:
    assert described(tmp_path)["HyperParameterTuningJobStatus"] == "Completed"
    assert "Stopped" in statuses(tmp_path), "the median rule stopped no training job"


def shows_hyperband(out: str, tmp_path: Path) -> None:
    assert described(tmp_path)["HyperParameterTuningJobStatus"] == "Completed"
    assert "Stopped" in statuses(tmp_path), "no training job was stopped at a rung"


def shows_definitions(out: str, tmp_path: Path) -> None:
    assert {s.get("TrainingJobDefinitionName") for s in summaries(tmp_path)} == {"wide", "narrow"}


def shows_limits(out: str, tmp_path: Path) -> None:
    d = described(tmp_path)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["TrainingJobDefinition"]["RetryStrategy"] == {"MaximumRetryAttempts": 2}


def shows_stop(out: str, tmp_path: Path) -> None:
    assert "right after the stop: Stopping" in out
    final = next(line for line in out.splitlines() if line.startswith("final:"))
    assert final.startswith("final: Stopped") and "'InProgress': 0" in final
    assert "Stopped" in out.split("final:", 1)[1]


def shows_warm_start(out: str, tmp_path: Path) -> None:
    assert "warm-started from warm-start-parent" in out
    assert "warm-start-parent: Completed" in out and "warm-start-child: Completed" in out
    assert "OverallBestTrainingJob (child and parents):" in out


def shows_retuning(out: str, tmp_path: Path) -> None:
    first, second = (line for line in out.splitlines() if line.startswith("== retune"))
    assert first.endswith("parents: none (cold start)")
    first_job = first.split(": ", 1)[1].split(",", 1)[0]
    assert second.endswith(f"parents: {first_job}")
    assert "now serves endpoint" in out
    assert ": InService" in out and "InvokeEndpoint" in out


CHECKS: dict[str, Callable[[str, Path], None]] = {
    "xgboost": shows_tuning,
    "builtin-xgboost": shows_builtin,
    "completion-criteria": shows_completion,
    "early-stopping": shows_early_stopping,
    "hyperband": shows_hyperband,
    "multi-definition": shows_definitions,
    "retry-and-limits": shows_limits,
    "stop": shows_stop,
    "warm-start": shows_warm_start,
    "retuning": shows_retuning,
}


def test_every_example_folder_has_a_documented_command_and_a_check() -> None:
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name not in ("epochs", "__pycache__")}
    assert set(documented_commands()) == folders == set(CHECKS)


@pytest.mark.parametrize("example", sorted(CHECKS))
def test_the_documented_command_runs_and_shows_the_feature(example: str, copy_root: Path, tmp_path: Path) -> None:
    command = documented_commands()[example]
    result = run(command, copy_root, tmp_path)
    CHECKS[example](result.stdout, tmp_path)


def test_a_run_script_without_the_tuner_says_how_to_get_it(tmp_path: Path) -> None:
    # GIVEN a checkout without .venv and a Python that cannot import tuner (isolated: no site-packages)
    script = tmp_path / "examples" / "probe" / "run.py"
    script.parent.mkdir(parents=True)
    shutil.copy(EXAMPLES / "support.py", tmp_path / "examples" / "support.py")
    script.write_text(
        "import sys\nfrom pathlib import Path\nsys.path.insert(0, str(Path(__file__).resolve().parents[1]))\n"
        "import support\nsupport.ensure_tuner()\nimport tuner\nprint('ran with', sys.executable)\n"
    )
    # WHEN the script runs, THEN it exits 2 naming the fix
    bare = subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2 and "make setup" in bare.stderr, bare.stderr
    # AND with a .venv in the checkout, it runs again with that interpreter
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    venv_python.chmod(0o755)
    again = subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"ran with {sys.executable}"
