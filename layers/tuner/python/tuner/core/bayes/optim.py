"""Acquisition optimiser for mixed spaces.

1. Candidates: scrambled Halton points over the whole space plus perturbations of the best
   observed points (local candidates matter most once the model has found a basin).
2. The best few distinct candidates start a joint L-BFGS-B refinement of their numeric
   coordinates (integers relaxed, categoricals held), using the GP's analytic gradients.
3. The refined points are snapped to the discrete structure and improved by a coordinate search
   over categorical values and neighbouring integers.

Everything works on parameter vectors ``z`` (see ``encoding``). The result is a list of points
ordered by acquisition value, so the caller can skip configurations that are already taken.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tuner.core.bayes.design import ScrambledHalton
from tuner.core.bayes.encoding import Encoding
from tuner.core.space import INTEGER

# acquisition of parameter vectors: (m, d) -> (m,); with grad=True also d/dz_numeric (m, n_num)
AcqFn = Callable[..., "np.ndarray | tuple[np.ndarray, np.ndarray]"]


def _chunked(acq: AcqFn, Z: np.ndarray, chunk: int = 2048) -> np.ndarray:
    return np.concatenate([acq(Z[i : i + chunk]) for i in range(0, len(Z), chunk)]) if len(Z) else np.zeros(0)


def local_candidates(
    enc: Encoding,
    centres: np.ndarray,
    n_per: int,
    rng: np.random.Generator,
    relevance: np.ndarray | None = None,
) -> np.ndarray:
    """Perturbations of each centre (k, d) -> (k * n_per, d): a random subset of coordinates
    moves (Gaussian steps of mixed size for numerics, a new value for categoricals).

    Each coordinate moves with probability ``max(2/d, 0.2)``. With ``relevance`` (d,) (positive
    weights, e.g. the GP's inverse lengthscales), every other candidate instead moves coordinate
    ``j`` with probability proportional to ``relevance[j]`` (capped at 1; the same expected number
    of moves when no coordinate dominates): in a space where most parameters barely matter, a
    perturbation of only irrelevant coordinates is a wasted candidate (the model cannot tell it
    from its centre)."""
    if len(centres) == 0 or n_per == 0:
        return np.zeros((0, enc.d))
    d = enc.d
    Z = np.repeat(centres, n_per, axis=0)
    m = len(Z)
    p_move = min(1.0, max(2.0 / d, 0.2))
    if relevance is None:
        p = np.full((1, d), p_move)
    else:
        weighted = np.minimum(1.0, p_move * d * relevance / np.sum(relevance))
        p = np.where(np.arange(m)[:, None] % 2 == 0, weighted[None, :], p_move)
    mask = rng.random((m, d)) < p
    none = ~mask.any(1)
    mask[none, rng.integers(0, d, none.sum())] = True
    sigma = np.exp(rng.uniform(np.log(0.01), np.log(0.3), size=(m, 1)))
    if enc.num_idx.size:
        ni = enc.num_idx
        step = rng.normal(size=(m, ni.size)) * sigma
        Z[:, ni] = np.where(mask[:, ni], Z[:, ni] + step, Z[:, ni])
        Z[:, ni] = np.abs(Z[:, ni])  # reflect at 0 and 1
        Z[:, ni] = 1.0 - np.abs(1.0 - Z[:, ni])
    for i in enc.cat_idx:
        k = int(enc.n_cells[i])
        new = rng.integers(0, k, m).astype(float)
        Z[:, i] = np.where(mask[:, i], new, Z[:, i])
    return enc.snap(Z)


def _refine(enc: Encoding, acq: AcqFn, starts: np.ndarray, maxiter: int) -> np.ndarray:
    """Joint L-BFGS-B over the numeric coordinates of every start (their sum is separable)."""
    from scipy.optimize import minimize

    ni = enc.num_idx
    if ni.size == 0 or len(starts) == 0:
        return starts
    base = starts.copy()
    s, q = len(starts), ni.size

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        Z = base.copy()
        Z[:, ni] = x.reshape(s, q)
        val, g = acq(Z, grad=True)
        return -float(np.sum(val)), -g.reshape(-1)

    try:
        res = minimize(
            f,
            base[:, ni].reshape(-1),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * (s * q),
            options={"maxiter": maxiter},
        )
        out = base.copy()
        out[:, ni] = np.clip(res.x.reshape(s, q), 0.0, 1.0)
        return out
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return starts


def _neighbours(enc: Encoding, z: np.ndarray) -> np.ndarray:
    """Points one discrete move away: every other category, the adjacent integers."""
    out = []
    for i in enc.cat_idx:
        for c in range(int(enc.n_cells[i])):
            if c != int(z[i]):
                y = z.copy()
                y[i] = c
                out.append(y)
    for i in enc.int_idx:
        p = enc.space.params[i]
        v = int(p.from_unit(float(z[i])))
        for nv in (v - 1, v + 1):
            if p.low <= nv <= p.high:
                y = z.copy()
                y[i] = p.to_unit(nv)
                out.append(y)
    return np.array(out) if out else np.zeros((0, enc.d))


def _coordinate_search(
    enc: Encoding, acq: AcqFn, z: np.ndarray, val: float, rounds: int
) -> tuple[np.ndarray, float]:
    for _ in range(rounds):
        nb = _neighbours(enc, z)
        if len(nb) == 0:
            break
        v = _chunked(acq, nb)
        j = int(np.argmax(v))
        if not v[j] > val + 1e-12:
            break
        z, val = nb[j], float(v[j])
    return z, val


def optimize_acqf(
    enc: Encoding,
    acq: AcqFn,
    rng: np.random.Generator,
    *,
    incumbents: np.ndarray,
    n_candidates: int = 2048,
    n_local: int = 256,
    n_starts: int = 6,
    maxiter: int = 100,
    discrete_rounds: int = 3,
    relevance: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``acq`` over the space.

    ``incumbents`` (k, d): the best observed points, centres of the local candidates;
    ``relevance`` (d,): optional weights steering which coordinates they perturb
    (``local_candidates``).
    Returns (Z, values): distinct-as-arrays points (p, d) ordered by decreasing acquisition.
    """
    halton = ScrambledHalton(enc.d, rng)
    cand = enc.from_unit_cube(halton.points(0, n_candidates))
    per = max(1, n_local // max(1, len(incumbents)))
    cand = np.concatenate([cand, local_candidates(enc, incumbents, per, rng, relevance), incumbents], axis=0)
    vals = _chunked(acq, cand)
    vals = np.where(np.isfinite(vals), vals, -np.inf)
    order = np.argsort(-vals, kind="stable")
    starts_idx: list[int] = []
    seen: set[bytes] = set()
    for j in order:
        key = cand[j].tobytes()
        if key not in seen:
            seen.add(key)
            starts_idx.append(int(j))
        if len(starts_idx) >= n_starts:
            break
    starts = cand[starts_idx]
    refined = enc.snap(_refine(enc, acq, starts, maxiter))
    rvals = _chunked(acq, refined)
    finals, fvals = [], []
    has_discrete = enc.cat_idx.size or any(k == INTEGER for k in enc.kinds)
    for z, v in zip(refined, rvals, strict=False):
        if has_discrete:
            z, v = _coordinate_search(enc, acq, z, float(v), discrete_rounds)
        finals.append(z)
        fvals.append(v)
    Z = np.concatenate([np.array(finals), cand[order]], axis=0)
    V = np.concatenate([np.array(fvals, dtype=float), vals[order]])
    o = np.argsort(-V, kind="stable")
    return Z[o], V[o]
