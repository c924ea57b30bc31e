"""SageMaker's name rules, and the tuner's deterministic training job names (pure).

SageMaker resource names (tuning jobs, definitions, endpoints, families here) share one pattern,
``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,N-1}``: letters, digits and hyphens, starting and ending with a
letter or digit, at most ``N`` characters. ``name_pattern(N)`` is that rule, once.

SageMaker names are unique regardless of case (``Case-Job`` and ``case-job`` are one tuning job):
``name_key`` is the one form a name is stored and compared under; the name as given is kept for
display.

Training jobs are named AMT-style: ``<tuning-job>-<NNN>-<hash>`` (the tuning job's name as given).

The name depends only on the tuning job, the trial number and the hyperparameters, so a
retried start of the same trial is recognised by SageMaker's unique-name rule instead of
starting a second job.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache

MAX_TUNING_JOB_NAME = 32
MAX_DEFINITION_NAME = 64
MAX_ENDPOINT_NAME = 63


@cache
def name_pattern(max_length: int) -> re.Pattern[str]:
    """SageMaker's name pattern for names of at most ``max_length`` characters (use ``fullmatch``)."""
    return re.compile(rf"[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{max_length - 1}}}")


def is_valid_name(value: object, max_length: int = MAX_TUNING_JOB_NAME) -> bool:
    return isinstance(value, str) and name_pattern(max_length).fullmatch(value) is not None


def name_key(name: str) -> str:
    """The key of a SageMaker name: two names are the same resource when their keys are equal."""
    return name.lower()


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
