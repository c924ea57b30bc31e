"""Early stopping (``core.early_stopping``): the median rule."""
from __future__ import annotations

import pytest
from tuner.core.early_stopping import median_rule


def test_median_rule_compares_with_running_averages_of_earlier_jobs():
    earlier = [[1.0, 0.8, 0.6], [1.2, 1.0, 0.8], [0.9, 0.7, 0.5]]
    # at step 2 the running averages are 0.9, 1.1, 0.8 -> median 0.9
    assert median_rule([3.0, 2.0], earlier, maximize=False) == (True, pytest.approx(0.9))
    assert median_rule([1.0, 0.85], earlier, maximize=False)[0] is False
    assert median_rule([1.0, 0.85], earlier, maximize=True)[0] is True
    # fewer than three earlier jobs reached the step: no decision
    assert median_rule([9.0, 9.0, 9.0, 9.0], earlier, maximize=False) == (False, None)
    assert median_rule([], earlier, maximize=False) == (False, None)
