"""Gaussian process regression with a Matern-5/2 ARD kernel, fit by maximum a posteriori.

Notation (shapes):
- ``n`` observations, ``m`` query points, ``d`` hyperparameters, ``D`` feature columns.
- ``F`` (n, D): training features (see ``encoding``); ``Fq`` (m, D): query features.
- ``y`` (n,): training targets after the output transform (larger is better, about N(0, 1)).
- ``w`` (D,): inverse squared lengthscale of each column, ``col_scale * exp(-2 log_ls[col_param])``.
- ``r2 = sum_c w_c (f_c - f'_c)^2``; ``k(r2) = s2 (1 + sqrt(5 r2) + 5/3 r2) exp(-sqrt(5 r2))``.
- ``K = k(F, F) + noise * I`` (n, n); ``L`` its lower Cholesky factor; ``alpha = K^-1 (y - mean)``.
- ``theta`` = [log_ls (d), log s2, log noise, mean]: the hyperparameters, fit by L-BFGS-B on the
  log marginal likelihood plus log priors (lengthscale prior scaled with the dimension, as in
  Hvarfner et al. 2024, "Vanilla Bayesian Optimization Performs Great in High Dimensions").

Robustness: the output transform (Yeo-Johnson with its power chosen by likelihood, then
standardisation) tames heavy tails and outliers; the fit retries with more jitter and falls back
to the prior's mode instead of failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SQRT5 = math.sqrt(5.0)
_LS_PRIOR_SIGMA = math.sqrt(3.0)
_NOISE_PRIOR = (-4.0, 1.0)  # lognormal (loc, scale) on the noise variance
_LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(0.5))
_LOG_S2_BOUNDS = (math.log(0.05), math.log(20.0))
_JITTERS = (0.0, 1e-6, 1e-4, 1e-2)


# ---- output transform --------------------------------------------------------------------------
def _yeo_johnson(y: np.ndarray, lam: float) -> np.ndarray:
    out = np.empty_like(y)
    pos = y >= 0
    if abs(lam) < 1e-8:
        out[pos] = np.log1p(y[pos])
    else:
        out[pos] = (np.power(y[pos] + 1.0, lam) - 1.0) / lam
    if abs(lam - 2.0) < 1e-8:
        out[~pos] = -np.log1p(-y[~pos])
    else:
        out[~pos] = -(np.power(1.0 - y[~pos], 2.0 - lam) - 1.0) / (2.0 - lam)
    return out


@dataclass(frozen=True)
class OutputTransform:
    """Robust standardisation, Yeo-Johnson (power by likelihood on a grid), standardisation.
    Fit on the observed values only."""

    loc: float
    scale: float
    lam: float
    loc2: float
    scale2: float

    @classmethod
    def fit(cls, y: np.ndarray) -> OutputTransform:
        y = np.asarray(y, dtype=float)
        # robust first standardisation (median / IQR), so outliers do not squash the bulk
        loc = float(np.median(y))
        q75, q25 = np.percentile(y, [75, 25])
        scale = float(q75 - q25) / 1.349
        if not scale > 1e-12:
            scale = float(np.std(y))
        scale = scale if scale > 1e-12 else 1.0
        z = (y - loc) / scale
        best_lam, best_ll = 1.0, -np.inf
        if len(y) >= 4:
            log_jac_base = np.sign(z) * np.log1p(np.abs(z))
            for lam in np.linspace(-2.0, 4.0, 25):
                t = _yeo_johnson(z, lam)
                var = float(np.var(t))
                if not np.isfinite(var) or var <= 1e-300:
                    continue
                ll = -0.5 * len(z) * math.log(var) + (lam - 1.0) * float(np.sum(log_jac_base))
                if ll > best_ll + 1e-9 or (abs(ll - best_ll) <= 1e-9 and abs(lam - 1) < abs(best_lam - 1)):
                    best_lam, best_ll = float(lam), ll
        t = _yeo_johnson(z, best_lam)
        loc2, scale2 = float(np.mean(t)), float(np.std(t))
        return cls(loc, scale, best_lam, loc2, scale2 if scale2 > 1e-12 else 1.0)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        z = (np.asarray(y, dtype=float) - self.loc) / self.scale
        return (_yeo_johnson(z, self.lam) - self.loc2) / self.scale2


# ---- kernel -------------------------------------------------------------------------------------
def sq_dist(A: np.ndarray, B: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted squared distances, (m, D) x (n, D) -> (m, n)."""
    As, Bs = A * np.sqrt(w), B * np.sqrt(w)
    r2 = np.sum(As**2, 1)[:, None] + np.sum(Bs**2, 1)[None, :] - 2.0 * As @ Bs.T
    out: np.ndarray = np.maximum(r2, 0.0)
    return out


def matern52(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-scale Matern-5/2 and its derivative with respect to ``r2``."""
    r = np.sqrt(r2)
    e = np.exp(-SQRT5 * r)
    k = (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e
    dk = -(5.0 / 6.0) * (1.0 + SQRT5 * r) * e
    return k, dk


# ---- input warping (Kumaraswamy CDF per numeric column, Snoek et al. 2014) -----------------------
_WARP_EPS = 1e-6
_WARP_PRIOR_SIGMA = math.sqrt(0.75)


def warp(
    Z: np.ndarray, log_a: np.ndarray, log_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kumaraswamy CDF ``1 - (1 - x^a)^b`` of numeric columns ``Z`` (n, q).

    Returns (W, dW/dx, dW/dlog_a, dW/dlog_b), each (n, q)."""
    a, b = np.exp(log_a)[None, :], np.exp(log_b)[None, :]
    x = np.clip(Z, _WARP_EPS, 1.0 - _WARP_EPS)
    lx = np.log(x)
    u = np.exp(a * lx)  # x^a
    one_u = np.maximum(1.0 - u, 1e-300)
    p = np.exp(b * np.log(one_u))  # (1 - u)^b
    Wz = 1.0 - p
    dWdu = b * p / one_u
    dx = dWdu * a * u / x
    da = dWdu * u * lx * a
    db = -p * np.log(one_u) * b
    return Wz, dx, da, db


@dataclass(frozen=True)
class Hyper:
    log_ls: np.ndarray  # (d,)
    log_s2: float
    log_noise: float
    mean: float
    log_a: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (q,) warping, empty when off
    log_b: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (q,)

    @property
    def warped(self) -> bool:
        return self.log_a.size > 0

    def vector(self) -> np.ndarray:
        return np.concatenate([self.log_ls, [self.log_s2, self.log_noise, self.mean], self.log_a, self.log_b])

    @classmethod
    def from_vector(cls, theta: np.ndarray, d: int) -> Hyper:
        q = (len(theta) - d - 3) // 2
        return cls(
            np.array(theta[:d]),
            float(theta[d]),
            float(theta[d + 1]),
            float(theta[d + 2]),
            np.array(theta[d + 3 : d + 3 + q]),
            np.array(theta[d + 3 + q :]),
        )

    def features(self, F: np.ndarray) -> np.ndarray:
        """Apply the warping to the first q (numeric) columns of F."""
        if not self.warped:
            return F
        q = self.log_a.size
        out = F.copy()
        out[:, :q] = warp(F[:, :q], self.log_a, self.log_b)[0]
        return out


def _ls_prior_loc(d: int) -> float:
    return math.sqrt(2.0) + 0.5 * math.log(max(d, 1))


def prior_mode(d: int, q: int = 0) -> Hyper:
    """The hyperparameters the priors favour (the fit's start and its fallback); ``q`` warped columns."""
    ls = _ls_prior_loc(d) - _LS_PRIOR_SIGMA**2
    return Hyper(np.full(d, ls), 0.0, _NOISE_PRIOR[0] - _NOISE_PRIOR[1] ** 2, 0.0, np.zeros(q), np.zeros(q))


def _log_prior(theta: np.ndarray, d: int) -> tuple[float, np.ndarray]:
    """Log prior density and its gradient (lognormal on lengthscales, noise and warping
    concentrations, normal on the rest)."""
    g = np.zeros_like(theta)
    mu, sig = _ls_prior_loc(d), _LS_PRIOR_SIGMA
    ls = theta[:d]
    lp = float(np.sum(-ls - (ls - mu) ** 2 / (2 * sig**2)))
    g[:d] = -1.0 - (ls - mu) / sig**2
    ln = theta[d + 1]
    nmu, nsig = _NOISE_PRIOR
    lp += -ln - (ln - nmu) ** 2 / (2 * nsig**2)
    g[d + 1] = -1.0 - (ln - nmu) / nsig**2
    lp += -0.5 * theta[d] ** 2 - 0.5 * theta[d + 2] ** 2
    g[d] = -theta[d]
    g[d + 2] = -theta[d + 2]
    wpar = theta[d + 3 :]
    if wpar.size:
        lp += float(np.sum(-0.5 * wpar**2 / _WARP_PRIOR_SIGMA**2))
        g[d + 3 :] = -wpar / _WARP_PRIOR_SIGMA**2
    return lp, g


def _weights(log_ls: np.ndarray, col_param: np.ndarray, col_scale: np.ndarray) -> np.ndarray:
    w: np.ndarray = col_scale * np.exp(-2.0 * log_ls[col_param])
    return w


def conditioning_subset(
    F: np.ndarray, y: np.ndarray, hyper: Hyper, col_param: np.ndarray, col_scale: np.ndarray, limit: int,
    keep_best: int,
) -> np.ndarray:
    """At most ``limit`` observations to condition a GP on (sorted indices): the ``keep_best``
    highest ``y``, then greedily the observation farthest from every one chosen so far (farthest-
    point sampling, in the fitted lengthscales' metric, so spread goes along the dimensions that
    matter). Memory and time then stay bounded however long the history (a GP on n points holds
    n x n matrices)."""
    n = len(y)
    if n <= limit:
        return np.arange(n)
    Fw = hyper.features(F) * np.sqrt(_weights(hyper.log_ls, col_param, col_scale))
    order = np.argsort(-y, kind="stable")
    chosen = np.zeros(n, dtype=bool)
    nearest = np.full(n, np.inf)  # squared distance from each observation to the nearest chosen one

    def take(i: int) -> None:
        chosen[i] = True
        np.minimum(nearest, np.sum((Fw - Fw[i]) ** 2, axis=1), out=nearest)

    for i in order[: min(keep_best, limit)]:
        take(int(i))
    for _ in range(limit - int(chosen.sum())):
        nearest[chosen] = -1.0
        take(int(np.argmax(nearest)))
    return np.flatnonzero(chosen)


def neg_log_posterior(
    theta: np.ndarray,
    F: np.ndarray,
    y: np.ndarray,
    col_param: np.ndarray,
    col_scale: np.ndarray,
    d: int | None = None,
) -> tuple[float, np.ndarray]:
    """Negative (log marginal likelihood + log prior) and its gradient with respect to ``theta``.
    ``d`` (number of lengthscales) defaults to ``len(theta) - 3`` (no warping)."""
    from scipy.linalg import cho_solve, cholesky

    n = len(y)
    d = len(theta) - 3 if d is None else d
    h = Hyper.from_vector(theta, d)
    q = h.log_a.size
    F0 = F
    if q:
        Wz, _, dWa, dWb = warp(F0[:, :q], h.log_a, h.log_b)
        F = F0.copy()
        F[:, :q] = Wz
    w = _weights(h.log_ls, col_param, col_scale)
    s2, noise = math.exp(h.log_s2), math.exp(h.log_noise)
    r2 = sq_dist(F, F, w)
    np.fill_diagonal(r2, 0.0)
    k, dk = matern52(r2)
    Kf = s2 * k
    for jitter in _JITTERS:
        K = Kf + (noise + jitter) * np.eye(n)
        try:
            Lc = cholesky(K, lower=True, check_finite=False)
            break
        except np.linalg.LinAlgError:
            continue
    else:
        return 1e10, np.zeros_like(theta)
    resid = y - h.mean
    alpha = cho_solve((Lc, True), resid, check_finite=False)
    Kinv = cho_solve((Lc, True), np.eye(n), check_finite=False)
    ll = -0.5 * float(resid @ alpha) - float(np.sum(np.log(np.diag(Lc)))) - 0.5 * n * math.log(2 * math.pi)
    W = np.outer(alpha, alpha) - Kinv
    grad = np.zeros_like(theta)
    G = W * (s2 * dk)
    rows = G.sum(1)
    GF = G @ F
    gc = 2.0 * (np.sum(F**2 * rows[:, None], 0) - np.sum(F * GF, 0))  # (D,)
    np.add.at(grad, col_param, -w * gc)
    grad[d] = 0.5 * float(np.sum(W * Kf))
    grad[d + 1] = 0.5 * noise * float(np.trace(W))
    grad[d + 2] = float(np.sum(alpha))
    if q:
        dLdF = 2.0 * w[None, :q] * (F[:, :q] * rows[:, None] - GF[:, :q])  # (n, q)
        grad[d + 3 : d + 3 + q] = np.sum(dLdF * dWa, 0)
        grad[d + 3 + q :] = np.sum(dLdF * dWb, 0)
    lp, glp = _log_prior(theta, d)
    val = -(ll + lp)
    if not np.isfinite(val):
        return 1e10, np.zeros_like(theta)
    return val, -(grad + glp)


def fit_hyper(
    F: np.ndarray,
    y: np.ndarray,
    col_param: np.ndarray,
    col_scale: np.ndarray,
    d: int,
    *,
    maxiter: int = 200,
    starts: int = 2,
    n_warp: int = 0,
) -> Hyper:
    """MAP hyperparameters by L-BFGS-B from the prior's mode (and a shorter-lengthscale start).
    ``n_warp``: warp the first ``n_warp`` (numeric) columns. Never raises: returns the prior's
    mode when every start fails."""
    from scipy.optimize import minimize

    base = prior_mode(d, n_warp)
    mu = _ls_prior_loc(d)
    bounds = (
        [(math.log(1e-2), mu + 3.0)] * d
        + [_LOG_S2_BOUNDS, _LOG_NOISE_BOUNDS, (-3.0, 3.0)]
        + [(-2.0, 2.0)] * (2 * n_warp)
    )
    x0s = [base.vector()]
    if starts > 1:
        alt = base.vector()
        alt[:d] -= 1.0
        alt[d + 1] = math.log(1e-3)
        x0s.append(alt)
    best_theta, best_val = base.vector(), np.inf
    for x0 in x0s[:starts]:
        try:
            res = minimize(
                neg_log_posterior,
                x0,
                args=(F, y, col_param, col_scale, d),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": maxiter},
            )
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        if np.all(np.isfinite(res.x)) and res.fun < best_val:
            best_theta, best_val = res.x, float(res.fun)
    return Hyper.from_vector(best_theta, d)


class GP:
    """A GP conditioned on (F, y) with fixed hyperparameters (F unwarped; warping applied here)."""

    def __init__(
        self, F: np.ndarray, y: np.ndarray, hyper: Hyper, col_param: np.ndarray, col_scale: np.ndarray
    ):
        from scipy.linalg import cho_solve, cholesky

        self.F0, self.y, self.hyper = F, y, hyper
        self.F = hyper.features(F)
        self.w = _weights(hyper.log_ls, col_param, col_scale)
        self.s2 = math.exp(hyper.log_s2)
        noise = math.exp(hyper.log_noise)
        r2 = sq_dist(self.F, self.F, self.w)
        np.fill_diagonal(r2, 0.0)
        Kf = self.s2 * matern52(r2)[0]
        n = len(y)
        for jitter in (*_JITTERS, 1.0):
            try:
                self.L = cholesky(Kf + (noise + jitter) * np.eye(n), lower=True, check_finite=False)
                break
            except np.linalg.LinAlgError:
                continue
        self.alpha = cho_solve((self.L, True), y - hyper.mean, check_finite=False)

    def predict(self, Fq: np.ndarray, grad_cols: int = 0) -> tuple[np.ndarray, ...]:
        """Posterior mean and variance of the latent function at ``Fq`` (m, D), each (m,).

        With ``grad_cols`` > 0 also their gradients with respect to the first ``grad_cols``
        feature columns (the numeric ones, before warping), each (m, grad_cols).
        """
        from scipy.linalg import solve_triangular

        h = self.hyper
        dx = None
        if h.warped:
            q = h.log_a.size
            Wq, dx, _, _ = warp(Fq[:, :q], h.log_a, h.log_b)
            Fq = Fq.copy()
            Fq[:, :q] = Wq
        r2 = sq_dist(Fq, self.F, self.w)
        k, dk = matern52(r2)
        ks = self.s2 * k
        mean = h.mean + ks @ self.alpha
        v = solve_triangular(self.L, ks.T, lower=True, check_finite=False)  # (n, m)
        var = np.maximum(self.s2 - np.sum(v**2, 0), 1e-12)
        if not grad_cols:
            return mean, var
        c = slice(0, grad_cols)
        A = self.s2 * dk  # (m, n): d k / d r2
        wc, Fc, Fqc = self.w[c], self.F[:, c], Fq[:, c]
        B = A * self.alpha[None, :]
        dmean = 2.0 * wc[None, :] * (Fqc * B.sum(1)[:, None] - B @ Fc)
        u = solve_triangular(self.L.T, v, lower=False, check_finite=False).T  # (m, n) = K^-1 k
        C = A * u
        dvar = -4.0 * wc[None, :] * (Fqc * C.sum(1)[:, None] - C @ Fc)
        if dx is not None:
            dmean, dvar = dmean * dx[:, :grad_cols], dvar * dx[:, :grad_cols]
        return mean, var, dmean, dvar
