"""The report's pure parts (``tuner.report``): importance, the charts and the page (no AWS, no moto)."""

from __future__ import annotations

import pytest
from tuner import report

from tests.builders import job_describe, job_summaries, job_summary


def test_importance_finds_the_hyperparameter_that_matters():
    scores = report.importance(job_summaries(40), report.parameter_ranges(job_describe()))
    assert set(scores) == {"x", "color"}
    assert scores["x"] > 0.5 > scores["color"]
    assert report.importance(job_summaries(1), report.parameter_ranges(job_describe())) == {}


def test_render_embeds_every_chart(tmp_path):
    pytest.importorskip("matplotlib")
    path = report.write_report(job_describe(), job_summaries(12), tmp_path)
    page = path.read_text()
    assert page.count("data:image/png;base64,") == len(report.CHARTS)
    assert "http://" not in page and "https://" not in page  # self-contained
    for file, _ in report.CHARTS:
        assert (tmp_path / file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.count("<tr") == 1 + 13  # header + every job
    # no scored job at all still renders (empty charts with a message)
    empty = report.write_report(job_describe(), [job_summary(1, 1.0, "red", None, status="Failed")], tmp_path / "empty")
    assert empty.read_text().count("data:image/png;base64,") == len(report.CHARTS)


# ---- issue 16: a report that tells the story -------------------------------------------------------
def _details(summaries, stops):
    """TunerDetails with a falling series for every scored job; ``stops``: name -> (reason, epochs)."""
    from tuner.analytics import Progress, TunerDetails

    progress = {}
    for s in summaries:
        final = (s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
        if final is None:
            continue
        reason, epochs = stops.get(s["TrainingJobName"], (None, 8))
        progress[s["TrainingJobName"]] = Progress(tuple(final + 1.0 / e for e in range(1, epochs + 1)), reason)
    return TunerDetails("TargetObjectiveMetricValue reached (0.1 <= 0.2)", progress)


def _stopped_summaries():
    summaries = job_summaries(8)
    for s in summaries[2:4]:
        s["TrainingJobStatus"] = "Stopped"
    stops = {
        summaries[2]["TrainingJobName"]: ("EarlyStopping: value 3 at step 2 is worse than the median 1", 3),
        summaries[3]["TrainingJobName"]: ("Hyperband: not in the top 1 of 3 at rung 3", 4),
    }
    return summaries, stops


def test_learning_curves_draw_each_series_and_mark_where_the_stop_was_decided():
    pytest.importorskip("matplotlib")
    summaries, stops = _stopped_summaries()
    details = _details(summaries, stops)
    fig = report.figure_learning_curves(job_describe(), summaries, details)
    ax = fig.axes[0]
    curves = [line for line in ax.lines if line.get_linestyle() in ("-", "--") and len(line.get_xdata()) > 1]
    assert len(curves) == len(details.progress) == 8
    marks = sorted((float(m.get_xdata()[0]), float(m.get_ydata()[0])) for m in ax.lines if m.get_marker() == "x")
    early, band = (details.progress[n].series for n in stops)
    assert marks == sorted([(2.0, early[1]), (3.0, band[2])])  # the judged epochs, on their curves
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"stopped by early stopping", "stopped by Hyperband", "stop decided here"} <= set(labels)
    # without the tuner's store (a plain SageMaker client) the chart says why it is empty
    bare = report.figure_learning_curves(job_describe(), summaries, None)
    assert "tuner's store" in bare.axes[0].texts[0].get_text() and not bare.axes[0].lines


def test_learning_curves_show_hyperband_rungs():
    pytest.importorskip("matplotlib")
    describe = job_describe()
    describe["HyperParameterTuningJobConfig"]["Strategy"] = "Hyperband"
    describe["HyperParameterTuningJobConfig"]["StrategyConfig"] = {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}
    }
    assert report.hyperband_rungs(describe) == [1, 3, 9]
    summaries, stops = _stopped_summaries()
    ax = report.figure_learning_curves(describe, summaries, _details(summaries, stops)).axes[0]
    assert [t.get_text() for t in ax.texts] == ["rung 1", "rung 3", "rung 9"]
    assert report.hyperband_rungs(job_describe()) == []  # not Hyperband


@pytest.mark.parametrize(
    ("r", "labels"),
    [
        ({"kind": "continuous", "min": 0.5, "max": 8.0, "log": True}, ["0.5", "1", "2", "5", "8"]),
        ({"kind": "continuous", "min": 1e-4, "max": 1.0, "log": True}, ["0.0001", "0.001", "0.01", "0.1", "1"]),
        ({"kind": "continuous", "min": 0.0, "max": 10.0, "log": False}, ["0", "2", "4", "6", "8", "10"]),
        ({"kind": "integer", "min": 1.0, "max": 7.0, "log": False}, ["1", "2", "4", "6", "7"]),
        ({"kind": "continuous", "min": 0.1234567, "max": 0.1234567, "log": False}, ["0.12346"]),
        ({"kind": "categorical", "values": ["sgd", "adam", "a-very-long-category-name"]},
         ["sgd", "adam", "a-very-long-c…"]),
    ],
)
def test_parallel_coordinate_axes_are_labelled_with_values(r, labels):
    pytest.importorskip("matplotlib")
    ticks = report.axis_ticks(r)
    assert [label for _, label in ticks] == labels
    positions = [u for u, _ in ticks]
    assert positions == sorted(positions) and 0.0 <= positions[0] and positions[-1] <= 1.0
    if len(ticks) > 1:  # the ends of the range at the ends of the axis
        assert (positions[0], positions[-1]) == (0.0, 1.0)
    if r.get("log") and r["min"] == 1e-4:  # decades evenly spaced on a log axis
        assert positions == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_parallel_coordinates_have_category_labels_value_ticks_and_a_colour_bar():
    pytest.importorskip("matplotlib")
    describe = job_describe()
    fig = report.figure_parallel_coordinates(describe, job_summaries(12), report.parameter_ranges(describe))
    ax, bar = fig.axes
    texts = {t.get_text() for t in ax.texts}
    assert {"red", "green", "blue"} <= texts  # the categorical axis
    assert {"0.1", "1", "10"} <= texts  # the log axis: values, not "min"/"max"
    assert "min" not in texts and "max" not in texts
    assert bar.get_ylabel().startswith("loss (minimize")
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in job_summaries(12)[:-1]]
    assert bar.get_ylim() == pytest.approx((min(values), max(values)))


def test_importance_bars_carry_their_numbers():
    pytest.importorskip("matplotlib")
    fig = report.figure_importance({"x": 0.8123456, "color": 0.0})
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0", "0.81235"]


def test_floats_show_five_significant_digits():
    pytest.importorskip("matplotlib")
    summaries = job_summaries(6)
    summaries[0]["TunedHyperParameters"]["x"] = "0.05466050711608227"
    summaries[0]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] = 2.9453365298364747
    describe = {**job_describe(), "BestTrainingJob": summaries[0]}
    page, _ = report.render(describe, summaries)
    assert "0.05466050711608227" not in page and "2.9453365298364747" not in page
    assert page.count("0.05466") >= 2 and page.count("2.9453") >= 2  # best line and table
    assert report.number(0.05466050711608227) == "0.054661"
    assert report.number(123456.789) == "1.2346e+05"


def test_a_traceback_keeps_its_lines_escaped():
    pytest.importorskip("matplotlib")
    reason = (
        "AlgorithmError: ExecuteUserScriptError: exit code 1\n"
        'Traceback (most recent call last):\n  File "train.py", line 3, in <module>\n'
        "ValueError: x < 0"
    )
    summaries = [*job_summaries(4), job_summary(9, 1.0, "red", None, status="Failed")]
    summaries[-1]["FailureReason"] = reason
    page, _ = report.render({**job_describe(), "FailureReason": reason}, summaries)
    escaped = reason.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert page.count(f"<pre>{escaped}</pre>") == 2  # the job's and the training job's, lines kept
    assert "<summary>AlgorithmError: ExecuteUserScriptError: exit code 1</summary>" in page
    assert "<module>" not in page
    assert report.reason_html("one line") == "one line"


def test_each_job_links_its_log_when_the_file_exists(tmp_path):
    pytest.importorskip("matplotlib")
    summaries = job_summaries(4)
    logs = tmp_path / report.LOGS_FOLDER
    logs.mkdir()
    (logs / f"{summaries[1]['TrainingJobName']}.log").write_text("epoch 1 loss: 1\n")
    page = report.write_report(job_describe(), summaries, tmp_path / "report").read_text()
    assert page.count("<a href=") == 1
    assert f"<a href='../training-jobs/{summaries[1]['TrainingJobName']}.log'>log</a>" in page
    elsewhere = report.write_report(job_describe(), summaries, tmp_path / "a" / "b", logs_dir=logs).read_text()
    assert f"href='../../training-jobs/{summaries[1]['TrainingJobName']}.log'" in elsewhere
    alone = report.write_report(job_describe(), summaries, tmp_path / "lone" / "report").read_text()
    assert "<a href=" not in alone


def test_the_table_marks_stopped_jobs_and_the_page_gives_the_completion_reason():
    pytest.importorskip("matplotlib")
    summaries, stops = _stopped_summaries()
    page, _ = report.render(job_describe(), summaries, _details(summaries, stops))
    assert page.count("<tr class='stopped'>") + page.count("<tr class='best stopped'>") == 2
    assert "stopped by early stopping at epoch 2 (last epoch 3)" in page
    assert "stopped by Hyperband at rung 3 (last epoch 4)" in page
    assert "2 of 9 training jobs were stopped: EarlyStopping 1, Hyperband 1." in page
    assert "<b>Completion reason:</b> TargetObjectiveMetricValue reached (0.1 &lt;= 0.2)" in page
    bare, _ = report.render(job_describe(), summaries)  # no store: still marked Stopped
    assert bare.count(">stopped</td>") == 2


@pytest.mark.parametrize(("status", "reloads"), [("InProgress", True), ("Stopping", True), ("Completed", False)])
def test_a_report_of_a_running_job_reloads_itself(status, reloads):
    describe = {**job_describe(), "HyperParameterTuningJobStatus": status}
    page, _ = report.render(describe, job_summaries())
    assert (f"http-equiv='refresh' content='{report.REFRESH_SECONDS}'" in page) is reloads


# ---- issue 18: spend beside the best objective -----------------------------------------------------
def test_the_spend_is_drawn_under_the_best_objective_with_the_budget():
    pytest.importorskip("matplotlib")
    from tuner.analytics import TunerDetails

    describe, summaries = job_describe(), job_summaries(6)
    costs = {s["TrainingJobName"]: 0.01 * (i + 1) for i, s in enumerate(summaries)}
    points = report.spend_points(describe, summaries, costs)
    ends = sorted(report._seconds(s["TrainingEndTime"], describe["CreationTime"]) for s in summaries)
    assert [p[0] for p in points] == ends
    assert points[-1][1] == pytest.approx(sum(costs.values()))  # cumulative, in time order
    assert all(b[1] > a[1] for a, b in zip(points, points[1:], strict=False))
    total = sum(costs.values())
    spend = {"MaxSpendUSD": 0.5, "SpendPolicy": "hard", "SpentUSD": total, "ReservedUSD": 0.0}
    details = TunerDetails(None, {}, costs, spend)
    fig = report.figure_best_so_far(describe, summaries, details)
    objective_ax, spend_ax = fig.axes
    [spent_line, budget_line] = spend_ax.lines
    assert float(spent_line.get_ydata()[-1]) == pytest.approx(total)
    assert list(budget_line.get_ydata()) == [0.5, 0.5]
    assert "budget $0.5 (hard)" in [t.get_text() for t in spend_ax.get_legend().get_texts()]
    page, _ = report.render(describe, summaries, details)
    assert f"the spend so far, ${total:.4g} in all" in page and "tuner:MaxSpendUSD $0.5 (policy hard)" in page
    # unpriced (a plain SageMaker client, or an instance type the table lacks): the objective alone
    assert len(report.figure_best_so_far(describe, summaries, None).axes) == 1
    assert "the spend so far" not in report.render(describe, summaries, None)[0]
