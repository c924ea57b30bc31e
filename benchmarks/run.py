"""Run the side-by-side benchmark: every (problem, optimiser, seed) in parallel worker processes.

    python -m benchmarks.run --budget 64 --batch 4 --seeds 10 --workers 2 --out benchmarks/results/full.jsonl
    python -m benchmarks.report benchmarks/results/full.jsonl

Each run writes one JSON line: the values in evaluation order and the time of every ask.
Runs already in the output file (same problem, optimiser, seed and batch) are skipped, so an
interrupted benchmark resumes and one file can hold several batch sizes.

On a noisy problem ``values`` are what the optimiser saw (noise drawn from a generator seeded by
the problem and the seed) and ``true_values`` the noiseless values of the same configurations;
an adapter that reports its own pick (``reported_best()``, e.g. a model's posterior-mean choice)
has the noiseless value of that pick recorded after every batch in ``picks`` as
``[evaluations so far, value]``. Without one, a run reports its best observed configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def noise_stream(problem_name: str, seed: int) -> np.random.Generator:
    """The random stream of a noisy problem's observation noise: it depends on the problem and the
    seed only (not on the optimiser), so every optimiser meets the same noise."""
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(problem_name.encode())])


def run_one(problem_name: str, optimizer: str, seed: int, budget: int, batch: int) -> dict:
    from benchmarks.adapters import OPTIMIZERS
    from benchmarks.problems import all_problems

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    problem = next(p for p in all_problems() if p.name == problem_name)
    opt = OPTIMIZERS[optimizer](problem.ranges, seed)
    rng = noise_stream(problem_name, seed)
    values: list[float] = []
    true_values: list[float] = []
    picks: list[list[float]] = []
    ask_times: list[float] = []
    configs: list[dict[str, str]] = []
    while len(values) < budget:
        n = min(batch, budget - len(values))
        t0 = time.perf_counter()
        cfgs = opt.ask(n)
        ask_times.append((time.perf_counter() - t0) / max(1, len(cfgs)))
        if problem.noise_sd is None:
            vals = [problem.objective(c) for c in cfgs]
        else:
            true_values += [problem.objective(c) for c in cfgs]
            vals = [problem.observe(c, rng) for c in cfgs]
        opt.tell(cfgs, vals)
        values += vals
        configs += cfgs
        if problem.noise_sd is not None and hasattr(opt, "reported_best"):
            picks.append([len(values), problem.objective(opt.reported_best())])
    out = {
        "problem": problem_name,
        "kind": problem.kind,
        "optimizer": optimizer,
        "seed": seed,
        "budget": budget,
        "batch": batch,
        "values": values,
        "ask_times": ask_times,
        "duplicates": len(configs) - len({tuple(sorted(c.items())) for c in configs}),
    }
    if problem.noise_sd is not None:
        out["true_values"] = true_values
        if picks:
            out["picks"] = picks
    return out


def _task(args):
    try:
        return run_one(*args)
    except Exception:  # keep the benchmark going; report the failure
        return {
            "problem": args[0],
            "optimizer": args[1],
            "seed": args[2],
            "batch": args[4],
            "error": traceback.format_exc(),
        }


def main(argv: list[str] | None = None) -> None:
    from benchmarks.adapters import OPTIMIZERS
    from benchmarks.problems import all_problems

    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--problems",
        default="all",
        help="comma-separated names, or all, or a kind (synthetic, high-dim, noisy, sklearn)",
    )
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--out", default="benchmarks/results/results.jsonl")
    a = ap.parse_args(argv)
    probs = all_problems()
    kinds = {p.kind for p in probs}
    if a.problems in kinds:
        probs = [p for p in probs if p.kind == a.problems]
    elif a.problems != "all":
        names = a.problems.split(",")
        unknown = sorted(set(names) - {p.name for p in probs})
        if unknown:
            ap.error(f"unknown problem(s): {', '.join(unknown)}")
        probs = [p for p in probs if p.name in names]
    unknown = sorted(set(a.optimizers.split(",")) - set(OPTIMIZERS))
    if unknown:
        ap.error(f"unknown optimizer(s): {', '.join(unknown)}; known: {', '.join(OPTIMIZERS)}")
    done = set()
    if os.path.exists(a.out):
        with open(a.out) as f:
            for line in f:
                r = json.loads(line)
                if "error" not in r:
                    done.add((r["problem"], r["optimizer"], r["seed"], r.get("batch", 4)))
    tasks = [
        (p.name, o, s, a.budget, a.batch)
        for s in range(a.seeds)
        for p in probs
        for o in a.optimizers.split(",")
        if (p.name, o, s, a.batch) not in done
    ]
    # the slow optimisers first, so the pool's tail is short
    slow = {"optuna_gp": 0, "skopt_gp": 1, "ours": 2}
    tasks.sort(key=lambda t: (t[2], slow.get(t[1], 3)))
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    t0 = time.time()
    print(f"{len(tasks)} runs", flush=True)
    if a.workers > 1:
        from multiprocessing import get_context

        pool = get_context("spawn").Pool(a.workers, maxtasksperchild=20)
        results = pool.imap_unordered(_task, tasks)
    else:
        results = map(_task, tasks)
    with open(a.out, "a") as f:
        for i, r in enumerate(results):
            f.write(json.dumps(r) + "\n")
            f.flush()
            status = "ERROR" if "error" in r else f"best={min(r['values']):.4g}"
            print(
                f"[{i + 1}/{len(tasks)} {time.time() - t0:.0f}s] {r['problem']} {r['optimizer']}"
                f" seed={r['seed']} batch={a.batch} {status}",
                flush=True,
            )


if __name__ == "__main__":
    main()
