"""Acquisition functions with one interface: ``evaluate(mean, var) -> (value, d_mean, d_var)``.

Log expected improvement (Ament et al. 2023, "Unexpected Improvements to Expected Improvement"):
for maximisation with incumbent ``best``, ``sigma = sqrt(var)`` and ``z = (mean - best) / sigma``,
``EI = sigma * h(z)`` with ``h(z) = phi(z) + z Phi(z)``. ``log h`` is computed without
cancellation for very negative ``z`` (erfcx and log1mexp), so the acquisition keeps a useful
gradient far from the incumbent where plain EI underflows to 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_C1 = 0.5 * math.log(2.0 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2.0)
_EPS_INV_SQRT = 1.0 / math.sqrt(np.finfo(float).eps)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurate on both sides of -log 2."""
    out: np.ndarray = np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))
    return out


def log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z Phi(z)), stable for every finite z."""
    from scipy.special import erfcx, log_ndtr

    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    big = z > -1.0
    zb = z[big]
    # phi + z Phi, computed as exp(log phi) + z exp(log Phi): no cancellation for z > -1
    out[big] = np.log(np.exp(-0.5 * zb**2 - _C1) + zb * np.exp(log_ndtr(zb)))
    mid = (~big) & (z > -_EPS_INV_SQRT)
    zm = z[mid]
    out[mid] = -0.5 * zm**2 - _C1 + _log1mexp(np.log(erfcx(-zm / math.sqrt(2.0)) * np.abs(zm)) + _C2)
    far = ~(big | mid)
    zf = z[far]
    out[far] = -0.5 * zf**2 - _C1 - 2.0 * np.log(np.abs(zf))
    return out


def log_ei(mean: np.ndarray, var: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log EI and its derivatives with respect to ``mean`` and ``var`` (all of shape (m,))."""
    from scipy.special import log_ndtr

    sigma = np.sqrt(var)
    z = (mean - best) / sigma
    lh = log_h(z)
    value = lh + np.log(sigma)
    ratio = np.exp(log_ndtr(z) - lh)  # Phi(z) / h(z) = d log h / dz
    d_mean = ratio / sigma
    d_sigma = (1.0 - ratio * z) / sigma
    d_var = d_sigma / (2.0 * sigma)
    return value, d_mean, d_var


@dataclass(frozen=True)
class LogEI:
    """log expected improvement over ``best`` (maximisation)."""

    best: float

    def evaluate(self, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return log_ei(mean, var, self.best)


def log_local_penalty(
    Fq: np.ndarray, Fp: np.ndarray, w: np.ndarray, rho: float, grad_cols: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Local penalisation of pending points, added to a log-acquisition.

    ``sum_j log(1 - exp(-r2_j / (2 rho^2)))`` with ``r2_j`` the squared distance of each query
    (m, D) to pending point ``j`` (p, D) in lengthscale units (``w``: inverse squared lengthscales,
    (D,)): about 0 a few ``rho`` away, strongly negative on top of a pending point. It complements
    the kriging believer, which alone can let a batch creep along a slope next to its own pending
    points. Returns the penalty (m,) and, with ``grad_cols``, its gradient for the first
    ``grad_cols`` columns (m, grad_cols).
    """
    from tuner.core.bayes.gp import sq_dist

    if len(Fp) == 0:
        return np.zeros(len(Fq)), (np.zeros((len(Fq), grad_cols)) if grad_cols else None)
    r2 = sq_dist(Fq, Fp, w)  # (m, p)
    e = np.exp(-r2 / (2.0 * rho**2))
    inner = 1.0 - e + 1e-12
    value = np.sum(np.log(inner), axis=1)
    if not grad_cols:
        return value, None
    dr2 = e / (2.0 * rho**2) / inner  # (m, p): d penalty / d r2
    c = slice(0, grad_cols)
    # d r2_j / d Fq_c = 2 w_c (Fq_c - Fp_jc)
    g = 2.0 * w[None, c] * (Fq[:, c] * dr2.sum(1)[:, None] - dr2 @ Fp[:, c])
    return value, g
