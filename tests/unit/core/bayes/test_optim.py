"""The high-dimension settings: local candidates steered by relevance, the initial design's size, EI's margin."""

from __future__ import annotations

import numpy as np
import pytest
from tuner.core.bayes.design import initial_design_size
from tuner.core.bayes.encoding import Encoding
from tuner.core.bayes.optim import local_candidates
from tuner.core.space import SearchSpace


def encoding(d: int) -> Encoding:
    cont = [{"Name": f"c{i}", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"} for i in range(d - 1)]
    cats = [{"Name": "k", "Values": ["a", "b", "c"]}]
    return Encoding.from_space(
        SearchSpace.from_ranges({"ContinuousParameterRanges": cont, "CategoricalParameterRanges": cats})
    )


@pytest.mark.parametrize(("d", "size"), [(1, 5), (3, 5), (4, 6), (6, 8), (7, 8), (10, 8), (30, 8)])
def test_initial_design_grows_with_the_dimension_up_to_eight(d, size):
    assert initial_design_size(d) == size
    assert initial_design_size(d, override=3) == 3


def test_local_candidates_without_relevance_move_coordinates_uniformly():
    enc = encoding(20)
    centre = np.full((1, enc.d), 0.5)
    centre[0, enc.cat_idx] = 0
    Z = local_candidates(enc, centre, 4000, np.random.default_rng(0))
    moved = (Z != centre).mean(0)
    assert np.all(np.abs(moved[enc.num_idx] - 0.2) < 0.03)  # max(2/d, 0.2) of the coordinates
    assert np.all(Z[:, enc.num_idx] >= 0) and np.all(Z[:, enc.num_idx] <= 1)


def test_relevance_steers_half_the_candidates_to_the_relevant_coordinates():
    enc = encoding(20)
    centre = np.full((1, enc.d), 0.5)
    centre[0, enc.cat_idx] = 0
    relevance = np.full(enc.d, 0.01)
    relevance[:2] = 1.0  # two coordinates matter
    Z = local_candidates(enc, centre, 4000, np.random.default_rng(0), relevance)
    moved = Z != centre
    weighted, uniform = moved[0::2], moved[1::2]
    # the weighted half moves the relevant coordinates almost always and the others rarely
    assert weighted[:, :2].mean() > 0.95 and weighted[:, 2:-1].mean() < 0.05
    assert np.abs(uniform[:, :-1].mean() - 0.2) < 0.03  # the other half as without relevance
    # no more moves than without relevance (the weighted probabilities are capped at 1)
    assert 1.0 <= weighted.sum(1).mean() <= uniform.sum(1).mean()
    # deterministic for a given generator
    again = local_candidates(enc, centre, 4000, np.random.default_rng(0), relevance)
    assert np.array_equal(Z, again)


def test_ei_margin_is_wider_above_eight_parameters_unless_configured():
    from tuner.core.bayes.strategy import BayesianStrategy

    def strategy(d: int, config: dict | None = None) -> BayesianStrategy:
        return BayesianStrategy(encoding(d).space, maximize=False, seed=0, config=config)

    assert strategy(8).xi == 0.01 and strategy(9).xi == 0.05 and strategy(30).xi == 0.05
    assert strategy(30, {"xi": 0.02}).xi == 0.02
    assert strategy(6).n_init == 8 and strategy(30).n_init == 8
