"""The search space: AMT ``ParameterRanges`` mapped to and from the unit cube.

Notation: a *configuration* is ``dict[str, str]`` (what SageMaker passes to a training job);
its *unit vector* ``u`` has one coordinate in [0, 1] per numeric parameter and one per
categorical parameter (the category index scaled to [0, 1], see ``Param.to_unit``).
Strategies that need another encoding (one-hot for a GP) build it from ``Param``.

Scaling (AMT semantics):
- ``Linear``: u = (x - lo) / (hi - lo)
- ``Logarithmic``: u = (log x - log lo) / (log hi - log lo); every value must be > 0
- ``ReverseLogarithmic`` (continuous only, 0 <= lo < hi < 1): t = -log(1 - x), linear in t
- ``Auto``: Logarithmic when lo > 0 and hi / lo >= 1000 (three decades or more), else Linear.

Integers live on cells of equal width in the scaled axis, ``[lo - 0.5, hi + 0.5]``, so that
uniform sampling of u gives every integer an equal chance under Linear scaling.

numpy is imported only by ``SearchSpace.to_unit`` (the proposer's): parsing and checking ranges,
which every Lambda does, runs without the scientific layer (``tests/unit/test_lean_imports.py``).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.errors import ValidationError

if TYPE_CHECKING:  # numpy only where a vector is built (the proposer has the scientific layer)
    import numpy as np

CONTINUOUS = "Continuous"
INTEGER = "Integer"
CATEGORICAL = "Categorical"
RANGE_KEYS = {
    "ContinuousParameterRanges": CONTINUOUS,
    "IntegerParameterRanges": INTEGER,
    "CategoricalParameterRanges": CATEGORICAL,
}
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
AUTO_LOG_RATIO = 1000.0


def format_value(kind: str, x: Any) -> str:
    """The string SageMaker passes to the training job for a value of ``kind``."""
    if kind == INTEGER:
        return str(int(x))
    if kind == CONTINUOUS:
        return repr(float(x))
    return str(x)


@dataclass(frozen=True)
class Param:
    """One tunable hyperparameter."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    scaling: str = "Linear"  # the effective scaling (Auto already resolved)
    values: tuple[str, ...] = ()
    requested_scaling: str = "Auto"

    @property
    def is_numeric(self) -> bool:
        return self.kind != CATEGORICAL

    @property
    def cardinality(self) -> int | None:
        """Number of distinct values (None for continuous)."""
        if self.kind == CATEGORICAL:
            return len(self.values)
        if self.kind == INTEGER:
            return int(self.high) - int(self.low) + 1
        return None

    # ---- scaled axis -------------------------------------------------------------------
    def _bounds(self) -> tuple[float, float]:
        lo, hi = self.low, self.high
        if self.kind == INTEGER:
            lo, hi = lo - 0.5, hi + 0.5
            if self.scaling == "Logarithmic":
                lo = max(lo, self.low * 0.5)  # keep > 0 for low == 1 (cell [0.5, 1.5])
        return lo, hi

    def _fwd(self, x: float) -> float:
        if self.scaling == "Logarithmic":
            return math.log(x)
        if self.scaling == "ReverseLogarithmic":
            return -math.log1p(-x)
        return x

    def _inv(self, t: float) -> float:
        if self.scaling == "Logarithmic":
            return math.exp(t)
        if self.scaling == "ReverseLogarithmic":
            return -math.expm1(-t)
        return t

    def to_unit(self, value: str | float | int) -> float:
        """Map a value (string or number) to [0, 1]."""
        if self.kind == CATEGORICAL:
            idx = self.values.index(str(value))
            return (idx + 0.5) / len(self.values)
        x = float(value)
        lo, hi = self._bounds()
        a, b = self._fwd(lo), self._fwd(hi)
        if b == a:
            return 0.5
        return min(1.0, max(0.0, (self._fwd(x) - a) / (b - a)))

    def from_unit(self, u: float) -> str | float | int:
        """Map u in [0, 1] to a value of the right type, inside the range."""
        u = min(1.0, max(0.0, float(u)))
        if self.kind == CATEGORICAL:
            idx = min(len(self.values) - 1, int(u * len(self.values)))
            return self.values[idx]
        lo, hi = self._bounds()
        a, b = self._fwd(lo), self._fwd(hi)
        x = self._inv(a + u * (b - a))
        if self.kind == INTEGER:
            return int(min(self.high, max(self.low, round(x))))
        return min(self.high, max(self.low, x))

    def format(self, value: Any) -> str:
        return format_value(self.kind, value)

    def parse(self, text: str) -> str | float | int:
        """Parse the string form back (raises ValidationError when out of range)."""
        if self.kind == CATEGORICAL:
            if text not in self.values:
                raise ValidationError(f"{text!r} is not one of {list(self.values)}", self.name)
            return text
        x = float(text)
        if self.kind == INTEGER:
            if x != int(x):
                raise ValidationError(f"{text!r} is not an integer", self.name)
            x = int(x)
        if not (self.low <= x <= self.high):
            raise ValidationError(f"{text!r} is outside [{self.low}, {self.high}]", self.name)
        return x


def _resolve_scaling(kind: str, scaling: str, lo: float, hi: float) -> str:
    if scaling == "Auto":
        if lo > 0 and hi / lo >= AUTO_LOG_RATIO:
            return "Logarithmic"
        return "Linear"
    return scaling


def _number(text: Any, field: str) -> float:
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise ValidationError(f"{text!r} is not a number; give it as a string such as \"0.1\"", field) from None
    if not math.isfinite(x):
        raise ValidationError(f"{text!r} must be a finite number", field)
    return x


def param_from_range(kind: str, spec: Mapping[str, Any], field: str) -> Param:
    """Build a Param from one AMT range dict, checking AMT's semantic rules."""
    name = spec.get("Name")
    if not name:
        raise ValidationError("every range needs a Name", field)
    field = f"{field}[{name}]"
    if kind == CATEGORICAL:
        values = tuple(str(v) for v in spec.get("Values", ()))
        if not values:
            raise ValidationError("Values must list 1 to 30 values", f"{field}.Values")
        if len(values) > 30:
            raise ValidationError(f"{len(values)} values given; at most 30 are allowed", f"{field}.Values")
        if len(set(values)) != len(values):
            raise ValidationError("Values must not repeat", f"{field}.Values")
        return Param(name=name, kind=kind, values=values, scaling="Linear", requested_scaling="Linear")
    lo = _number(spec.get("MinValue"), f"{field}.MinValue")
    hi = _number(spec.get("MaxValue"), f"{field}.MaxValue")
    if kind == INTEGER and (lo != int(lo) or hi != int(hi)):
        raise ValidationError("MinValue and MaxValue of an integer range must be whole numbers", field)
    if lo > hi:
        raise ValidationError(f"MinValue {lo} is greater than MaxValue {hi}; swap them", field)
    scaling = spec.get("ScalingType", "Auto")
    if scaling not in SCALINGS:
        raise ValidationError(f"ScalingType {scaling!r} is not one of {list(SCALINGS)}", f"{field}.ScalingType")
    if scaling == "Logarithmic" and lo <= 0:
        raise ValidationError(
            "Logarithmic scaling needs every value > 0; raise MinValue above 0 or use Linear",
            f"{field}.ScalingType",
        )
    if scaling == "ReverseLogarithmic":
        if kind == INTEGER:
            raise ValidationError(
                "ReverseLogarithmic scaling applies to continuous ranges only; use Linear or Logarithmic",
                f"{field}.ScalingType",
            )
        if not (0 <= lo and hi < 1):
            raise ValidationError(
                "ReverseLogarithmic scaling needs 0 <= MinValue <= MaxValue < 1",
                f"{field}.ScalingType",
            )
    return Param(
        name=name,
        kind=kind,
        low=lo,
        high=hi,
        scaling=_resolve_scaling(kind, scaling, lo, hi),
        requested_scaling=scaling,
    )


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]

    @classmethod
    def from_ranges(cls, ranges: Mapping[str, Any], field: str = "ParameterRanges") -> SearchSpace:
        """From an AMT ``ParameterRanges`` dict (the three ``*ParameterRanges`` lists)."""
        params: list[Param] = []
        for key, kind in RANGE_KEYS.items():
            for spec in ranges.get(key) or ():
                params.append(param_from_range(kind, spec, f"{field}.{key}"))
        names = [p.name for p in params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValidationError(f"hyperparameter names repeat across ranges: {dup}", field)
        if len(params) > 30:
            raise ValidationError(f"{len(params)} ranges given; at most 30 are allowed", field)
        return cls(tuple(params))

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def dim(self) -> int:
        return len(self.params)

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def to_unit(self, config: Mapping[str, str]) -> np.ndarray:
        """Configuration -> unit vector, shape (d,)."""
        import numpy as np

        return np.array([p.to_unit(config[p.name]) for p in self.params], dtype=float)

    def from_unit(self, u: Sequence[float] | np.ndarray) -> dict[str, str]:
        """Unit vector, shape (d,) -> configuration of strings."""
        return {p.name: p.format(p.from_unit(x)) for p, x in zip(self.params, u, strict=True)}

    def contains(self, config: Mapping[str, str]) -> bool:
        try:
            for p in self.params:
                p.parse(config[p.name])
        except (KeyError, ValueError, ValidationError):
            return False
        return True

    def grid(self) -> list[dict[str, str]]:
        """Every combination of a categorical-only space, in a fixed order."""
        if any(p.kind != CATEGORICAL for p in self.params):
            raise ValidationError("Grid search takes categorical ranges only", "ParameterRanges")
        combos = itertools.product(*(p.values for p in self.params))
        return [dict(zip(self.names, c, strict=True)) for c in combos]

    def grid_size(self) -> int:
        return math.prod(len(p.values) for p in self.params) if self.params else 0


def config_key(config: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A hashable identity for a configuration (duplicate detection)."""
    return tuple(sorted(config.items()))
