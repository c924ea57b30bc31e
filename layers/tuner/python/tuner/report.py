"""A tuning job's report: one self-contained HTML page plus its charts as PNG files.

    from tuner.report import write_report
    write_report(describe, summaries, "out/report")     # -> out/report/index.html (+ *.png)

or ``tuner report NAME --out DIR``. The page embeds every chart as a base64 ``data:`` URI and has no
external CSS, fonts or scripts: it opens offline, from a file or an e-mail attachment. Charts:

* ``best-so-far.png``: each finished training job's objective against the time it ended (seconds
  since the tuning job was created) and the best-so-far curve; below it, on the same time axis, the
  spend so far (each training job's cost when it ended: ``details.costs``, docs/cost.md) and the
  budget (``tuner:MaxSpendUSD``) when the job has one;
* ``learning-curves.png``: each training job's intermediate objective values by epoch (the tuner's
  store keeps them: ``details``), coloured by how the job ended; an ``x`` marks the epoch at which
  early stopping or Hyperband decided to stop a job, and dotted lines Hyperband's rungs;
* ``objective-vs-hyperparameters.png``: the objective against each tuned hyperparameter (log axis
  for ``Logarithmic`` ranges, categories as positions);
* ``parallel-coordinates.png``: one line per job across the hyperparameter axes (each scaled to its
  range, log where the range is, labelled with its values or categories) and the objective,
  coloured by the objective (colour bar: bright is better); the best in red;
* ``importance.png``: hyperparameter importance as the share of the objective's variance that each
  hyperparameter explains on its own (a first-order, variance-based estimate: the bias-corrected
  correlation ratio, epsilon squared, of the objective grouped by the hyperparameter's value:
  categories as they are, numbers in up to five quantile bins). It ignores interactions and needs
  a few jobs per group to mean much; it is computed with numpy only.

The jobs table lists every training job, best first: what stopped a job early and at which epoch
or rung, its failure reason as logged (line breaks kept), and a link to its log when the report is
written next to ``tuner local``'s ``training-jobs/<name>.log`` files. Numbers show
``SIGNIFICANT_DIGITS`` significant digits. ``details`` (``tuner.analytics.TunerDetails``) is what the
tuner's store adds to the SageMaker shapes (series, stops, completion reason); without it (a plain
SageMaker client) the learning curves say so and the rest is drawn from the shapes alone.
Rendering uses matplotlib's Agg canvas directly (no pyplot, no global backend change).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tuner import constants
from tuner.analytics import TunerDetails, ending
from tuner.core import objective as objectives

CHARTS = (
    ("best-so-far.png", "Best objective so far"),
    ("learning-curves.png", "Learning curves"),
    ("objective-vs-hyperparameters.png", "Objective against each hyperparameter"),
    ("parallel-coordinates.png", "Parallel coordinates"),
    ("importance.png", "Hyperparameter importance"),
)
SIGNIFICANT_DIGITS = 5
#: A report written while its tuning job runs (``tuner local --serve`` rewrites it) reloads itself.
REFRESH_SECONDS = 10
NO_STORE = "Intermediate values are kept by the tuner's store, which this client cannot read"
#: Where ``tuner local`` keeps each training job's output, beside the report's folder.
LOGS_FOLDER = constants.TRAINING_LOGS_FOLDER


def number(v: float) -> str:
    """A float as the report shows it: ``SIGNIFICANT_DIGITS`` significant digits."""
    return f"{v:.{SIGNIFICANT_DIGITS}g}"


# ---- the data ----------------------------------------------------------------------------------
def objective_of(describe: Mapping[str, Any]) -> tuple[str, bool]:
    """(metric name, maximize) of a tuning job."""
    objective = objectives.objective_of(describe) or {}
    return objective.get("MetricName", "objective"), objectives.job_maximizes(describe)


def parameter_ranges(describe: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> {"kind": continuous|integer|categorical, "min", "max", "log", "values"}.

    The union over the job's ranges and every definition's ranges.
    """
    sources = [(describe.get("HyperParameterTuningJobConfig") or {}).get("ParameterRanges") or {}]
    sources += [d.get("HyperParameterRanges") or {} for d in describe.get("TrainingJobDefinitions") or []]
    out: dict[str, dict[str, Any]] = {}
    for ranges in sources:
        for key, kind in (("ContinuousParameterRanges", "continuous"), ("IntegerParameterRanges", "integer")):
            for r in ranges.get(key) or []:
                out.setdefault(
                    r["Name"],
                    {
                        "kind": kind,
                        "min": float(r["MinValue"]),
                        "max": float(r["MaxValue"]),
                        "log": r.get("ScalingType") == "Logarithmic",
                    },
                )
        for r in ranges.get("CategoricalParameterRanges") or []:
            out.setdefault(r["Name"], {"kind": "categorical", "values": list(r["Values"])})
    return out


def _value(s: Mapping[str, Any]) -> float | None:
    m = s.get("FinalHyperParameterTuningJobObjectiveMetric")
    return float(m["Value"]) if m else None


def _scored(summaries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for s in summaries if _value(s) is not None]


def _numeric(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def importance(
    summaries: Sequence[Mapping[str, Any]], ranges: Mapping[str, Mapping[str, Any]], bins: int = 5
) -> dict[str, float]:
    """name -> epsilon squared in [0, 1] (see the module docstring); empty with fewer than 3 values."""
    import numpy as np

    scored = _scored(summaries)
    y = np.array([_value(s) for s in scored], dtype=float)
    if len(y) < 3 or float(np.var(y)) == 0.0:
        return {name: 0.0 for name in ranges} if len(y) >= 3 else {}
    out: dict[str, float] = {}
    for name, r in ranges.items():
        raw = [s.get("TunedHyperParameters", {}).get(name) for s in scored]
        nums = [_numeric(v) for v in raw]
        if r["kind"] == "categorical" or any(v is None for v in nums):
            groups = np.unique(np.array([str(v) for v in raw]), return_inverse=True)[1]
        else:
            x = np.array(nums, dtype=float)
            distinct = len(np.unique(x))
            k = max(1, min(bins, distinct, len(x) // 2))
            edges = np.unique(np.quantile(x, np.linspace(0, 1, k + 1)[1:-1]))
            groups = np.searchsorted(edges, x, side="right")
        labels = np.unique(groups)
        k = len(labels)
        if k < 2 or k >= len(y):
            out[name] = 0.0
            continue
        mean = y.mean()
        ss_total = float(((y - mean) ** 2).sum())
        ss_between = float(sum((groups == g).sum() * (y[groups == g].mean() - mean) ** 2 for g in labels))
        ms_within = (ss_total - ss_between) / (len(y) - k)
        out[name] = max(0.0, (ss_between - (k - 1) * ms_within) / (ss_total + ms_within))
    return out


# ---- charts ------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def _seconds(t: Any, origin: datetime | None) -> float | None:
    if not isinstance(t, datetime) or origin is None:
        return None
    return (t - origin).total_seconds()


def spend_points(
    describe: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]], costs: Mapping[str, float]
) -> list[tuple[float, float]]:
    """(seconds since the tuning job was created, USD spent so far) at each costed training job's
    end, in time order."""
    origin = describe.get("CreationTime")
    ends = sorted(
        (x, costs[s["TrainingJobName"]])
        for s in summaries
        if s["TrainingJobName"] in costs and (x := _seconds(s.get("TrainingEndTime"), origin)) is not None
    )
    out, total = [], 0.0
    for x, usd in ends:
        total += usd
        out.append((x, total))
    return out


def _spend_axis(ax: Any, points: Sequence[tuple[float, float]], spend: Mapping[str, Any] | None) -> None:
    if points:
        xs, ys = [0.0, *(p[0] for p in points)], [0.0, *(p[1] for p in points)]
        ax.step(xs, ys, where="post", color="#55a868", linewidth=2, label="spent so far")
    if spend and spend.get("MaxSpendUSD"):
        ax.axhline(float(spend["MaxSpendUSD"]), color="#c44e52", linestyle="--", linewidth=1.2,
                   label=f"budget ${float(spend['MaxSpendUSD']):g} ({spend.get('SpendPolicy', 'default')})")
    ax.set_ylabel("USD spent")
    ax.set_xlabel("seconds since the tuning job was created")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")


def figure_best_so_far(
    describe: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]], details: TunerDetails | None = None
) -> Any:
    """The best objective so far; with ``details`` that price the jobs, the spend below it."""
    metric, maximize = objective_of(describe)
    origin = describe.get("CreationTime")
    costs = details.costs if details is not None else {}
    spent = spend_points(describe, summaries, costs) if origin is not None else []
    if spent:
        fig = _figure(8, 6.2)
        ax, spend_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
        _spend_axis(spend_ax, spent, details.spend if details is not None else None)
    else:
        fig = _figure(8, 4.2)
        ax, spend_ax = fig.add_subplot(), None
    points = []
    for i, s in enumerate(summaries):
        v = _value(s)
        if v is None:
            continue
        x = _seconds(s.get("TrainingEndTime"), origin)
        points.append((x if x is not None else float(i + 1), v, s["TrainingJobName"]))
    if not points:
        _empty(ax, "no training job has an objective value yet")
        return fig
    points.sort()
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    best, curve = None, []
    for y in ys:
        best = y if best is None or (y > best if maximize else y < best) else best
        curve.append(best)
    ax.scatter(xs, ys, s=22, color="#4c72b0", alpha=0.75, label="training job", zorder=3)
    ax.step(xs, curve, where="post", color="#c44e52", linewidth=2, label="best so far", zorder=4)
    if spend_ax is None:
        ax.set_xlabel("seconds since the tuning job was created" if origin else "training job")
    ax.set_ylabel(f"{metric} ({'maximize' if maximize else 'minimize'})")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return fig


_ENDED = {  # tuner.analytics.ending -> (colour, legend label)
    "Completed": ("#4c72b0", "completed"),
    "EarlyStopping": ("#dd8452", "stopped by early stopping"),
    "Hyperband": ("#8172b3", "stopped by Hyperband"),
    "Stopped": ("#937860", "stopped (the tuning job ended or was stopped)"),
    "Failed": ("#8c8c8c", "failed"),
    "InProgress": ("#55a868", "in progress"),
}


def hyperband_rungs(describe: Mapping[str, Any]) -> list[int]:
    """The epochs (resources) at which a Hyperband job judges its training jobs; [] otherwise."""
    from tuner.core.strategies.hyperband import resources, rungs
    from tuner.errors import ValidationError

    config = describe.get("HyperParameterTuningJobConfig") or {}
    if config.get("Strategy") != "Hyperband":
        return []
    definition = describe.get("TrainingJobDefinition") or (describe.get("TrainingJobDefinitions") or [{}])[0]
    try:
        return rungs(*resources(config.get("StrategyConfig"), definition.get("StaticHyperParameters") or {}))
    except ValidationError:
        return []


def figure_learning_curves(
    describe: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]], details: TunerDetails | None
) -> Any:
    from matplotlib.lines import Line2D

    metric, maximize = objective_of(describe)
    fig = _figure(8, 4.6)
    ax = fig.add_subplot()
    if details is None:
        _empty(ax, NO_STORE)
        return fig
    drawn = [(s, p) for s in summaries if (p := details.progress.get(s["TrainingJobName"])) is not None and p.series]
    if not drawn:
        _empty(ax, "no training job has logged an intermediate objective value yet")
        return fig
    best = (describe.get("BestTrainingJob") or {}).get("TrainingJobName")
    seen: set[str] = set()
    decided = False
    for s, p in sorted(drawn, key=lambda sp: sp[0]["TrainingJobName"] == best):
        kind = ending(s.get("TrainingJobStatus", ""), p)
        kind = kind if kind in _ENDED else "InProgress"  # e.g. Stopping
        seen.add(kind)
        colour = "#c44e52" if s["TrainingJobName"] == best else _ENDED[kind][0]
        xs = range(1, len(p.series) + 1)
        top = s["TrainingJobName"] == best
        ax.plot(
            xs,
            p.series,
            color=colour,
            linewidth=2.4 if top else 1.2,
            alpha=1.0 if top else 0.7,
            linestyle="--" if kind == "Failed" else "-",
            zorder=4 if top else 2,
        )
        if kind != "Completed":  # where it actually ended
            ax.plot([len(p.series)], [p.series[-1]], "o", color=colour, markersize=4, zorder=3)
        at = p.decided_at
        if at is not None and 1 <= at <= len(p.series):
            ax.plot([at], [p.series[at - 1]], "x", color="#222", markersize=7, markeredgewidth=1.6, zorder=5)
            decided = True
    for r in hyperband_rungs(describe):
        ax.axvline(r, color="#888", linestyle=":", linewidth=1)
        ax.annotate(
            f"rung {r}",
            (r, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            fontsize=8,
            color="#555",
        )
    handles = [Line2D([], [], color=_ENDED[k][0], label=_ENDED[k][1]) for k in _ENDED if k in seen]
    if best in {s["TrainingJobName"] for s, _ in drawn}:
        handles.append(Line2D([], [], color="#c44e52", linewidth=2.4, label="best training job"))
    if decided:
        handles.append(Line2D([], [], color="#222", marker="x", linestyle="", label="stop decided here"))
    ax.legend(handles=handles, loc="best", fontsize=8)
    ax.set_xlabel("epoch (the n-th objective value the job logged)")
    ax.set_ylabel(f"{metric} ({'maximize' if maximize else 'minimize'})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    return fig


def figure_objective_vs_hyperparameters(
    describe: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    ranges: Mapping[str, Mapping[str, Any]],
) -> Any:
    metric, _ = objective_of(describe)
    scored = _scored(summaries)
    names = list(ranges) or sorted({k for s in summaries for k in s.get("TunedHyperParameters", {})})
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = _figure(4.2 * cols, 3.3 * rows)
    if not names or not scored:
        _empty(fig.add_subplot(), "no tuned hyperparameters" if not names else "no objective values yet")
        return fig
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        r = ranges.get(name, {"kind": "categorical"})
        raw = [s.get("TunedHyperParameters", {}).get(name) for s in scored]
        ys = [_value(s) for s in scored]
        nums = [_numeric(v) for v in raw]
        if r["kind"] == "categorical" or any(v is None for v in nums):
            cats = list(r.get("values") or sorted({str(v) for v in raw}))
            pos = {c: j for j, c in enumerate(cats)}
            ax.scatter([pos.get(str(v), -1) for v in raw], ys, s=20, alpha=0.75, color="#4c72b0")
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels([c[:12] for c in cats], rotation=30 if len(cats) > 4 else 0)
        else:
            ax.scatter(nums, ys, s=20, alpha=0.75, color="#4c72b0")
            if r.get("log"):
                ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _unit(value: Any, r: Mapping[str, Any]) -> float | None:
    """A hyperparameter value scaled to [0, 1] over its range."""
    if r["kind"] == "categorical":
        values = list(r.get("values") or [])
        if str(value) not in values:
            return None
        return values.index(str(value)) / max(1, len(values) - 1)
    v = _numeric(value)
    if v is None:
        return None
    lo, hi = r["min"], r["max"]
    if r.get("log") and lo > 0 and v > 0:
        v, lo, hi = math.log(v), math.log(lo), math.log(hi)
    return 0.5 if hi == lo else min(1.0, max(0.0, (v - lo) / (hi - lo)))


def axis_ticks(r: Mapping[str, Any], most: int = 6) -> list[tuple[float, str]]:
    """(position in [0, 1], label) of a parallel-coordinates axis: each category, or round values
    of a numeric range (1-2-5 steps per decade on a log range) with both ends, at most ``most``."""
    if r["kind"] == "categorical":
        values = [str(v) for v in r.get("values") or []]
        return [(_unit(v, r) or 0.0, v if len(v) <= 14 else v[:13] + "…") for v in values]
    from matplotlib.ticker import LogLocator, MaxNLocator

    lo, hi = float(r["min"]), float(r["max"])
    if hi <= lo:
        return [(0.5, number(lo))]
    log = bool(r.get("log")) and lo > 0
    candidates: list[float] = []
    if log:
        for subs in ((1.0, 2.0, 5.0), (1.0,)):
            candidates = [float(c) for c in LogLocator(base=10, subs=subs).tick_values(lo, hi) if lo < c < hi]
            if len(candidates) <= most - 2:
                break
    if not log or not candidates:
        integer = r["kind"] == "integer"
        candidates = [float(c) for c in MaxNLocator(nbins=most - 1, integer=integer).tick_values(lo, hi)]
        candidates = [c for c in candidates if lo < c < hi]
    ticks = [(0.0, lo)]
    for c in candidates[: most - 2]:
        u = _unit(c, r)
        if u is not None and 0.1 < u < 0.9:  # not on top of an end's label
            ticks.append((u, c))
    ticks.append((1.0, hi))
    return [(u, str(int(v)) if r["kind"] == "integer" else number(v)) for u, v in ticks]


def figure_parallel_coordinates(
    describe: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    ranges: Mapping[str, Mapping[str, Any]],
) -> Any:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    metric, maximize = objective_of(describe)
    scored = _scored(summaries)
    names = list(ranges)
    fig = _figure(max(7.0, 1.9 * (len(names) + 1) + 1.2), 4.8)
    ax = fig.add_subplot()
    if not scored or not names:
        _empty(ax, "no objective values yet" if names else "no tuned hyperparameters")
        return fig
    values = [v for s in scored if (v := _value(s)) is not None]  # every scored summary has one
    lo, hi = min(values), max(values)
    # bright is better: the colour map runs from the worst value to the best
    cmap = colormaps["viridis" if maximize else "viridis_r"]
    norm = Normalize(lo, hi) if hi > lo else Normalize(lo - 0.5, hi + 0.5)
    objective_axis = {"kind": "continuous", "min": lo, "max": hi, "log": False}
    best_name = (describe.get("BestTrainingJob") or {}).get("TrainingJobName")
    lines = []
    for s, v in zip(scored, values, strict=True):
        ys = [_unit(s.get("TunedHyperParameters", {}).get(n), ranges[n]) for n in names]
        ys.append(_unit(v, objective_axis))
        goodness = norm(v) if maximize else 1 - norm(v)
        lines.append((s["TrainingJobName"] == best_name, goodness, v, ys))
    lines.sort(key=lambda t: (t[0], t[1]))  # the best drawn last
    xs = list(range(len(names) + 1))
    for is_best, _, v, ys in lines:
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            color="#c44e52" if is_best else cmap(norm(v)),
            alpha=1.0 if is_best else 0.75,
            linewidth=2.6 if is_best else 1.2,
            zorder=3 if is_best else 2,
            label="best training job" if is_best else None,
        )
    for x, r in zip(xs, [*(ranges[n] for n in names), objective_axis], strict=True):
        ax.axvline(x, color="#777", linewidth=0.9, zorder=1)
        for u, label in axis_ticks(r):
            ax.plot([x - 0.04, x], [u, u], color="#555", linewidth=0.9, zorder=1)
            ax.text(
                x - 0.06,
                u,
                label,
                ha="right",
                va="center",
                fontsize=8.5,
                zorder=4,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.75},
            )
    ax.set_xticks(xs)
    axis_names = [f"{n}\n(log)" if ranges[n].get("log") else n for n in names]
    ax.set_xticklabels([*axis_names, metric], fontsize=9)
    ax.set_yticks([])
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(-0.55, len(names) + 0.15)
    ax.set_ylim(-0.05, 1.05)
    colourbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, fraction=0.04)
    colourbar.set_label(f"{metric} ({'maximize' if maximize else 'minimize'}; bright is better)")
    if best_name in {s["TrainingJobName"] for s in scored}:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, frameon=False)
    return fig


def figure_importance(scores: Mapping[str, float]) -> Any:
    fig = _figure(7, max(2.5, 0.5 * len(scores) + 1.2))
    ax = fig.add_subplot()
    if not scores:
        _empty(ax, "needs at least 3 training jobs with an objective value")
        return fig
    items = sorted(scores.items(), key=lambda kv: kv[1])
    top = max(v for _, v in items)
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color="#55a868")
    ax.bar_label(bars, labels=[number(v) for _, v in items], padding=3, fontsize=9)
    ax.set_xlim(0, max(0.05, top * 1.2))
    ax.set_xlabel("share of objective variance explained alone (epsilon squared)")
    ax.grid(alpha=0.3, axis="x")
    return fig


# ---- the page ----------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:1.5em;margin-bottom:4px} h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#555} img{max-width:100%;border:1px solid #eee} .wide{overflow-x:auto}
table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;
vertical-align:top} th{background:#f4f4f4} tr.best{background:#fff3cd} tr.stopped td.ended{color:#6a3d9a}
.num{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;margin:2px 0;font-size:.95em;max-width:70em} td pre{min-width:32em}
summary{cursor:pointer}
"""
# Marks the page once its images have decoded: body[data-charts-rendered] counts them (tests and
# headless renderers read it); a chart that fails to decode shows its alt text.
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img.chart'), n = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) n++; }
  document.body.setAttribute('data-charts-rendered', String(n));
});
"""


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return number(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


def hyperparameter_text(value: Any, r: Mapping[str, Any] | None) -> str:
    """A tuned value as shown: a continuous one to ``SIGNIFICANT_DIGITS`` digits, others as given."""
    if value is None:
        return ""
    v = _numeric(value) if r is not None and r.get("kind") == "continuous" else None
    return number(v) if v is not None else str(value)


def reason_html(reason: str | None) -> str:
    """A failure reason, escaped, its line breaks kept: a multi-line one (a traceback) folds under
    its first line."""
    if not reason:
        return ""
    text = reason.strip("\n")
    if "\n" not in text and len(text) <= 160:
        return html.escape(text)
    first = text.splitlines()[0]
    first = first if len(first) <= 100 else first[:99] + "…"
    return f"<details><summary>{html.escape(first)}</summary><pre>{html.escape(text)}</pre></details>"


def _jobs_table(
    summaries: Sequence[Mapping[str, Any]],
    ranges: Mapping[str, Mapping[str, Any]],
    maximize: bool,
    best: str | None,
    details: TunerDetails | None,
    logs: Mapping[str, str],
) -> str:
    def key(s: Mapping[str, Any]) -> tuple[int, float, str]:
        v = _value(s)
        return (0 if v is not None else 1, -(v or 0) if maximize else (v or 0), s["TrainingJobName"])

    names = list(ranges)
    head = ["#", "training job", "status", "objective", *names, "seconds", "stopped early", "log", "failure reason"]
    out = [
        "<div class='wide'><table id='jobs'><thead><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
    ]
    for i, s in enumerate(sorted(summaries, key=key), 1):
        name, status = s["TrainingJobName"], s.get("TrainingJobStatus", "")
        start, end = s.get("TrainingStartTime"), s.get("TrainingEndTime")
        secs = (end - start).total_seconds() if isinstance(start, datetime) and isinstance(end, datetime) else None
        hps = s.get("TunedHyperParameters", {})
        progress = details.progress.get(name) if details else None
        note = progress.note(status) if progress else ("stopped" if status == "Stopped" else "")
        log = logs.get(name)
        cells = [
            f"<td class='num'>{i}</td>",
            f"<td>{html.escape(name)}</td>",
            f"<td>{html.escape(status)}</td>",
            f"<td class='num'>{html.escape(_fmt(_value(s)))}</td>",
            *[f"<td class='num'>{html.escape(hyperparameter_text(hps.get(n), ranges[n]))}</td>" for n in names],
            f"<td class='num'>{'' if secs is None else f'{secs:.1f}'}</td>",
            f"<td class='ended' title='{html.escape(progress.stopped_by or '') if progress else ''}'>"
            f"{html.escape(note)}</td>",
            f"<td><a href='{html.escape(log)}'>log</a></td>" if log else "<td></td>",
            f"<td>{reason_html(s.get('FailureReason'))}</td>",
        ]
        classes = [c for c, on in (("best", name == best), ("stopped", status == "Stopped")) if on]
        cls = f" class='{' '.join(classes)}'" if classes else ""
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _stops_line(summaries: Sequence[Mapping[str, Any]], details: TunerDetails | None) -> str:
    """e.g. "3 of 12 training jobs were stopped early: EarlyStopping 2, Hyperband 1"."""
    counts: dict[str, int] = {}
    for s in summaries:
        status = s.get("TrainingJobStatus", "")
        if status == "Stopped":
            kind = ending(status, details.progress.get(s["TrainingJobName"]) if details else None)
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return f"None of the {len(summaries)} training jobs was stopped."
    by = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
    return f"{sum(counts.values())} of {len(summaries)} training jobs were stopped: {by}."


def _curves_caption(summaries: Sequence[Mapping[str, Any]], details: TunerDetails | None) -> str:
    if details is None:
        return f"{_stops_line(summaries, details)} {NO_STORE}."
    marks = [" A dot marks where a stopped or failed job's values end."]
    if any(p.decided_at for p in details.progress.values()):
        marks.insert(0, " An x marks the epoch at which early stopping or Hyperband decided to stop a job.")
    return _stops_line(summaries, details) + "".join(marks)


def render(
    describe: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    details: TunerDetails | None = None,
    logs: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, bytes]]:
    """(the HTML page, {png file name: bytes}).

    ``details``: the tuner's series, stops and completion reason (``tuner.analytics.details``);
    ``logs``: training job name -> link to its log, relative to the page.
    """
    ranges = parameter_ranges(describe)
    metric, maximize = objective_of(describe)
    scores = importance(summaries, ranges)
    pngs = {
        "best-so-far.png": _png(figure_best_so_far(describe, summaries, details)),
        "learning-curves.png": _png(figure_learning_curves(describe, summaries, details)),
        "objective-vs-hyperparameters.png": _png(figure_objective_vs_hyperparameters(describe, summaries, ranges)),
        "parallel-coordinates.png": _png(figure_parallel_coordinates(describe, summaries, ranges)),
        "importance.png": _png(figure_importance(scores)),
    }
    name = describe.get("HyperParameterTuningJobName", "")
    best = describe.get("BestTrainingJob") or {}
    counters = describe.get("TrainingJobStatusCounters") or {}
    config = describe.get("HyperParameterTuningJobConfig") or {}
    running = describe.get("HyperParameterTuningJobStatus") in ("InProgress", "Stopping")
    refresh = f"<meta http-equiv='refresh' content='{REFRESH_SECONDS}'>" if running else ""
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{refresh}",
        f"<title>Tuning job {html.escape(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Tuning job {html.escape(name)}</h1>",
        "<p class='meta'>"
        f"Status <b>{html.escape(str(describe.get('HyperParameterTuningJobStatus', '')))}</b> · "
        f"strategy {html.escape(str(config.get('Strategy', '')))} · objective {html.escape(metric)} "
        f"({'maximize' if maximize else 'minimize'}) · "
        + " · ".join(f"{html.escape(k)} {v}" for k, v in counters.items())
        + f" · created {_fmt(describe.get('CreationTime'))}"
        + (f" · <i>the job is running: this page reloads every {REFRESH_SECONDS} s</i>" if running else "")
        + "</p>",
    ]
    reason = (details.completion_reason if details else None) or describe.get("TuningJobCompletionReason")
    if reason:
        parts.append(f"<p><b>Completion reason:</b> {html.escape(str(reason))}</p>")
    if describe.get("FailureReason"):
        parts.append(f"<p><b>FailureReason:</b></p><pre>{html.escape(describe['FailureReason'])}</pre>")
    if best:
        hps = ", ".join(
            f"{html.escape(k)}={html.escape(hyperparameter_text(v, ranges.get(k)))}"
            for k, v in sorted(best.get("TunedHyperParameters", {}).items())
        )
        parts.append(
            f"<p>Best training job <b>{html.escape(best['TrainingJobName'])}</b>: {html.escape(metric)} = "
            f"<b>{_fmt(_value(best))}</b> ({hps})</p>"
        )
    captions = {
        "best-so-far.png": _spend_caption(details),
        "learning-curves.png": _curves_caption(summaries, details),
        "parallel-coordinates.png": "One line per training job with an objective value; each axis is its"
        " hyperparameter's range (log where the range is), the last the objective.",
        "importance.png": "Share of the objective's variance each hyperparameter explains on its own"
        " (bias-corrected correlation ratio on quantile bins; ignores interactions).",
    }
    for file, title in CHARTS:
        data = base64.b64encode(pngs[file]).decode()
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if captions.get(file):
            parts.append(f"<p class='meta'>{html.escape(captions[file])}</p>")
        parts.append(
            f"<img class='chart' id='{file[:-4]}' alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
        )
    parts.append(f"<h2>Training jobs ({len(summaries)})</h2>")
    parts.append(_jobs_table(summaries, ranges, maximize, best.get("TrainingJobName"), details, logs or {}))
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts), pngs


def _spend_caption(details: TunerDetails | None) -> str:
    if details is None or not details.costs:
        return ""
    total = sum(details.costs.values())
    text = (f"Below: the spend so far, ${total:.4g} in all (each training job's billable seconds x its "
            "instances' on-demand price, plus the tuner's overhead, counted when the job ended; docs/cost.md)")
    spend = details.spend
    if spend:
        text += (f"; dashed: the budget, tuner:MaxSpendUSD ${float(spend['MaxSpendUSD']):g} "
                 f"(policy {spend.get('SpendPolicy', 'default')})")
    return text + "."


def log_links(
    summaries: Sequence[Mapping[str, Any]], out_dir: Path | str, logs_dir: Path | str | None = None
) -> dict[str, str]:
    """Training job name -> link (relative to ``out_dir``) of each job whose log file exists:
    ``<logs_dir>/<name>.log``, by default ``LOGS_FOLDER`` beside ``out_dir`` (``tuner local``'s
    output dir holds ``report/`` and ``training-jobs/``)."""
    out = Path(out_dir).resolve()
    folder = Path(logs_dir).resolve() if logs_dir is not None else out.parent / LOGS_FOLDER
    links: dict[str, str] = {}
    for s in summaries:
        log = folder / f"{s['TrainingJobName']}.log"
        if log.is_file():
            links[s["TrainingJobName"]] = quote(Path(os.path.relpath(log, out)).as_posix())
    return links


def write_report(
    describe: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    out_dir: Path | str,
    details: TunerDetails | None = None,
    logs_dir: Path | str | None = None,
) -> Path:
    """Write ``index.html`` and the PNGs into ``out_dir``; returns the page's path.

    ``details``: see ``render``; ``logs_dir``: where the training jobs' logs are (see ``log_links``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page, pngs = render(describe, summaries, details, log_links(summaries, out, logs_dir))
    for file, data in pngs.items():
        (out / file).write_bytes(data)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def report_for(client: Any, name: str, out_dir: Path | str) -> Path:
    """Fetch a tuning job through a SageMaker-style client and write its report (with the tuner's
    details when the client is a ``TunerClient``)."""
    from tuner.analytics import details, fetch

    describe, summaries = fetch(client, name)
    return write_report(describe, summaries, out_dir, details(client, name))


__all__ = [
    "CHARTS",
    "LOGS_FOLDER",
    "SIGNIFICANT_DIGITS",
    "axis_ticks",
    "importance",
    "log_links",
    "number",
    "parameter_ranges",
    "reason_html",
    "render",
    "report_for",
    "write_report",
]
