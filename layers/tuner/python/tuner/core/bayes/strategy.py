"""``BayesianStrategy``: wires encoding, GP, acquisition and optimiser together.

Per proposal, stateless (everything is rebuilt from the history):
1. While fewer than ``n_init`` trials exist (observed + pending), or fewer than two have a value,
   take the next point of the job's scrambled Halton design (a function of ``RandomSeed``).
2. Otherwise: transform the observed values (larger is better internally), impute failed trials
   (no metric) with the worst transformed value so the model steers away from where they failed,
   fit the GP's hyperparameters (on a deterministic subsample when there are many observations),
   condition on every observation plus the pending trials as kriging-believer fantasies (their
   posterior mean: the variance collapses there, so a parallel proposal goes elsewhere), and
   maximise log-EI over the incumbent plus a local penalty around each pending point. The first
   result not already observed or pending wins.

Reproducibility: the fit depends only on (RandomSeed, observations) and the acquisition
optimiser's randomness only on (RandomSeed, trial number), so ``propose`` for trial *t* with the
same history and pending set gives the same configuration, inside or outside a batch.
Warm-start parents are simply more observations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.core.bayes.acqf import LogEI, log_local_penalty
from tuner.core.bayes.design import ScrambledHalton, initial_design_size
from tuner.core.bayes.encoding import Encoding
from tuner.core.bayes.gp import GP, Hyper, OutputTransform, conditioning_subset, fit_hyper
from tuner.core.bayes.optim import optimize_acqf
from tuner.core.space import SearchSpace
from tuner.core.strategies.base import Observation, Strategy, trial_rng

_DESIGN_SALT = 17
_FIT_SALT = 29
_MIN_WARP_POINTS = 10  # fewer observations cannot support two warping parameters per coordinate
_MAX_FIT_POINTS = 160  # hyperparameters are fit on at most this many points (always the best 50)
# The GP conditions on at most this many observations (the best 250 and a space-filling rest:
# ``gp.conditioning_subset``): AMT's largest Bayesian history is ~4,500 (750 trials and five
# warm-start parents), 10,000 with a raised quota; n x n matrices would not fit the function.
_MAX_GP_POINTS = 2_000
_KEEP_BEST = 250
# High dimension: above this many parameters, half the local candidates perturb the coordinates
# the GP finds relevant (inverse lengthscales) rather than uniformly chosen ones
# (``optim.local_candidates``), and EI's margin is larger (``_XI_HIGH_DIM``).
_HIGH_DIM = 8
_XI = 0.01
# Where most parameters barely matter, the incumbent has many neighbours that promise a sliver of
# improvement (a weak parameter nudged); a wider margin spends the trials on larger prospects.
_XI_HIGH_DIM = 0.05


@dataclass
class _Model:
    gp: GP
    hyper: Hyper
    F: np.ndarray  # (n, D) features of observed trials
    y: np.ndarray  # (n,) transformed values, failures imputed
    best: float  # best transformed observed value
    top: np.ndarray  # (k, d) best observed parameter vectors


@dataclass(frozen=True)
class ModelPick:
    """``BayesianStrategy.posterior_pick``: which observation (its index) the model believes best,
    and the share of the observed variation the model puts down to noise (0: none, 1: all)."""

    index: int
    noise_share: float


class BayesianStrategy(Strategy):
    """GP-based Bayesian optimisation. ``config`` keys (all optional): ``initial_design_size``
    (quasi-random trials first; default 5-8 by dimension), ``n_candidates`` (2048), ``xi``
    (EI margin in standardised units, 0.01; 0.05 above 8 parameters), ``penalty_radius`` (local
    penalisation of pending points, in lengthscales, 0.25; 0 = kriging believer only),
    ``input_warping`` (False)."""

    name = "Bayesian"

    def __init__(
        self,
        space: SearchSpace,
        *,
        maximize: bool,
        seed: int | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(space, maximize=maximize, seed=seed, config=config)
        self.enc = Encoding.from_space(space)
        self.n_init = initial_design_size(self.enc.d, self.config.get("initial_design_size"))
        self.n_candidates = int(self.config.get("n_candidates", 2048))
        # EI's improvement margin, in standardised output units: discourages spending trials on
        # vanishing improvements next to the incumbent (e.g. creeping along a boundary)
        self.xi = float(self.config.get("xi", _XI_HIGH_DIM if self.enc.d > _HIGH_DIM else _XI))
        # local penalisation radius around pending points, in lengthscales (0 disables it)
        self.penalty_radius = float(self.config.get("penalty_radius", 0.25))
        # Kumaraswamy input warping of the numeric coordinates (fit with the other hyperparameters).
        # Off by default: on the benchmark it helped Ackley and mixed Levy but hurt Hartmann6 and
        # Levy about as much (benchmarks/README.md), so the simpler model stays the default.
        self.input_warping = bool(self.config.get("input_warping", False))
        self._design: ScrambledHalton | None = None

    # ---- public interface ----------------------------------------------------------------------
    def propose(
        self,
        trial_number: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, str]:
        return self.propose_batch(trial_number, 1, observations, pending)[0]

    def propose_batch(
        self,
        first_trial_number: int,
        n: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, str]] = (),
    ) -> list[dict[str, str]]:
        Z, values = self._history(observations)
        Zp, okp = self.enc.param_matrix(list(pending))
        pend = list(Zp[okp])
        seen = {z.tobytes() for z in Z} | {z.tobytes() for z in pend}  # vectors of configurations
        n_valid = int(np.sum(np.isfinite(values)))
        model: _Model | None = None
        out: list[dict[str, str]] = []
        for i in range(n):
            t = first_trial_number + i
            rng = trial_rng(self.seed, t)
            n_known = len(observations) + len(pending) + i
            if n_known < self.n_init or n_valid < 2:
                z = self._design_point(n_known, rng, seen)
            else:
                if model is None:
                    model = self._fit(Z, values)
                z = self._bo_point(model, np.array(pend).reshape(-1, self.enc.d), rng, seen)
            cfg = self.enc.config(z)
            out.append(cfg)
            back = self.enc.param_vector(cfg)  # exactly what a later call sees as pending
            z = z if back is None else back
            seen.add(z.tobytes())
            pend.append(z)
        return out

    def posterior_pick(self, observations: Sequence[Observation]) -> ModelPick | None:
        """The observed configuration the model believes best: the highest posterior mean of the
        latent (noise-free) objective among the observations with a value, fitted as for a proposal.
        On a noisy objective this is not always the best observed value (a lucky draw); AMT reports
        the best observed, so this is an addition (analytics, ``Optimizer.pick``), never describe's.
        None with fewer than two values."""
        parsed, ok = self.enc.param_matrix([o.params for o in observations])
        index = np.flatnonzero(ok)
        Z, values = self._history(observations)
        valid = np.isfinite(values)
        if int(valid.sum()) < 2:
            return None
        model = self._fit(Z, values)
        mean = model.gp.predict(self.enc.features(Z))[0]
        i = int(np.argmax(np.where(valid, mean, -np.inf)))
        noise = math.exp(model.hyper.log_noise)
        return ModelPick(int(index[i]), noise / (noise + model.gp.s2))

    # ---- steps ---------------------------------------------------------------------------------
    def _history(self, observations: Sequence[Observation]) -> tuple[np.ndarray, np.ndarray]:
        """Parameter vectors (n, d) and values (n,) (NaN = no metric) of usable observations."""
        Z, ok = self.enc.param_matrix([o.params for o in observations])
        vals = []
        for o in observations:
            v = o.value
            v = float("nan") if v is None or not math.isfinite(float(v)) else float(v)
            vals.append(v if self.maximize or math.isnan(v) else -v)
        return Z[ok].reshape(-1, self.enc.d), np.array(vals, dtype=float)[ok]

    def _design_point(self, index: int, rng: np.random.Generator, seen: set[bytes]) -> np.ndarray:
        if self._design is None:
            base = 0 if self.seed is None else int(self.seed) + 1
            self._design = ScrambledHalton(self.enc.d, np.random.default_rng([base, _DESIGN_SALT]))
        z: np.ndarray = self.enc.from_unit_cube(self._design.points(index, 1))[0]
        for _ in range(64):  # small discrete spaces: do not repeat a configuration
            if self.enc.key(z) not in seen:
                break
            z = self.enc.from_unit_cube(rng.random((1, self.enc.d)))[0]
        return z

    def _fit(self, Z: np.ndarray, values: np.ndarray) -> _Model:
        enc = self.enc
        ok = np.isfinite(values)
        tf = OutputTransform.fit(values[ok])
        y = np.empty(len(values))
        y[ok] = tf(values[ok])
        best = float(np.max(y[ok]))
        y[~ok] = float(np.min(y[ok]))  # failed trials: as bad as the worst observed
        F = enc.features(Z)
        n = len(y)
        idx = np.arange(n)
        if n > _MAX_FIT_POINTS:
            base = 0 if self.seed is None else int(self.seed) + 1
            frng = np.random.default_rng([base, n, _FIT_SALT])
            order = np.argsort(-y, kind="stable")
            rest = frng.choice(order[50:], _MAX_FIT_POINTS - 50, replace=False)
            idx = np.sort(np.concatenate([order[:50], rest]))
        starts = 2 if n <= 100 else 1
        maxiter = 200 if n <= 100 else 60
        n_warp = enc.num_idx.size if self.input_warping and n >= _MIN_WARP_POINTS else 0
        hyper = fit_hyper(
            F[idx], y[idx], enc.col_param, enc.col_scale, enc.d, maxiter=maxiter, starts=starts, n_warp=n_warp
        )
        k = min(5, int(ok.sum()))
        top = Z[np.argsort(-np.where(ok, y, -np.inf), kind="stable")[:k]]
        keep = conditioning_subset(F, y, hyper, enc.col_param, enc.col_scale, _MAX_GP_POINTS, _KEEP_BEST)
        F, y = F[keep], y[keep]
        gp = GP(F, y, hyper, enc.col_param, enc.col_scale)
        return _Model(gp, hyper, F, y, best, top)

    def _bo_point(self, model: _Model, pend: np.ndarray, rng: np.random.Generator, seen: set[bytes]) -> np.ndarray:
        enc = self.enc
        gp, best = model.gp, model.best
        if len(pend):
            Fp = enc.features(pend)
            fantasy = gp.predict(Fp)[0]
            gp = GP(
                np.vstack([model.F, Fp]),
                np.concatenate([model.y, fantasy]),
                model.hyper,
                enc.col_param,
                enc.col_scale,
            )
            best = max(best, float(np.max(fantasy)))
        acqf = LogEI(best + self.xi)
        n_num = enc.num_idx.size

        use_penalty = len(pend) > 0 and self.penalty_radius > 0
        Fp = enc.features(pend) if use_penalty else np.zeros((0, enc.n_features))
        w, rho = gp.w, self.penalty_radius

        def acq(Zq: np.ndarray, grad: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
            Fq = enc.features(Zq)
            if not grad:
                mean, var = gp.predict(Fq)
                value: np.ndarray = acqf.evaluate(mean, var)[0] + log_local_penalty(Fq, Fp, w, rho)[0]
                return value
            mean, var, dmean, dvar = gp.predict(Fq, grad_cols=n_num)
            val, dm, dv = acqf.evaluate(mean, var)
            pen, dpen = log_local_penalty(Fq, Fp, w, rho, grad_cols=n_num)
            return val + pen, dm[:, None] * dmean + dv[:, None] * dvar + dpen

        n = len(model.y)
        large = n > 300  # a cheaper schedule keeps an ask well under a second at AMT's 750 trials
        n_cand = self.n_candidates // 4 if large else self.n_candidates
        Zs, _ = optimize_acqf(
            enc,
            acq,
            rng,
            incumbents=model.top,
            n_candidates=n_cand,
            n_local=128 if large else 256,
            n_starts=4 if large else 6,
            relevance=np.exp(-model.hyper.log_ls) if enc.d > _HIGH_DIM else None,
            maxiter=50 if large else 100,
        )
        for z in Zs:
            if enc.key(z) not in seen:
                found: np.ndarray = z
                return found
        exhausted: np.ndarray = enc.from_unit_cube(rng.random((1, enc.d)))[0]  # the space is exhausted
        return exhausted
