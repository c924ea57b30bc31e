"""Time per ask at AMT's maxima (750 observations, 30 parameters) under Lambda's conditions, and
the cold import.

    python -m benchmarks.ask_time                         # 750 and 1,500 observations, Lambda's conditions
    python -m benchmarks.ask_time --n 750 --pending 99    # 100 in parallel
    python -m benchmarks.ask_time --conditions dedicated  # one thread on an idle, dedicated core
    python -m benchmarks.ask_time --n 750 --batch 10      # a batch of 10 in one ask (Optimizer.ask(10))

Lambda's conditions (the default): the proposer function (``next_trial``) gets one vCPU of CPU time
at 1,769 MB but its sandbox shows more cores, so the measuring process sees every core of this
machine while a competing busy process takes one of them (one core's worth is left), and its
environment holds the function's variables as the synthesized template sets them (the thread
counts of OpenMP/OpenBLAS/MKL: ``tuner.constants.THREAD_VARIABLES``). The same run with the
libraries' default thread counts (one per visible core: what the template set before) is printed
beside it, in the same run, as a ratio. The first ask of a fresh process (a cold container: the GP's
hyperparameters fitted from scratch) is reported apart from the warm asks.

The space mixes 20 continuous (linear, log, reverse-log), 5 integer and 5 categorical parameters;
the history is random with a smooth objective and a few failed trials; every ask also sees 9
pending trials (MaxParallelTrainingJobs = 10). The service asks for one configuration at a time
(each NextTrial sees the others pending); ``--batch 10`` times instead one ask for 10
configurations, as the Python client's ``Optimizer.ask(10)`` makes (one fit, ten points), with no
other pending trials.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
from tuner import constants

#: The goals of the performance issue: p95 of a warm ask, in seconds, by number of observations.
GOALS = {750: 1.0, 1500: 2.0}
#: The engine issue's goal for one ask of a batch of 10 at 750 observations, in seconds.
BATCH_GOALS = {(750, 10): 2.0}


def goal(n: int, batch: int) -> float | None:
    return GOALS.get(n) if batch == 1 else BATCH_GOALS.get((n, batch))


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


def measure(n: int, repeats: int, pending_count: int, batch: int = 1) -> dict[str, Any]:
    """Time ``repeats`` warm asks (each for ``batch`` configurations) after a first (cold) one, in
    this process."""
    from tuner.core.space import SearchSpace
    from tuner.core.strategies import Observation, make_strategy

    space = SearchSpace.from_ranges(space_30())
    rng = np.random.default_rng(0)
    strat = make_strategy("Bayesian", space, maximize=False, seed=0)
    obs = []
    for trial in range(1, n + 1):
        cfg = space.from_unit(rng.random(space.dim))
        u = space.to_unit(cfg)
        val = None if rng.random() < 0.03 else float(np.sum((u[:10] - 0.3) ** 2) + 0.1 * np.sin(5 * u[10:20]).sum())
        obs.append(Observation(cfg, val, trial))
    pending = [space.from_unit(rng.random(space.dim)) for _ in range(pending_count)]
    def ask(trial: int) -> None:
        proposed = strat.propose_batch(trial, batch, obs, pending)
        assert len(proposed) == batch

    t0, c0 = time.perf_counter(), time.process_time()
    ask(n + pending_count)  # the first ask: fits from scratch (scipy imported)
    first = (time.perf_counter() - t0, time.process_time() - c0)
    times, cpu = [], []
    for r in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        ask(n + pending_count + batch * (1 + r))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t, c = np.array(times), np.array(cpu)
    return {
        "n": n, "dim": space.dim, "pending": pending_count, "batch": batch, "repeats": repeats,
        "median": float(np.median(t)), "p95": float(np.percentile(t, 95)), "max": float(t.max()),
        "cpu_median": float(np.median(c)), "cpu_p95": float(np.percentile(c, 95)),
        "first_wall": first[0], "first_cpu": first[1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": {v: os.environ.get(v, "(default)") for v in constants.THREAD_VARIABLES},
    }


def template_environment(function: str = "next_trial") -> dict[str, str]:
    """The function's literal environment variables in the synthesized template (synthesized if needed)."""
    from tuner.local.deploy import synthesize

    assembly = synthesize()
    template = json.loads((assembly / f"{constants.DEFAULT_STACK_NAME}.template.json").read_text())
    for resource_ in template["Resources"].values():
        props = resource_.get("Properties") or {}
        if resource_.get("Type") == "AWS::Lambda::Function" and props.get("Description") == constants.LAMBDAS[function]:
            variables = (props.get("Environment") or {}).get("Variables") or {}
            return {k: v for k, v in variables.items() if isinstance(v, str)}
    raise SystemExit(f"no {function} function in the synthesized template")


def run_worker(
    n: int, repeats: int, pending: int, env: dict[str, str], cores: set[int] | None, batch: int = 1
) -> dict[str, Any]:
    """``measure`` in a fresh interpreter (a cold container) with ``env`` and CPU affinity ``cores``."""
    def pin() -> None:
        if cores is not None:
            os.sched_setaffinity(0, cores)

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ask_time", "--worker", "--n", str(n), "--repeats", str(repeats),
         "--pending", str(pending), "--batch", str(batch)],
        capture_output=True, text=True, check=True, env=env, preexec_fn=pin,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def conditions_env(threads: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in constants.THREAD_VARIABLES}
    env.update(threads or {})
    return env


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, action="append", help="observations (repeatable; default 750 and 1500)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--pending", type=int, default=None, help="pending trials (default 9, or 0 with --batch)")
    ap.add_argument("--batch", type=int, default=1, help="configurations per ask (default 1)")
    ap.add_argument("--conditions", choices=("lambda", "dedicated"), default="lambda")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    sizes = a.n or ([750] if a.batch > 1 else [750, 1500])
    if a.pending is None:
        a.pending = 9 if a.batch == 1 else 0
    if a.worker:
        print(json.dumps(measure(sizes[0], a.repeats, a.pending, a.batch)))
        return
    cores = os.sched_getaffinity(0)
    rows: list[tuple[str, dict[str, Any]]] = []
    if a.conditions == "dedicated":
        env = conditions_env({v: "1" for v in constants.THREAD_VARIABLES})
        rows += [
            ("one thread, one idle core", run_worker(n, a.repeats, a.pending, env, {min(cores)}, a.batch))
            for n in sizes
        ]
        describe = "one thread on one dedicated, idle core"
    else:
        template = template_environment()
        threads = {k: v for k, v in template.items() if k in constants.THREAD_VARIABLES}
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for n in sizes:
                for label, env_threads in (("template", threads), ("default threads", None)):
                    env = conditions_env(env_threads)
                    rows.append((label, run_worker(n, a.repeats, a.pending, env, None, a.batch)))
        finally:
            busy.kill()
        shown = ", ".join(f"{k}={v}" for k, v in threads.items()) or "none set"
        describe = (f"Lambda's conditions: {len(cores)} visible cores, one taken by a busy process; "
                    f"next_trial's thread settings from the synthesized template: {shown}")
    per_ask = "one configuration" if a.batch == 1 else f"a batch of {a.batch} configurations"
    print(f"ask time, 30 parameters, {per_ask} per ask, {a.pending} pending, {a.repeats} warm asks after a cold one;"
          f" {describe}")
    print(f"{'observations':>12}  {'threads':<16} {'median s':>9} {'p95 s':>7} {'max s':>7} {'goal p95':>9}"
          f" {'cold ask s':>10} {'peak MB':>8}")
    by_n: dict[int, dict[str, float]] = {}
    for label, r in rows:
        target = goal(r["n"], a.batch)
        verdict = "" if target is None else f"<= {target:.1f} " + ("ok" if r["p95"] <= target else "MISSED")
        print(f"{r['n']:>12}  {label:<16} {r['median']:>9.3f} {r['p95']:>7.3f} {r['max']:>7.3f} {verdict:>9}"
              f" {r['first_wall']:>10.3f} {r['peak_rss_mb']:>8.0f}")
        by_n.setdefault(r["n"], {})[label] = r["p95"]
    for n, p95 in by_n.items():
        if "template" in p95 and "default threads" in p95:
            print(f"  at {n}: default threads' p95 is {p95['default threads'] / p95['template']:.1f}x the template's")
    for mods in (
        "tuner.core.bayes.strategy",
        "tuner.core.bayes.strategy, scipy.linalg, scipy.optimize, scipy.special",
    ):
        wall, cpu = cold_import_seconds(mods)
        print(f"cold import of {mods} (median of 3): wall {wall:.3f} s, CPU {cpu:.3f} s")


if __name__ == "__main__":
    main()
