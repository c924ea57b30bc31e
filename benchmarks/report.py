"""Turn benchmark results (JSON lines from ``benchmarks.run``) into the score table and plot.

Normalised score (Bayesmark style), per problem, optimiser and budget ``t``:
    score = 100 * (R(t) - B(t)) / (R(t) - f*)
where ``B(t)`` is the best value the run found in its first ``t`` evaluations, ``R(t)`` the mean of
``B(t)`` over the random-search runs of that problem, and ``f*`` the known optimum (synthetic
continuous and mixed functions whose optimum is attainable) or else the best value any run found.
0 = as good as random search on average, 100 = found the optimum. Each run's score is clipped to
[-100, 100] (and the denominator floored at 0.1% of ``R(1) - f*``) so that a problem where random
search itself almost reaches the best value (discrete CV errors) cannot dominate the mean.
Scores are averaged over seeds,
then over problems.

    python -m benchmarks.report benchmarks/results/full.jsonl --plot benchmarks/results/scores.png
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

BUDGETS = (16, 32, 64)
ORDER = ["ours", "optuna_gp", "optuna_tpe", "skopt_gp", "random"]


def load(path: str) -> list[dict]:
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if "error" not in r]


def common(rows: list[dict]) -> list[dict]:
    """Only the seeds that every optimiser has run on every problem: a like-for-like comparison
    (a benchmark still running, or stopped early, reports its complete seeds)."""
    opts = {r["optimizer"] for r in rows}
    probs = {r["problem"] for r in rows}
    have: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for r in rows:
        have[r["seed"]].add((r["problem"], r["optimizer"]))
    complete = {s for s, pairs in have.items() if len(pairs) == len(opts) * len(probs)}
    return [r for r in rows if r["seed"] in complete]


def scores(rows: list[dict]) -> tuple[dict, dict, dict]:
    """-> (score[(problem, optimizer)] = array (seeds, budget), kind[problem], times[optimizer])."""
    from benchmarks.problems import all_problems

    optimum = {p.name: p.optimum for p in all_problems()}
    curves: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    kind, times = {}, defaultdict(list)
    for r in rows:
        curves[(r["problem"], r["optimizer"])].append(
            np.minimum.accumulate(np.array(r["values"], dtype=float))
        )
        kind[r["problem"]] = r["kind"]
        times[r["optimizer"]] += r["ask_times"]
    out = {}
    for prob in kind:
        best_any = min(float(c.min()) for (p, _), cs in curves.items() if p == prob for c in cs)
        fstar = optimum.get(prob)
        fstar = best_any if fstar is None else min(fstar, best_any)
        rand = curves.get((prob, "random"))
        if not rand:
            continue
        T = min(len(c) for c in rand)
        R = np.mean([c[:T] for c in rand], axis=0)
        for (p, o), cs in curves.items():
            if p != prob:
                continue
            B = np.array([c[:T] for c in cs])
            denom = np.maximum(R - fstar, 1e-3 * (R[0] - fstar) + 1e-12)
            out[(p, o)] = np.clip(100.0 * (R - B) / denom, -100.0, 100.0)
    return out, kind, times


def table(rows: list[dict]) -> str:
    sc, kind, times = scores(rows)
    opts = [o for o in ORDER if any(k[1] == o for k in sc)] + sorted({k[1] for k in sc} - set(ORDER))
    groups = [
        ("all", list(kind)),
        ("synthetic", [p for p in kind if kind[p] == "synthetic"]),
        ("sklearn", [p for p in kind if kind[p] == "sklearn"]),
    ]
    lines = [
        "| optimiser | "
        + " | ".join(f"{g} @{b}" for g, ps in groups if ps for b in BUDGETS)
        + " | ask s (median) | ask s (p95) |",
        "|---|" + "---|" * (sum(1 for _, ps in groups if ps) * len(BUDGETS) + 2),
    ]
    for o in opts:
        cells = []
        for _, ps in groups:
            if not ps:
                continue
            for b in BUDGETS:
                per_problem = [
                    float(np.mean(sc[(p, o)][:, b - 1]))
                    for p in ps
                    if (p, o) in sc and sc[(p, o)].shape[1] >= b
                ]
                cells.append(f"{np.mean(per_problem):.1f}" if per_problem else "-")
        t = np.array(times[o])
        lines.append(
            f"| {o} | " + " | ".join(cells) + f" | {np.median(t):.3f} | {np.percentile(t, 95):.3f} |"
        )
    lines.append("")
    lines.append("Per problem, score at the largest budget (mean over seeds):")
    lines.append("")
    lines.append("| problem | " + " | ".join(opts) + " |")
    lines.append("|---|" + "---|" * len(opts))
    for p in kind:
        cells = []
        for o in opts:
            cells.append(f"{np.mean(sc[(p, o)][:, -1]):.1f}" if (p, o) in sc else "-")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    n_seeds = {
        len(r) for r in [[x for x in rows if x["problem"] == p and x["optimizer"] == "random"] for p in kind]
    }
    lines.append("")
    lines.append(
        f"Runs: {len(rows)}; seeds per problem and optimiser: {sorted(n_seeds)}; "
        f"duplicates proposed: "
        + ", ".join(f"{o}={sum(r.get('duplicates', 0) for r in rows if r['optimizer'] == o)}" for o in opts)
    )
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc, kind, _ = scores(rows)
    opts = [o for o in ORDER if any(k[1] == o for k in sc)]
    groups = [
        ("all problems", list(kind)),
        ("synthetic", [p for p in kind if kind[p] == "synthetic"]),
        ("scikit-learn", [p for p in kind if kind[p] == "sklearn"]),
    ]
    groups = [(g, ps) for g, ps in groups if ps]
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (g, ps) in zip(axes[0], groups, strict=False):
        for o in opts:
            curves = [np.mean(sc[(p, o)], axis=0) for p in ps if (p, o) in sc]
            if not curves:
                continue
            T = min(len(c) for c in curves)
            m = np.mean([c[:T] for c in curves], axis=0)
            ax.plot(np.arange(1, T + 1), m, label=o, lw=2 if o == "ours" else 1.2)
        ax.set_title(g)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("normalised score (0 = random, 100 = optimum)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="+")
    ap.add_argument("--plot", default=None)
    a = ap.parse_args(argv)
    rows = common([r for path in a.results for r in load(path)])
    print(table(rows))
    if a.plot:
        plot(rows, a.plot)


if __name__ == "__main__":
    main()
