"""A tuning job's report: one self-contained HTML page plus its charts as PNG files.

    from tuner.report import write_report
    write_report(describe, summaries, "out/report")     # -> out/report/index.html (+ *.png)

or ``tuner report NAME --out DIR``. The page embeds every chart as a base64 ``data:`` URI and has no
external CSS, fonts or scripts: it opens offline, from a file or an e-mail attachment. Charts:

* ``best-so-far.png``: each finished training job's objective against the time it ended (seconds
  since the tuning job was created) and the best-so-far curve;
* ``objective-vs-hyperparameters.png``: the objective against each tuned hyperparameter (log axis
  for ``Logarithmic`` ranges, categories as positions);
* ``parallel-coordinates.png``: one line per job across the hyperparameter axes (each scaled to its
  range, log where the range is) and the objective, coloured from worst to best; the best in red;
* ``importance.png``: hyperparameter importance as the share of the objective's variance that each
  hyperparameter explains on its own (a first-order, variance-based estimate: the bias-corrected
  correlation ratio, epsilon squared, of the objective grouped by the hyperparameter's value:
  categories as they are, numbers in up to five quantile bins). It ignores interactions and needs
  a few jobs per group to mean much; it is computed with numpy only.

The jobs table lists every training job, best first. Rendering uses matplotlib's Agg canvas
directly (no pyplot, no global backend change).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tuner.core import objective as objectives

CHARTS = (
    ("best-so-far.png", "Best objective so far"),
    ("objective-vs-hyperparameters.png", "Objective against each hyperparameter"),
    ("parallel-coordinates.png", "Parallel coordinates"),
    ("importance.png", "Hyperparameter importance"),
)


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


def chart_best_so_far(describe: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]]) -> bytes:
    metric, maximize = objective_of(describe)
    fig = _figure(8, 4.2)
    ax = fig.add_subplot()
    origin = describe.get("CreationTime")
    points = []
    for i, s in enumerate(summaries):
        v = _value(s)
        if v is None:
            continue
        x = _seconds(s.get("TrainingEndTime"), origin)
        points.append((x if x is not None else float(i + 1), v, s["TrainingJobName"]))
    if not points:
        _empty(ax, "no training job has an objective value yet")
        return _png(fig)
    points.sort()
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    best, curve = None, []
    for y in ys:
        best = y if best is None or (y > best if maximize else y < best) else best
        curve.append(best)
    ax.scatter(xs, ys, s=22, color="#4c72b0", alpha=0.75, label="training job", zorder=3)
    ax.step(xs, curve, where="post", color="#c44e52", linewidth=2, label="best so far", zorder=4)
    ax.set_xlabel("seconds since the tuning job was created" if origin else "training job")
    ax.set_ylabel(f"{metric} ({'maximize' if maximize else 'minimize'})")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return _png(fig)


def chart_objective_vs_hyperparameters(
    describe: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    ranges: Mapping[str, Mapping[str, Any]],
) -> bytes:
    metric, _ = objective_of(describe)
    scored = _scored(summaries)
    names = list(ranges) or sorted({k for s in summaries for k in s.get("TunedHyperParameters", {})})
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = _figure(4.2 * cols, 3.3 * rows)
    if not names or not scored:
        _empty(fig.add_subplot(), "no tuned hyperparameters" if not names else "no objective values yet")
        return _png(fig)
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
    return _png(fig)


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


def chart_parallel_coordinates(
    describe: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    ranges: Mapping[str, Mapping[str, Any]],
) -> bytes:
    from matplotlib import colormaps

    metric, maximize = objective_of(describe)
    scored = _scored(summaries)
    names = list(ranges)
    fig = _figure(max(6.0, 1.6 * (len(names) + 1)), 4.2)
    ax = fig.add_subplot()
    if not scored or not names:
        _empty(ax, "no objective values yet" if names else "no tuned hyperparameters")
        return _png(fig)
    values = [v for s in scored if (v := _value(s)) is not None]  # every scored summary has one
    lo, hi = min(values), max(values)
    cmap = colormaps["viridis"]
    lines = []
    for s, v in zip(scored, values, strict=True):
        goodness = 0.5 if hi == lo else ((v - lo) / (hi - lo) if maximize else (hi - v) / (hi - lo))
        ys = [_unit(s.get("TunedHyperParameters", {}).get(n), ranges[n]) for n in names]
        ys.append(goodness if maximize else 1 - goodness)
        lines.append((goodness, ys))
    lines.sort(key=lambda t: t[0])
    xs = list(range(len(names) + 1))
    for goodness, ys in lines:
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=cmap(goodness), alpha=0.7, linewidth=1.2)
    best = lines[-1][1]
    ax.plot(
        xs, [y if y is not None else float("nan") for y in best], color="#c44e52", linewidth=2.5, label="best"
    )
    for x in xs:
        ax.axvline(x, color="#999", linewidth=0.8)
    ax.set_xticks(xs)
    ax.set_xticklabels([*names, metric], rotation=15)
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["min", "max"])
    ax.set_xlim(-0.2, len(names) + 0.2)
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="upper right")
    return _png(fig)


def chart_importance(scores: Mapping[str, float]) -> bytes:
    fig = _figure(7, max(2.5, 0.5 * len(scores) + 1.2))
    ax = fig.add_subplot()
    if not scores:
        _empty(ax, "needs at least 3 training jobs with an objective value")
        return _png(fig)
    items = sorted(scores.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v for _, v in items], color="#55a868")
    ax.set_xlim(0, max(0.05, max(v for _, v in items) * 1.1))
    ax.set_xlabel("share of objective variance explained alone (epsilon squared)")
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


# ---- the page ----------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:1.5em;margin-bottom:4px} h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#555} img{max-width:100%;border:1px solid #eee}
table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f4f4f4} tr.best{background:#fff3cd} .num{text-align:right;font-variant-numeric:tabular-nums}
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
        return f"{v:.6g}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


def _jobs_table(
    summaries: Sequence[Mapping[str, Any]], names: Sequence[str], maximize: bool, best: str | None
) -> str:
    def key(s: Mapping[str, Any]) -> tuple[int, float, str]:
        v = _value(s)
        return (0 if v is not None else 1, -(v or 0) if maximize else (v or 0), s["TrainingJobName"])

    head = ["#", "training job", "status", "objective", *names, "seconds", "failure reason"]
    out = [
        "<table id='jobs'><thead><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
    ]
    for i, s in enumerate(sorted(summaries, key=key), 1):
        start, end = s.get("TrainingStartTime"), s.get("TrainingEndTime")
        secs = (
            (end - start).total_seconds()
            if isinstance(start, datetime) and isinstance(end, datetime)
            else None
        )
        hps = s.get("TunedHyperParameters", {})
        cells = [
            str(i),
            s["TrainingJobName"],
            s.get("TrainingJobStatus", ""),
            _fmt(_value(s)),
            *[_fmt(hps.get(n)) for n in names],
            _fmt(secs),
            (s.get("FailureReason") or "")[:200],
        ]
        cls = " class='best'" if s["TrainingJobName"] == best else ""
        out.append(
            f"<tr{cls}>"
            + "".join(
                f"<td class='num'>{html.escape(c)}</td>" if j in (0, 3) else f"<td>{html.escape(c)}</td>"
                for j, c in enumerate(cells)
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def render(
    describe: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]]
) -> tuple[str, dict[str, bytes]]:
    """(the HTML page, {png file name: bytes})."""
    ranges = parameter_ranges(describe)
    metric, maximize = objective_of(describe)
    scores = importance(summaries, ranges)
    pngs = {
        "best-so-far.png": chart_best_so_far(describe, summaries),
        "objective-vs-hyperparameters.png": chart_objective_vs_hyperparameters(describe, summaries, ranges),
        "parallel-coordinates.png": chart_parallel_coordinates(describe, summaries, ranges),
        "importance.png": chart_importance(scores),
    }
    name = describe.get("HyperParameterTuningJobName", "")
    best = describe.get("BestTrainingJob") or {}
    counters = describe.get("TrainingJobStatusCounters") or {}
    config = describe.get("HyperParameterTuningJobConfig") or {}
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Tuning job {html.escape(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Tuning job {html.escape(name)}</h1>",
        "<p class='meta'>"
        f"Status <b>{html.escape(str(describe.get('HyperParameterTuningJobStatus', '')))}</b> · "
        f"strategy {html.escape(str(config.get('Strategy', '')))} · objective {html.escape(metric)} "
        f"({'maximize' if maximize else 'minimize'}) · "
        + " · ".join(f"{html.escape(k)} {v}" for k, v in counters.items())
        + f" · created {_fmt(describe.get('CreationTime'))}</p>",
    ]
    if describe.get("FailureReason"):
        parts.append(f"<p><b>FailureReason:</b> {html.escape(describe['FailureReason'])}</p>")
    if best:
        hps = ", ".join(
            f"{html.escape(k)}={html.escape(str(v))}"
            for k, v in sorted(best.get("TunedHyperParameters", {}).items())
        )
        parts.append(
            f"<p>Best training job <b>{html.escape(best['TrainingJobName'])}</b>: {html.escape(metric)} = "
            f"<b>{_fmt(_value(best))}</b> ({hps})</p>"
        )
    for file, title in CHARTS:
        data = base64.b64encode(pngs[file]).decode()
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if file == "importance.png":
            parts.append(
                "<p class='meta'>Share of the objective's variance each hyperparameter explains on its own "
                "(bias-corrected correlation ratio on quantile bins; ignores interactions).</p>"
            )
        parts.append(
            f"<img class='chart' id='{file[:-4]}' alt='{html.escape(title)}' "
            f"src='data:image/png;base64,{data}'>"
        )
    parts.append(f"<h2>Training jobs ({len(summaries)})</h2>")
    parts.append(_jobs_table(summaries, list(ranges), maximize, best.get("TrainingJobName")))
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts), pngs


def write_report(
    describe: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]], out_dir: Path | str
) -> Path:
    """Write ``index.html`` and the PNGs into ``out_dir``; returns the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page, pngs = render(describe, summaries)
    for file, data in pngs.items():
        (out / file).write_bytes(data)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def report_for(client: Any, name: str, out_dir: Path | str) -> Path:
    """Fetch a tuning job through a SageMaker-style client and write its report."""
    from tuner.analytics import fetch

    describe, summaries = fetch(client, name)
    return write_report(describe, summaries, out_dir)


__all__ = ["CHARTS", "importance", "parameter_ranges", "render", "report_for", "write_report"]
