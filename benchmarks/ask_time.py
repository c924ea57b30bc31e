"""Time per ask at AMT's maxima (750 observations, 30 parameters) on one core, and the cold import.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.ask_time --n 750 --repeats 20
    python -m benchmarks.ask_time --n 750 --pending 99 --repeats 5     # 100 in parallel

The space mixes 20 continuous (linear, log, reverse-log), 5 integer and 5 categorical parameters;
the history is random with a smooth objective and a few failed trials; every ask also sees 9
pending trials (MaxParallelTrainingJobs = 10).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402


def space_30() -> dict:
    cont = []
    for i in range(20):
        if i % 4 == 0:
            cont.append({"Name": f"c{i}", "MinValue": "1e-5", "MaxValue": "1", "ScalingType": "Logarithmic"})
        elif i % 4 == 1:
            cont.append(
                {"Name": f"c{i}", "MinValue": "0.5", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}
            )
        else:
            cont.append({"Name": f"c{i}", "MinValue": "-1", "MaxValue": "1", "ScalingType": "Linear"})
    ints = [{"Name": f"i{i}", "MinValue": "1", "MaxValue": "256", "ScalingType": "Auto"} for i in range(5)]
    cats = [{"Name": f"k{i}", "Values": [f"v{j}" for j in range(5)]} for i in range(5)]
    return {
        "ContinuousParameterRanges": cont,
        "IntegerParameterRanges": ints,
        "CategoricalParameterRanges": cats,
    }


def cold_import_seconds(modules: str) -> tuple[float, float]:
    """(wall, CPU) seconds to import ``modules`` in a fresh interpreter, median of 3."""
    code = (
        "import time; t, c = time.perf_counter(), time.process_time(); import "
        + modules
        + "; print(time.perf_counter() - t, time.process_time() - c)"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        runs.append([float(x) for x in out.stdout.split()])
    wall, cpu = np.median(np.array(runs), axis=0)
    return float(wall), float(cpu)


def main(argv: list[str] | None = None) -> None:
    from tuner.core.space import SearchSpace
    from tuner.core.strategies import Observation, make_strategy

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=750)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--pending", type=int, default=9)
    a = ap.parse_args(argv)
    space = SearchSpace.from_ranges(space_30())
    rng = np.random.default_rng(0)
    strat = make_strategy("Bayesian", space, maximize=False, seed=0)
    obs = []
    for t in range(1, a.n + 1):
        cfg = space.from_unit(rng.random(space.dim))
        u = space.to_unit(cfg)
        val = (
            None
            if rng.random() < 0.03
            else float(np.sum((u[:10] - 0.3) ** 2) + 0.1 * np.sin(5 * u[10:20]).sum())
        )
        obs.append(Observation(cfg, val, t))
    pending = [space.from_unit(rng.random(space.dim)) for _ in range(a.pending)]
    t0, c0 = time.perf_counter(), time.process_time()
    strat.propose(a.n + a.pending, obs, pending)  # the first ask: fits from scratch (scipy imported)
    first = (time.perf_counter() - t0, time.process_time() - c0)
    times, cpu = [], []
    for r in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        strat.propose(a.n + a.pending + 1 + r, obs, pending)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t, c = np.array(times), np.array(cpu)
    print(f"ask with {a.n} observations, {space.dim} parameters, {a.pending} pending, {a.repeats} repeats:")
    print(f"  wall time: median {np.median(t):.3f} s, p95 {np.percentile(t, 95):.3f} s, max {t.max():.3f} s")
    print(
        f"  CPU time (one thread; what a dedicated core would take): median {np.median(c):.3f} s, "
        f"p95 {np.percentile(c, 95):.3f} s, max {c.max():.3f} s"
    )
    print(f"  first ask (hyperparameters fitted from scratch): wall {first[0]:.3f} s, CPU {first[1]:.3f} s")
    print(f"  peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"  load average during the measurement: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for mods in (
        "tuner.core.bayes.strategy",
        "tuner.core.bayes.strategy, scipy.linalg, scipy.optimize, scipy.special",
    ):
        wall, cpu = cold_import_seconds(mods)
        print(f"cold import of {mods} (median of 3): wall {wall:.3f} s, CPU {cpu:.3f} s")


if __name__ == "__main__":
    main()
