"""Deterministic AMT-style training job names: ``<tuning-job>-<NNN>-<hash>``.

The name depends only on the tuning job, the trial number and the hyperparameters, so a
retried start of the same trial is recognised by SageMaker's unique-name rule instead of
starting a second job.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Mapping

_NAME = re.compile(r"^(?P<job>.+)-(?P<trial>\d{3,})-(?P<hash>[0-9a-f]{8})$")


def training_job_name(tuning_job: str, trial_number: int, params: Mapping[str, str]) -> str:
    digest = hashlib.sha256(
        json.dumps([tuning_job, trial_number, sorted(params.items())]).encode()
    ).hexdigest()[:8]
    return f"{tuning_job}-{trial_number:03d}-{digest}"


def parse_training_job_name(name: str) -> tuple[str, int] | None:
    """(tuning job name, trial number) of a name this tuner made, else None."""
    m = _NAME.match(name)
    if not m:
        return None
    return m.group("job"), int(m.group("trial"))
