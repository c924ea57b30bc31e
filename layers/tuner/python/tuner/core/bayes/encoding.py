"""The GP's view of a search space.

Notation:
- ``d``: number of hyperparameters; ``D``: number of *feature* columns.
- ``z`` (shape ``(d,)``), the *parameter vector*: numeric parameters as their unit coordinate
  (``Param.to_unit``; integers at the centre of their cell), categoricals as the category index
  (0 .. k-1, stored as float). The acquisition optimiser moves in this space.
- ``f`` (shape ``(D,)``), the *feature vector* the kernel sees: numeric coordinates followed by one
  one-hot block per categorical. Each column belongs to one parameter (``col_param``) and has a
  fixed weight (``col_scale``: 1 for numeric, 1/2 for one-hot, so that two different categories
  are at squared distance 1, like the two ends of a numeric axis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.core.space import CATEGORICAL, INTEGER, Param, SearchSpace


@dataclass(frozen=True)
class Encoding:
    space: SearchSpace
    kinds: tuple[str, ...]  # per parameter
    n_cells: np.ndarray  # (d,) number of integer cells / categories; 0 for continuous
    col_param: np.ndarray  # (D,) parameter index of each feature column
    col_scale: np.ndarray  # (D,) fixed weight of each column in the squared distance
    num_idx: np.ndarray  # indices (into z) of numeric parameters
    cat_idx: np.ndarray  # indices (into z) of categorical parameters
    int_idx: np.ndarray  # indices (into z) of integer parameters

    @classmethod
    def from_space(cls, space: SearchSpace) -> Encoding:
        params = space.params
        num = [i for i, p in enumerate(params) if p.is_numeric]
        cat = [i for i, p in enumerate(params) if not p.is_numeric]
        ints = [i for i, p in enumerate(params) if p.kind == INTEGER]
        col_param = list(num)
        col_scale = [1.0] * len(num)
        for i in cat:
            k = len(params[i].values)
            col_param += [i] * k
            col_scale += [0.5] * k
        n_cells = np.array([p.cardinality or 0 for p in params], dtype=int)
        return cls(
            space=space,
            kinds=tuple(p.kind for p in params),
            n_cells=n_cells,
            col_param=np.array(col_param, dtype=int),
            col_scale=np.array(col_scale, dtype=float),
            num_idx=np.array(num, dtype=int),
            cat_idx=np.array(cat, dtype=int),
            int_idx=np.array(ints, dtype=int),
        )

    @property
    def d(self) -> int:
        return len(self.kinds)

    @property
    def n_features(self) -> int:
        return len(self.col_param)

    # ---- configurations <-> parameter vectors ---------------------------------------------
    def param_vector(self, config: Mapping[str, str]) -> np.ndarray | None:
        """Configuration -> ``z`` of shape (d,); None when a value is not in this space
        (e.g. a warm-start parent's categorical value that this job does not have)."""
        Z, ok = self.param_matrix([config])
        return Z[0] if ok[0] else None

    def param_matrix(self, configs: Sequence[Mapping[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Configurations -> (Z (n, d), usable (n,) bool), vectorised per parameter.
        Numeric values outside the range are clipped into it."""
        n = len(configs)
        Z = np.zeros((n, self.d))
        ok = np.ones(n, dtype=bool)
        for i, p in enumerate(self.space.params):
            col = [c.get(p.name) for c in configs]
            if p.kind == CATEGORICAL:
                index = {v: j for j, v in enumerate(p.values)}
                for r, v in enumerate(col):
                    j = index.get(str(v)) if v is not None else None
                    if j is None:
                        ok[r] = False
                    else:
                        Z[r, i] = j
                continue
            x = np.full(n, np.nan)
            for r, v in enumerate(col):
                if v is None:  # missing: stays NaN (not usable)
                    continue
                try:
                    x[r] = float(v)
                except (TypeError, ValueError):
                    pass
            good = np.isfinite(x)
            ok &= good
            Z[:, i] = _to_unit(p, np.where(good, x, p.low))
        return self.snap(Z), ok

    def config(self, z: np.ndarray) -> dict[str, str]:
        """``z`` of shape (d,) -> configuration of SageMaker strings."""
        out: dict[str, str] = {}
        for i, p in enumerate(self.space.params):
            if p.kind == CATEGORICAL:
                idx = int(np.clip(round(float(z[i])), 0, len(p.values) - 1))
                out[p.name] = p.values[idx]
            else:
                out[p.name] = p.format(p.from_unit(float(z[i])))
        return out

    # ---- the discrete structure -----------------------------------------------------------
    def snap(self, z: np.ndarray) -> np.ndarray:
        """Round integer coordinates to their cell centre and categoricals to an index.
        Works on shape (d,) or (m, d); returns a new array."""
        z = np.array(z, dtype=float, copy=True)
        if self.num_idx.size:
            z[..., self.num_idx] = np.clip(z[..., self.num_idx], 0.0, 1.0)
        for i in self.int_idx:
            z[..., i] = _snap_integer(self.space.params[i], z[..., i])
        if self.cat_idx.size:
            k = self.n_cells[self.cat_idx]
            z[..., self.cat_idx] = np.clip(np.rint(z[..., self.cat_idx]), 0, k - 1)
        return z

    def from_unit_cube(self, u: np.ndarray) -> np.ndarray:
        """Points uniform in [0, 1]^d (shape (m, d)) -> snapped parameter vectors (m, d)."""
        z = np.array(u, dtype=float, copy=True)
        if self.cat_idx.size:
            k = self.n_cells[self.cat_idx]
            z[:, self.cat_idx] = np.minimum(np.floor(u[:, self.cat_idx] * k), k - 1)
        return self.snap(z)

    def features(self, z: np.ndarray) -> np.ndarray:
        """Parameter vectors (m, d) -> feature matrix (m, D)."""
        z = np.atleast_2d(z)
        m = z.shape[0]
        parts = [z[:, self.num_idx]]
        for i in self.cat_idx:
            k = int(self.n_cells[i])
            oh = np.zeros((m, k))
            oh[np.arange(m), z[:, i].astype(int)] = 1.0
            parts.append(oh)
        return np.concatenate(parts, axis=1) if parts else np.zeros((m, 0))

    def key(self, z: np.ndarray) -> bytes:
        """Identity of the configuration ``z`` maps to (for duplicate checks): the parameter
        vector of its SageMaker strings, so it equals ``param_vector(config).tobytes()``."""
        back = self.param_vector(self.config(z))
        return b"" if back is None else back.tobytes()

    def size(self) -> float:
        """Number of distinct configurations (inf when any parameter is continuous)."""
        if any(k not in (INTEGER, CATEGORICAL) for k in self.kinds):
            return float("inf")
        return float(np.prod(self.n_cells.astype(float)))


def _fwd(scaling: str, x: Any) -> Any:
    if scaling == "Logarithmic":
        return np.log(x)
    if scaling == "ReverseLogarithmic":
        return -np.log1p(-x)
    return x


def _inv(scaling: str, t: np.ndarray) -> np.ndarray:
    out: np.ndarray = t
    if scaling == "Logarithmic":
        out = np.exp(t)
    elif scaling == "ReverseLogarithmic":
        out = -np.expm1(-t)
    return out


def _to_unit(p: Param, x: np.ndarray) -> np.ndarray:
    """Vectorised ``Param.to_unit`` for a numeric parameter (values clipped into the range)."""
    lo, hi = p._bounds()
    a, b = _fwd(p.scaling, np.float64(lo)), _fwd(p.scaling, np.float64(hi))
    if b == a:
        return np.full_like(x, 0.5)
    x = np.clip(x, p.low, p.high)
    u: np.ndarray = np.clip((_fwd(p.scaling, x) - a) / (b - a), 0.0, 1.0)
    return u


def _snap_integer(p: Param, u: np.ndarray) -> np.ndarray:
    """Vectorised ``p.to_unit(p.from_unit(u))`` for an integer parameter: the unit coordinate of
    the integer whose cell contains ``u`` (cells need not be of equal width under log scaling)."""
    lo, hi = p._bounds()
    a, b = _fwd(p.scaling, np.float64(lo)), _fwd(p.scaling, np.float64(hi))
    if b == a:
        return np.full_like(u, 0.5)
    x = _inv(p.scaling, a + np.clip(u, 0.0, 1.0) * (b - a))
    v = np.clip(np.rint(x), p.low, p.high)
    snapped: np.ndarray = np.clip((_fwd(p.scaling, v) - a) / (b - a), 0.0, 1.0)
    return snapped
