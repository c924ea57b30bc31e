"""Smoke test of the benchmark harness (the benchmark itself is long and not part of the tests)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("optuna")
pytest.importorskip("skopt")
pytest.importorskip("sklearn")


def test_harness_runs_every_optimizer_and_reports(tmp_path):
    from benchmarks import report, run

    out = tmp_path / "r.jsonl"
    run.main(
        [
            "--budget",
            "8",
            "--batch",
            "4",
            "--seeds",
            "1",
            "--workers",
            "1",
            "--problems",
            "branin,tree_diabetes",
            "--optimizers",
            "ours,random,optuna_tpe,skopt_gp",
            "--out",
            str(out),
        ]
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 8 and not [r for r in rows if "error" in r]
    assert all(len(r["values"]) == 8 for r in rows)
    assert all(r["duplicates"] == 0 for r in rows if r["optimizer"] in ("ours", "random"))
    sc, kind, _ = report.scores(rows)
    assert set(kind) == {"branin", "tree_diabetes"}
    assert (sc[("branin", "random")] == 0).all()
    assert "| ours |" in report.table(rows)
