"""GP fit sanity: gradients, recovery of a smooth function, robustness, output transform."""

from __future__ import annotations

import numpy as np
import pytest
from tuner.core.bayes.encoding import Encoding
from tuner.core.bayes.gp import (
    GP,
    Hyper,
    OutputTransform,
    conditioning_subset,
    fit_hyper,
    neg_log_posterior,
    prior_mode,
)
from tuner.core.space import SearchSpace

SPACE = SearchSpace.from_ranges(
    {
        "ContinuousParameterRanges": [
            {"Name": "a", "MinValue": "0", "MaxValue": "1"},
            {"Name": "b", "MinValue": "1e-3", "MaxValue": "1", "ScalingType": "Logarithmic"},
        ],
        "IntegerParameterRanges": [{"Name": "i", "MinValue": "1", "MaxValue": "20"}],
        "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y", "z"]}],
    }
)
ENC = Encoding.from_space(SPACE)


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    Z = ENC.from_unit_cube(rng.random((n, ENC.d)))
    y = np.sin(6 * Z[:, 0]) + (Z[:, 1] - 0.3) ** 2 + 0.5 * (Z[:, 3] == 1) - 0.2 * Z[:, 2]
    return Z, ENC.features(Z), y


@pytest.mark.parametrize("n_warp", [0, 3])
def test_log_posterior_gradient_matches_finite_differences(n_warp):
    _, F, y = _data(25)
    theta = prior_mode(ENC.d, n_warp).vector()
    theta = theta + np.random.default_rng(1).normal(size=theta.size) * 0.3
    args = (F, y, ENC.col_param, ENC.col_scale, ENC.d)
    _, g = neg_log_posterior(theta, *args)
    e = 1e-6
    num = [
        (neg_log_posterior(theta + h, *args)[0] - neg_log_posterior(theta - h, *args)[0]) / (2 * e)
        for h in np.eye(len(theta)) * e
    ]
    assert np.allclose(g, num, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("warped", [False, True])
def test_predictive_gradients_match_finite_differences(warped):
    _, F, y = _data(20)
    hyper = prior_mode(ENC.d, 3)
    if warped:
        hyper = Hyper(
            hyper.log_ls,
            hyper.log_s2,
            hyper.log_noise,
            0.1,
            np.array([0.3, -0.5, 0.2]),
            np.array([-0.2, 0.4, 0.1]),
        )
    else:
        hyper = prior_mode(ENC.d)
    gp = GP(F, y, hyper, ENC.col_param, ENC.col_scale)
    _, Fq, _ = _data(5, seed=3)
    _, _, dm, dv = gp.predict(Fq, grad_cols=3)
    for c in range(3):
        h = np.zeros(Fq.shape[1])
        h[c] = 1e-6
        (m1, v1), (m0, v0) = gp.predict(Fq + h), gp.predict(Fq - h)
        assert np.allclose((m1 - m0) / 2e-6, dm[:, c], atol=1e-5)
        assert np.allclose((v1 - v0) / 2e-6, dv[:, c], atol=1e-5)


@pytest.mark.parametrize("n_warp", [0, 3])
def test_fit_recovers_a_smooth_function(n_warp):
    # GIVEN 60 noiseless observations WHEN the GP is fit THEN it predicts held-out points well
    _, F, y = _data(60)
    hyper = fit_hyper(F, y, ENC.col_param, ENC.col_scale, ENC.d, n_warp=n_warp)
    assert hyper.log_a.size == n_warp
    gp = GP(F, y, hyper, ENC.col_param, ENC.col_scale)
    _, Fq, yq = _data(200, seed=7)
    mean, var = gp.predict(Fq)
    assert np.corrcoef(mean, yq)[0, 1] > 0.95
    assert np.exp(hyper.log_noise) < 0.05
    assert np.all(var > 0)
    # the irrelevant-ish integer has a longer lengthscale than the oscillating coordinate
    assert hyper.log_ls[2] > hyper.log_ls[0]


@pytest.mark.parametrize("case", ["duplicates", "constant", "two_points"])
def test_fit_never_raises(case):
    Z, F, y = _data(12)
    if case == "duplicates":
        F, y = np.vstack([F, F]), np.concatenate([y, y + 1e-9])
    elif case == "constant":
        y = np.zeros_like(y)
    else:
        F, y = F[:2], y[:2]
    hyper = fit_hyper(F, y, ENC.col_param, ENC.col_scale, ENC.d)
    assert isinstance(hyper, Hyper) and np.all(np.isfinite(hyper.vector()))
    mean, var = GP(F, y, hyper, ENC.col_param, ENC.col_scale).predict(F)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(var))


def test_output_transform_tames_heavy_tails():
    rng = np.random.default_rng(0)
    y = np.exp(rng.normal(size=200) * 2.5)  # lognormal: a few huge values
    t = OutputTransform.fit(y)(y)
    skew = lambda a: float(np.mean(((a - a.mean()) / a.std()) ** 3))  # noqa: E731
    assert abs(skew(t)) < 1.0 < 3.0 < abs(skew(y))
    assert np.all(np.diff(t[np.argsort(y)]) >= 0)  # order preserved
    assert abs(t.mean()) < 1e-9 and t.std() == pytest.approx(1.0)


def test_a_long_history_is_conditioned_on_the_best_and_a_space_filling_rest():
    Z, F, y = _data(600)
    hyper = fit_hyper(F[:80], y[:80], ENC.col_param, ENC.col_scale, ENC.d, maxiter=30, starts=1)
    assert list(conditioning_subset(F, y, hyper, ENC.col_param, ENC.col_scale, 600, 50)) == list(range(600))
    keep = conditioning_subset(F, y, hyper, ENC.col_param, ENC.col_scale, 120, 40)
    assert len(keep) == 120 and list(keep) == sorted(set(keep.tolist()))
    best = np.argsort(-y, kind="stable")[:40]
    assert set(best) <= set(keep)
    # the rest spreads out: its closest pair is farther apart than a random subset's of the same size
    from tuner.core.bayes.gp import sq_dist

    w = np.exp(-2.0 * hyper.log_ls[ENC.col_param]) * ENC.col_scale

    def closest_pair(idx: np.ndarray) -> float:
        r2 = sq_dist(F[idx], F[idx], w)
        np.fill_diagonal(r2, np.inf)
        return float(r2.min())

    rest = np.setdiff1d(keep, best)
    others = np.setdiff1d(np.arange(600), best)
    random_rest = np.random.default_rng(1).choice(others, len(rest), replace=False)
    assert closest_pair(rest) > 2 * closest_pair(random_rest)


def test_the_strategy_conditions_its_gp_on_at_most_the_cap(monkeypatch):
    from tuner.core.bayes import strategy as strategy_module
    from tuner.core.strategies import Observation, make_strategy

    monkeypatch.setattr(strategy_module, "_MAX_GP_POINTS", 60)
    monkeypatch.setattr(strategy_module, "_KEEP_BEST", 20)
    Z, _, y = _data(200)
    observations = [Observation(ENC.config(z), float(v), t) for t, (z, v) in enumerate(zip(Z, y, strict=True), 1)]
    bo = make_strategy("Bayesian", SPACE, maximize=True, seed=0)
    Zh, values = bo._history(observations)
    model = bo._fit(Zh, values)
    assert len(model.y) == 60 and model.gp.L.shape == (60, 60)
    assert model.best == pytest.approx(float(np.max(model.y)))  # the best observation is conditioned on
    proposal = bo.propose(201, observations)
    assert set(proposal) == {"a", "b", "i", "c"}
