"""Turn benchmark results (JSON lines from ``benchmarks.run``) into the score tables and plot.

Normalised score (Bayesmark style), per problem, optimiser and budget ``t``:
    score = 100 * (R(t) - B(t)) / (R(t) - f*)
where ``B(t)`` is the value of the run's reported best after its first ``t`` evaluations, ``R(t)``
the mean of ``B(t)`` over the random-search runs of that problem at the reference batch size
(batch 4 unless ``--batch``), and ``f*`` the known optimum (functions whose optimum is attainable)
or else the best value any reference run found. 0 = as good as random search on average, 100 =
found the optimum. Each run's score is clipped to [-100, 100] (and the denominator floored at 0.1%
of ``R(1) - f*``) so that a problem where random search itself almost reaches the best value
(discrete CV errors) cannot dominate the mean.

``B(t)`` is the best value observed in the first ``t`` evaluations; on a noisy problem it is the
noiseless value of the configuration the run reports as best: its own pick (``picks``) where the
optimiser makes one, else the configuration with the best observed (noisy) value.

Scores are averaged over problems within a group for each seed, then over seeds: each cell is
mean +- standard error over the seeds that the optimiser completed on every problem of the group
(a benchmark still running, or stopped early, reports its complete seeds). Other batch sizes are
normalised by the same reference random runs, so that "loss from batch 4 to batch b" is the paired
(same problem, seed) difference.

    python -m benchmarks.report benchmarks/results/full.jsonl benchmarks/results/extremes.jsonl \
        --plot benchmarks/results/scores.png
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

BUDGETS = (16, 32, 64)
ORDER = ["ours", "optuna_gp", "optuna_tpe", "skopt_gp", "random"]
GROUP_ORDER = ["all", "low-dim", "high-dim", "noisy", "ML"]
REFERENCE_BATCH = 4


def load(path: str) -> list[dict]:
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if "error" not in r]


def batch_of(r: dict) -> int:
    return int(r.get("batch", REFERENCE_BATCH))


def dedup(rows: list[dict]) -> list[dict]:
    """One row per (problem, optimiser, seed): the first (a run repeated in a later file is ignored)."""
    first: dict[tuple, dict] = {}
    for r in rows:
        first.setdefault((r["problem"], r["optimizer"], r["seed"]), r)
    return list(first.values())


def reported_curve(r: dict) -> np.ndarray:
    """B(t) for t = 1..len: the (noiseless) value of the configuration the run reports as best."""
    values = np.array(r["values"], dtype=float)
    if "true_values" not in r:
        return np.minimum.accumulate(values)
    true = np.array(r["true_values"], dtype=float)
    best_at = np.zeros(len(values), dtype=int)
    for t in range(1, len(values)):
        best_at[t] = t if values[t] < values[best_at[t - 1]] else best_at[t - 1]
    curve = true[best_at]
    for n, value in r.get("picks", []):  # the optimiser's own pick, from the batch it followed
        curve[int(n) - 1 :] = value
    return curve


def _lowest(r: dict) -> float:
    return float(np.min(r.get("true_values", r["values"])))


def scores(rows: list[dict], reference: list[dict] | None = None) -> tuple[dict, dict, dict]:
    """-> (score[(problem, optimizer)][seed] = array (budget,), group[problem], times[optimizer]).
    ``reference`` (default: ``rows``) gives the random runs and the best value found that
    normalise the score."""
    from benchmarks.problems import all_problems

    reference = rows if reference is None else reference
    problems = {p.name: p for p in all_problems()}
    curves: dict[tuple[str, str], dict[int, np.ndarray]] = defaultdict(dict)
    group, times = {}, defaultdict(list)
    for r in rows:
        curves[(r["problem"], r["optimizer"])].setdefault(r["seed"], reported_curve(r))
        group[r["problem"]] = problems[r["problem"]].group
        times[r["optimizer"]] += r["ask_times"]
    out: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    for prob in group:
        ref = [r for r in reference if r["problem"] == prob]
        rand = [reported_curve(r) for r in ref if r["optimizer"] == "random"]
        if not rand:
            continue
        best_any = min(_lowest(r) for r in ref)
        fstar = problems[prob].optimum
        fstar = best_any if fstar is None else min(fstar, best_any)
        T = min(len(c) for c in rand)
        R = np.mean([c[:T] for c in rand], axis=0)
        denom = np.maximum(R - fstar, 1e-3 * (R[0] - fstar) + 1e-12)
        for (p, o), by_seed in curves.items():
            if p == prob:
                out[(p, o)] = {
                    s: np.clip(100.0 * (R - c[:T]) / denom, -100.0, 100.0) for s, c in sorted(by_seed.items())
                }
    return out, group, times


def _groups(group: dict[str, str]) -> list[tuple[str, list[str]]]:
    named = [(g, [p for p in group if group[p] == g]) for g in GROUP_ORDER[1:]]
    return [(g, ps) for g, ps in [("all", list(group)), *named] if ps]


def group_scores(sc: dict, problems: list[str], opt: str, budget: int) -> np.ndarray | None:
    """Per seed that ``opt`` completed on every one of ``problems``, its mean score over them
    after ``budget`` evaluations; None if no seed is complete or the runs are shorter."""
    if any((p, opt) not in sc for p in problems):
        return None
    seeds = sorted(set.intersection(*(set(sc[(p, opt)]) for p in problems)))
    if not seeds or any(len(sc[(p, opt)][s]) < budget for p in problems for s in seeds):
        return None
    return np.array([np.mean([sc[(p, opt)][s][budget - 1] for p in problems]) for s in seeds])


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    se = float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
    return float(np.mean(x)), se


def _optimizers(sc: dict) -> list[str]:
    present = {k[1] for k in sc}
    return [o for o in ORDER if o in present] + sorted(present - set(ORDER))


def table(rows: list[dict], reference: list[dict] | None = None) -> str:
    """Per group and budget, mean +- standard error over seeds (each optimiser over the seeds it
    completed on every problem of the group; ``(n=...)`` where that is fewer than the most);
    ``*`` marks the first: the best mean, or within one standard error of it (the larger of the
    two errors)."""
    sc, group, times = scores(rows, reference)
    opts = _optimizers(sc)
    lines = [
        "| group | optimiser | " + " | ".join(f"@{b}" for b in BUDGETS) + " |",
        "|---|---|" + "---|" * len(BUDGETS),
    ]
    for g, ps in _groups(group):
        per_seed = {
            (o, b): x for o in opts for b in BUDGETS if (x := group_scores(sc, ps, o, b)) is not None
        }
        most = max((len(x) for x in per_seed.values()), default=0)
        stats = {k: _mean_se(x) for k, x in per_seed.items()}
        for o in opts:
            cells = []
            for b in BUDGETS:
                if (o, b) not in stats:
                    cells.append("-")
                    continue
                m, se = stats[(o, b)]
                top_m, top_se = max((v for (_, bb), v in stats.items() if bb == b), key=lambda v: v[0])
                first = top_m - m <= np.nanmax([se, top_se, 0.0])
                n = len(per_seed[(o, b)])
                cells.append(f"{m:.1f} ± {se:.1f}{f' (n={n})' if n < most else ''}{' *' if first else ''}")
            lines.append(f"| {g} | {o} | " + " | ".join(cells) + " |")
    lines += ["", "Per problem, score at the largest budget (mean ± standard error over seeds):", ""]
    lines.append("| problem | group | " + " | ".join(opts) + " |")
    lines.append("|---|---|" + "---|" * len(opts))
    for p in group:
        cells = []
        for o in opts:
            if (p, o) in sc:
                m, se = _mean_se(np.array([v[-1] for v in sc[(p, o)].values()]))
                cells.append(f"{m:.1f} ± {se:.1f}")
            else:
                cells.append("-")
        lines.append(f"| {p} | {group[p]} | " + " | ".join(cells) + " |")
    lines += ["", "| optimiser | ask s per configuration (median) | (p95) | duplicates proposed |", "|---|---|---|---|"]
    for o in opts:
        t = np.array(times[o])
        dup = sum(r.get("duplicates", 0) for r in rows if r["optimizer"] == o)
        lines.append(f"| {o} | {np.median(t):.3f} | {np.percentile(t, 95):.3f} | {dup} |")
    n_seeds = sorted({len(v) for v in sc.values()})
    lines += ["", f"Runs: {len(rows)}; problems: {len(group)}; seeds per problem and optimiser: {n_seeds}"]
    return "\n".join(lines)


def batch_table(all_rows: list[dict], reference_batch: int = REFERENCE_BATCH) -> str:
    """For every other batch size and optimiser: the score over the problems it ran at that batch
    with the most seeds (paired with the reference batch), over those seeds, beside the same
    problems and seeds at the reference batch, and the loss (reference - other: mean +- standard
    error of the per-seed difference); for all those problems, then for each group's share of them."""
    ref_rows = dedup([r for r in all_rows if batch_of(r) == reference_batch])
    sc_r, _, _ = scores(ref_rows)
    last = BUDGETS[-1]
    lines = [
        f"| batch | optimiser | group | problems x seeds | @{last} at batch {reference_batch} "
        f"| @{last} at this batch | " + " | ".join(f"loss @{b}" for b in BUDGETS)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(BUDGETS),
    ]
    for batch in sorted({batch_of(r) for r in all_rows} - {reference_batch}):
        rows_b = dedup([r for r in all_rows if batch_of(r) == batch])
        sc_b, group, _ = scores(rows_b, ref_rows)
        for o in _optimizers(sc_b):
            paired = {p: set(sc_b[(p, o)]) & set(sc_r[(p, o)]) for p in group if (p, o) in sc_b and (p, o) in sc_r}
            # the problems with the most paired seeds (a benchmark still running has some with fewer)
            most = max((len(v) for v in paired.values()), default=0)
            probs = [p for p, v in paired.items() if len(v) == most]
            seeds = sorted(set.intersection(*(paired[p] for p in probs))) if probs else []
            if not seeds:
                continue

            for g, ps in [(g, [p for p in ps if p in probs]) for g, ps in _groups(group)]:
                if not ps or (g != "all" and len(ps) == len(probs)):
                    continue  # a group with none of these problems, or with all of them (the "all" row)

                def per_seed(sc: dict, budget: int, ps: list[str] = ps, o: str = o, seeds: list[int] = seeds):
                    return np.array([np.mean([sc[(p, o)][s][budget - 1] for p in ps]) for s in seeds])

                cells = []
                for b in BUDGETS:
                    m, se = _mean_se(per_seed(sc_r, b) - per_seed(sc_b, b))
                    cells.append(f"{m:.1f} ± {se:.1f}")
                m_r, se_r = _mean_se(per_seed(sc_r, last))
                m_b, se_b = _mean_se(per_seed(sc_b, last))
                lines.append(
                    f"| {batch} | {o} | {g} | {len(ps)} x {len(seeds)} | {m_r:.1f} ± {se_r:.1f} | "
                    f"{m_b:.1f} ± {se_b:.1f} | " + " | ".join(cells) + " |"
                )
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc, group, _ = scores(rows)
    opts = _optimizers(sc)
    groups = _groups(group)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 4), squeeze=False)
    for ax, (g, ps) in zip(axes[0], groups, strict=False):
        for o in opts:
            T = min((len(c) for p in ps for c in sc.get((p, o), {}).values()), default=0)
            x = [group_scores(sc, ps, o, t) for t in range(1, T + 1)]
            if T == 0 or any(v is None for v in x):
                continue
            ax.plot(
                np.arange(1, T + 1),
                [float(np.mean(v)) for v in x],
                label=o,
                lw=2 if o == "ours" else 1.2,
                color=f"C{opts.index(o)}",  # one colour per optimiser in every panel
            )
        ax.set_title(f"{g} ({len(ps)} problems)")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("normalised score (0 = random, 100 = optimum)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.grid(alpha=0.3)
    axes[0][0].legend(*axes[0][-1].get_legend_handles_labels(), loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="+")
    ap.add_argument("--batch", type=int, default=REFERENCE_BATCH, help="the batch size of the main table")
    ap.add_argument("--plot", default=None)
    a = ap.parse_args(argv)
    all_rows = [r for path in a.results for r in load(path)]
    rows = dedup([r for r in all_rows if batch_of(r) == a.batch])
    if not rows:
        ap.error(f"no complete seed at batch {a.batch} in {', '.join(a.results)}")
    print(table(rows))
    if len({batch_of(r) for r in all_rows}) > 1:
        print()
        print(batch_table(all_rows, a.batch))
    if a.plot:
        plot(rows, a.plot)


if __name__ == "__main__":
    main()
