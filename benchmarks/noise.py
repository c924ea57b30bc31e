"""Does the engine learn the noise level, and does its pick beat the best observed on a noisy objective?

    python -m benchmarks.noise                     # the 3 noisy problems, 10 seeds, 64 evaluations in batches of 4
    python -m benchmarks.noise --seeds 3 --problems hartmann6_noisy
    python -m benchmarks.noise --history random    # scattered configurations instead of the engine's own

For each noisy problem and seed, this engine runs as in the suite (``benchmarks.run``: the same
adapter, noise stream and batches), or with ``--history random`` is told as many configurations
drawn uniformly at random (as from a random search); then, on that history:

- the true noise share: the mean noise variance of the observed configurations
  (``Problem.noise_sd``) over the variance of the observed values;
- the model's noise share (``Optimizer.pick``: the fitted noise variance over noise plus signal
  variance, in the model's standardised units; the two shares measure the same thing on different
  scales, so compare their order of magnitude, not their digits);
- the noiseless value (``Problem.objective``) of the model's pick and of the best observed
  configuration (what AMT's describe reports), and how often the pick is better, equal or worse.
"""

from __future__ import annotations

import argparse

import numpy as np
from tuner.core.space import SearchSpace

from benchmarks.adapters import Ours
from benchmarks.problems import all_problems
from benchmarks.run import noise_stream

NOISY = ("hartmann6_noisy", "levy5_mixed_noisy", "catcont5_noisy")


def run_one(problem, seed: int, budget: int, batch: int, history: str = "engine") -> dict[str, float]:
    """One run of this engine as ``benchmarks.run`` makes it (``history="engine"``), or ``budget``
    uniformly random configurations told to it (``"random"``), then what its model says of them."""
    opt = Ours(problem.ranges, seed)
    rng = noise_stream(problem.name, seed)
    space = SearchSpace.from_ranges(problem.ranges)
    draws = np.random.default_rng([seed, 104729])
    told = 0
    while told < budget:
        n = min(batch, budget - told)
        if history == "random":
            configs = [space.from_unit(draws.random(space.dim)) for _ in range(n)]
        else:
            configs = opt.ask(n)
        opt.tell(configs, [problem.observe(c, rng) for c in configs])
        told += len(configs)
    observations = opt.opt.observations
    values = np.array([float(o.value) for o in observations])
    noise_var = np.array([problem.noise_sd(o.params) ** 2 for o in observations])
    pick = opt.opt.pick()
    best = opt.opt.best
    assert pick is not None and best is not None
    return {
        "true_share": float(np.mean(noise_var) / np.var(values)),
        "model_share": float(pick[2]),
        "pick": float(problem.objective(pick[0])),
        "best_observed": float(problem.objective(best[0])),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default=",".join(NOISY))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--history", choices=("engine", "random"), default="engine",
                    help="the engine's own proposals (default), or uniformly random configurations")
    a = ap.parse_args(argv)
    by_name = {p.name: p for p in all_problems()}
    names = a.problems.split(",")
    unknown = [n for n in names if n not in by_name or by_name[n].noise_sd is None]
    if unknown:
        ap.error(f"not noisy problems of the suite: {unknown}; choose from {', '.join(NOISY)}")
    made = f"in batches of {a.batch}" if a.history == "engine" else "drawn uniformly at random"
    print(f"{a.budget} evaluations {made}, {a.seeds} seeds; noiseless values (minimised), mean over seeds")
    print("| problem | true noise share | model's noise share | f(pick) | f(best observed) "
          "| pick better / equal / worse |")
    print("|---|---|---|---|---|---|")
    for name in names:
        rows = [run_one(by_name[name], s, a.budget, a.batch, a.history) for s in range(a.seeds)]
        col = {k: np.array([r[k] for r in rows]) for k in rows[0]}
        diff = col["best_observed"] - col["pick"]  # > 0: the pick is better (lower)
        tol = 1e-9 * max(1.0, float(np.max(np.abs(col["best_observed"]))))
        better, worse = int(np.sum(diff > tol)), int(np.sum(diff < -tol))
        print(f"| {name} | {col['true_share'].mean():.3f} | {col['model_share'].mean():.3f} | "
              f"{col['pick'].mean():.4g} | {col['best_observed'].mean():.4g} | "
              f"{better} / {len(rows) - better - worse} / {worse} |")


if __name__ == "__main__":
    main()
