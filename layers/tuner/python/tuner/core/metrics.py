"""Metric parsing: a pure function of log lines and the request's MetricDefinitions.

AMT applies every ``Regex`` to every line the algorithm writes; the first capture group (or
the whole match when the regex has no group) is the value. The final value of a metric is the
latest one emitted. Values that do not parse as finite numbers are skipped (and counted), so a
garbage or NaN print never becomes an objective.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

MAX_LINE_CHARS = 16_384  # longer lines are cut before matching (bounded regex work per line)
MAX_SERIES = 1_000  # intermediate points kept per metric (oldest are thinned)


@dataclass
class MetricSeries:
    """Parsed values of one metric, in emission order."""

    values: list[float] = field(default_factory=list)
    rejected: int = 0  # matches that were not finite numbers

    @property
    def final(self) -> float | None:
        return self.values[-1] if self.values else None


def compile_definitions(definitions: Sequence[Mapping[str, str]]) -> list[tuple[str, re.Pattern[str]]]:
    return [(d["Name"], re.compile(d["Regex"])) for d in definitions]


def _value(match: re.Match[str]) -> float | None:
    text = match.group(1) if match.re.groups else match.group(0)
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def parse_metrics(
    lines: Iterable[str], definitions: Sequence[Mapping[str, str]]
) -> dict[str, MetricSeries]:
    """Apply every definition to every line; returns one series per metric name."""
    compiled = compile_definitions(definitions)
    out = {name: MetricSeries() for name, _ in compiled}
    for line in lines:
        line = line[:MAX_LINE_CHARS]
        for name, rx in compiled:
            for m in rx.finditer(line):
                x = _value(m)
                if x is None:
                    out[name].rejected += 1
                else:
                    out[name].values.append(x)
    return out


def thin(values: Sequence[float], limit: int = MAX_SERIES) -> list[float]:
    """Keep at most ``limit`` points: every k-th one plus the last (the final value)."""
    if len(values) <= limit:
        return list(values)
    step = math.ceil(len(values) / (limit - 1))
    kept = list(values[::step])[: limit - 1]
    kept.append(values[-1])
    return kept
