"""What the examples' ``run.py`` scripts share: finding the tuner, and printing what happened.

A ``run.py`` starts with

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import support
    support.ensure_tuner()

``ensure_tuner`` lets ``python examples/<feature>/run.py`` work with any Python: when the ``tuner``
package cannot be imported (the checkout's virtual environment is not active), the script runs
again with the checkout's ``.venv/bin/python``; when there is none, it says how to make one
(``make setup``) and exits with status 2.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def ensure_tuner() -> None:
    """Return when ``tuner`` imports; else re-run the script under the checkout's ``.venv``, or
    exit 2 with a hint when there is no ``.venv`` (or it lacks the package)."""
    try:
        import tuner  # noqa: F401
    except ImportError:
        pass
    else:
        return
    here = Path(sys.executable).absolute()
    if VENV_PYTHON.is_file() and here != VENV_PYTHON.absolute():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    print(
        f"{sys.argv[0]}: the tuner package is not importable from {sys.executable}.\n"
        f"Create the checkout's environment and run the example with it:\n"
        f"    make setup && source .venv/bin/activate && python {sys.argv[0]}",
        file=sys.stderr,
    )
    raise SystemExit(2)


def load_request(path: Path) -> dict[str, Any]:
    import json

    request = json.loads(path.read_text())
    if not isinstance(request, dict):
        raise SystemExit(f"{path}: not a JSON object")
    return request


def show_jobs(lt: Any, name: str, describe: Mapping[str, Any]) -> None:
    """The tuning job's training jobs, best first (the leaderboard ``tuner local`` prints), and a
    line per status (how many jobs ended Completed, Stopped, Failed)."""
    from collections import Counter

    from tuner.cli_common import leaderboard
    from tuner.core.objective import job_maximizes

    summaries: Sequence[Mapping[str, Any]] = lt.all_training_jobs(name)["TrainingJobSummaries"]
    print(leaderboard(summaries, job_maximizes(dict(describe))))
    counts = Counter(s["TrainingJobStatus"] for s in summaries)
    print(f"{name}: {describe['HyperParameterTuningJobStatus']}; training jobs "
          + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())))
