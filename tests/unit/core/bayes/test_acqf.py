"""Log expected improvement against fixed posteriors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tuner.core.bayes.acqf import LogEI, log_ei, log_h


def _h_naive(z: float) -> float:
    phi = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    Phi = 0.5 * math.erfc(-z / math.sqrt(2))
    return phi + z * Phi


def test_ei_matches_reference_value():
    # GIVEN mean -0.5, variance 1, best 0 (maximisation) THEN EI = 0.19780 (BoTorch's test value)
    value, _, _ = LogEI(best=0.0).evaluate(np.array([-0.5]), np.array([1.0]))
    assert math.exp(value[0]) == pytest.approx(0.19780, abs=1e-5)


@pytest.mark.parametrize("z", [-30.0, -10.0, -3.0, -1.0, -0.5, 0.0, 0.7, 4.0])
def test_log_h_matches_direct_formula(z):
    assert log_h(np.array([z]))[0] == pytest.approx(math.log(_h_naive(z)), rel=1e-9, abs=1e-9)


def test_log_h_is_finite_and_monotone_far_below_incumbent():
    z = np.linspace(-1e4, 5, 20001)
    lh = log_h(z)
    assert np.all(np.isfinite(lh))
    assert np.all(np.diff(lh) > 0)


@pytest.mark.parametrize(
    ("mean", "var", "best"), [(0.3, 0.5, 0.0), (-2.0, 0.01, 1.0), (-40.0, 1.0, 0.0), (1.0, 2.0, 1.0)]
)
def test_gradients_match_finite_differences(mean, var, best):
    m, v = np.array([mean]), np.array([var])
    _, dm, dv = log_ei(m, v, best)
    e = 1e-6
    num_m = (log_ei(m + e, v, best)[0] - log_ei(m - e, v, best)[0]) / (2 * e)
    num_v = (log_ei(m, v + e, best)[0] - log_ei(m, v - e, best)[0]) / (2 * e)
    assert dm[0] == pytest.approx(num_m[0], rel=1e-4)
    assert dv[0] == pytest.approx(num_v[0], rel=1e-4)


def test_local_penalty_vanishes_far_and_gradient_is_right():
    from tuner.core.bayes.acqf import log_local_penalty

    rng = np.random.default_rng(0)
    Fp = rng.random((3, 2))
    w = np.array([4.0, 9.0])
    far, _ = log_local_penalty(Fp + 5.0, Fp, w, 0.25)
    near, _ = log_local_penalty(Fp + 1e-4, Fp, w, 0.25)
    assert np.all(far > -1e-9) and np.all(near < -10)
    Fq = rng.random((4, 2))
    _, g = log_local_penalty(Fq, Fp, w, 0.25, grad_cols=2)
    for c in range(2):
        h = np.zeros(2)
        h[c] = 1e-6
        num = (log_local_penalty(Fq + h, Fp, w, 0.25)[0] - log_local_penalty(Fq - h, Fp, w, 0.25)[0]) / 2e-6
        assert np.allclose(g[:, c], num, rtol=1e-4, atol=1e-6)
