"""Run the tuner's engine on the built layers alone, with Lambda's Python (CPython 3.12).

    python3.12 -S layers/engine_smoke.py build/layers/scientific/python layers/tuner/python

``-S``: no site-packages, so numpy and scipy come from the trimmed scientific layer only and
``tuner`` from the tuner layer. Every strategy proposes once from a mixed space (the Bayesian one
with and without input warping, with a pending trial: GP fit, acquisition optimisation, fantasies),
which imports and runs everything of scipy the proposer uses. Prints the scipy subpackages loaded;
any missing module (trimmed too far) fails with its traceback. ``layers/build.py`` runs it after
trimming; ``tests/infra/test_layers.py`` runs it again.
"""
from __future__ import annotations

import sys

sys.path[:0] = sys.argv[1:]

import numpy as np  # noqa: E402
from tuner.core.space import SearchSpace  # noqa: E402
from tuner.core.strategies import Observation, make_strategy  # noqa: E402

space = SearchSpace.from_ranges({
    "ContinuousParameterRanges": [
        {"Name": "a", "MinValue": "0", "MaxValue": "1"},
        {"Name": "b", "MinValue": "1e-4", "MaxValue": "1", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [{"Name": "i", "MinValue": "1", "MaxValue": "64"}],
    "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y", "z"]}],
})
rng = np.random.default_rng(0)
observations = []
for n in range(1, 41):
    cfg = space.from_unit(rng.random(space.dim))
    u = space.to_unit(cfg)
    observations.append(Observation(cfg, float(np.sum((u - 0.3) ** 2)), n))
for config in ({}, {"input_warping": True}):
    make_strategy("Bayesian", space, maximize=False, seed=1, config=config).propose(
        41, observations, [space.from_unit(rng.random(space.dim))]
    )
for name in ("Random", "Hyperband"):
    make_strategy(name, space, maximize=False, seed=1).propose(41, observations, [])
subpackages = {m.split(".")[1] for m in sys.modules if m.startswith("scipy.")}
loaded = sorted(s for s in subpackages if not s.startswith("_"))
print("engine ran on the layers; scipy subpackages loaded: " + ", ".join(loaded))
