"""The pure core: numpy/scipy only. No boto3, no AWS, no Lambda types.

numpy/scipy are imported only where a proposal is computed (``space.SearchSpace.to_unit``,
``strategies.base.trial_rng``, the strategy modules loaded by name, ``optimizer``): parsing,
validation, the median rule and Hyperband's rung decision run without them, as the functions
that do not propose do (``tests/unit/test_lean_imports.py``).
"""
