"""Small checks shared by the request parsers (``tuner.core.request`` and
``tuner.core.request_definitions``).

Each raises ``ValidationError(message, field)`` with the member path in ``field``.
Pure: no botocore or boto3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.errors import ValidationError

_CONFIG = "HyperParameterTuningJobConfig"


# ---- small checks ----------------------------------------------------------------------------
def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"must be an object, not {type(value).__name__}", path)
    return value


def _int(
    value: Any, path: str, *, lo: int | None = None, hi: int | None = None, what: str = "an integer"
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{value!r} is not an integer; give {what}", path)
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ValidationError(f"{value} is out of range; give {what}", path)
    return value


def _choice(value: Any, allowed: Sequence[str], path: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{value!r} is not valid; use one of {', '.join(allowed)}", path)
    return str(value)


def _check_name(value: Any, path: str, pattern: re.Pattern[str], max_len: int) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"a name of 1-{max_len} characters is required", path)
    if len(value) > max_len:
        raise ValidationError(f"{value!r} has {len(value)} characters; shorten it to at most {max_len}", path)
    if pattern.fullmatch(value) is None:
        raise ValidationError(
            f"{value!r} is not a valid name; use letters, digits and hyphens, starting and ending "
            "with a letter or digit",
            path,
        )
    return value
