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
