"""Bayesian optimisation engine (pure core: numpy/scipy only).

Split by concern, as in Optuna's ``_gp`` and BoTorch's models/acquisition/optim:

- ``encoding``: configurations <-> the GP's numeric space (unit cube, integer cells, one-hot categoricals)
- ``design``: scrambled Halton points (initial design and acquisition candidates)
- ``gp``: Matern-5/2 ARD Gaussian process, MAP fit of its hyperparameters, output transform
- ``acqf``: numerically stable log expected improvement
- ``optim``: acquisition optimiser (quasi-random candidates, L-BFGS-B, discrete coordinate search)
- ``strategy``: ``BayesianStrategy``, the only module that wires the others together

scipy is imported lazily inside functions so that importing the strategy stays cheap.
"""
