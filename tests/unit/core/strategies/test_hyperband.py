"""Hyperband (``core.strategies.hyperband``): resources, rungs and the ASHA stop rule."""
from __future__ import annotations

import pytest
from tuner.core.strategies.hyperband import CONTINUE, STOP, asha_decision, resources, rungs
from tuner.errors import ValidationError


def test_resources_inferred_from_epochs_and_checked():
    assert resources({}, {"epochs": "9"}) == (1, 9)
    assert resources({"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 27}}, {}) == (2, 27)
    assert resources({"HyperbandStrategyConfig": {"MinResource": 3}}, {"num_epochs": "30"}) == (3, 30)
    with pytest.raises(ValidationError, match="MaxResource"):
        resources({}, {"learning_rate": "0.1"})
    with pytest.raises(ValidationError, match="MinResource"):
        resources({"HyperbandStrategyConfig": {"MinResource": 10}}, {"epochs": "5"})
    assert rungs(1, 27) == [1, 3, 9]
    assert rungs(2, 9) == [2, 6]


def test_asha_never_stops_before_min_resource_and_keeps_the_top_third():
    others = [[5.0, 4.0, 3.0], [1.0, 0.5, 0.4], [2.0, 1.5, 1.0]]
    assert asha_decision([9.0], 0, others, False, 2, 9)[0] == CONTINUE  # below MinResource
    decision, rung, _ = asha_decision([9.0, 8.0], 0, others, False, 2, 9)
    assert (decision, rung) == (STOP, 2)
    decision, rung, _ = asha_decision([0.4, 0.3], 0, others, False, 2, 9)
    assert (decision, rung) == (CONTINUE, 2)
    assert asha_decision([0.4, 0.3, 0.2], 2, others, False, 2, 9)[0] == CONTINUE  # no new rung
    assert asha_decision([0.1] * 9, 6, others, False, 2, 9)[0] == STOP  # MaxResource reached
    assert asha_decision([3.0, 4.0], 0, [], True, 2, 9)[0] == CONTINUE  # alone at the rung
