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
    assert all((v == 0).all() for v in sc[("branin", "random")].values())
    assert "| ours |" in report.table(rows)


def _row(problem, optimizer, seed, values, batch=4, **extra):
    return {
        "problem": problem,
        "kind": "x",
        "optimizer": optimizer,
        "seed": seed,
        "batch": batch,
        "values": values,
        "ask_times": [0.0],
        **extra,
    }


def test_a_noisy_run_is_scored_on_the_noiseless_value_of_its_reported_best():
    from benchmarks import report

    # observed (noisy) values: the lucky draw at evaluation 2 is reported until evaluation 4
    row = _row("hartmann6_noisy", "ours", 0, [0.0, -2.0, -1.0, -2.5], true_values=[0.0, -0.5, -1.5, -2.4])
    assert report.reported_curve(row).tolist() == [0.0, -0.5, -0.5, -2.4]
    # an optimiser's own pick after each batch replaces the best observed from that point on
    row["picks"] = [[2, -1.2], [4, -2.0]]
    assert report.reported_curve(row).tolist() == [0.0, -1.2, -1.2, -2.0]
    # a noiseless run: the running minimum
    assert report.reported_curve(_row("branin", "ours", 0, [3.0, 1.0, 2.0])).tolist() == [3.0, 1.0, 1.0]


def test_noise_is_reproducible_per_seed_and_heteroscedastic():
    from benchmarks.problems import all_problems
    from benchmarks.run import run_one

    a = run_one("hartmann6_noisy", "random", 3, 12, 4)
    b = run_one("hartmann6_noisy", "random", 3, 12, 4)
    assert a["values"] == b["values"] and a["true_values"] == b["true_values"]
    assert a["values"] != a["true_values"]
    problem = next(p for p in all_problems() if p.name == "hartmann6_noisy")
    assert problem.group == "noisy" and problem.noise_sd is not None
    lo = {f"x{i}": "0.0" for i in range(6)}
    assert problem.noise_sd(lo) < problem.noise_sd({**lo, "x0": "1.0"})


@pytest.mark.parametrize(
    "name, active",
    [
        (
            "sparse25_mixed",
            {
                "lr": str(10 ** (4 * 0.20169 - 5)),
                "a1": "0.150011",
                "a2": str(4 * 0.476874 - 2),
                "a3": str(100 * 0.275332),
                "a4": "0.311652",
                "a5": str(10 + 10 * 0.6573),
            },
        ),
        ("catcont30_mixed", {"optimizer": "adam", "lr": "0.001", "weight_decay": "0.0001", "warmup": "5"}),
        ("catcont5", {"optimizer": "adam", "lr": "0.001", "weight_decay": "0.0001", "warmup": "5"}),
    ],
)
def test_the_stated_optimum_is_attained_and_inert_parameters_do_nothing(name, active):
    from tuner import Optimizer

    from benchmarks.problems import all_problems

    problem = next(p for p in all_problems() if p.name == name)
    names = {r["Name"] for rs in problem.ranges.values() for r in rs}
    assert len(names) == {"sparse25_mixed": 25, "catcont30_mixed": 30, "catcont5": 5}[name]
    weak_best = {"w_n": "7", "w_size": "8", "w_frac": "0.3", "w_eps": "0.01", "w_mode": "a", "w_flag": "off"}
    best = {**{k: v for k, v in weak_best.items() if k in names}, **active}
    # every other parameter anywhere: the value stays the optimum
    for cfg in Optimizer(problem.ranges, "Minimize", "Random", random_seed=0).ask(5):
        assert problem.objective({**cfg, **best}) == pytest.approx(problem.optimum, abs=1e-5)
    # and the optimum is the minimum: random configurations are all worse
    others = Optimizer(problem.ranges, "Minimize", "Random", random_seed=1).ask(20)
    assert all(problem.objective(cfg) > problem.optimum for cfg in others)


def test_the_categorical_moves_the_best_learning_rate():
    from benchmarks.problems import all_problems

    problem = next(p for p in all_problems() if p.name == "catcont5")
    base = {"momentum": "0.9", "weight_decay": "0.00001", "warmup": "0"}
    grid = [10 ** (e / 4) for e in range(-20, 1)]
    best_lr = {
        opt: min(grid, key=lambda lr, opt=opt: problem.objective({**base, "optimizer": opt, "lr": str(lr)}))
        for opt in ("sgd", "adam")
    }
    assert best_lr["sgd"] > 30 * best_lr["adam"]


def test_batch_table_reports_the_paired_loss(monkeypatch):
    from benchmarks import report

    rows = []
    for seed in range(3):
        rows.append(_row("branin", "random", seed, [10.0, 9.0, 8.0]))
        rows.append(_row("branin", "ours", seed, [10.0, 2.0, 0.397887]))
        rows.append(_row("branin", "ours", seed, [10.0, 9.0, 8.0], batch=10))
    monkeypatch.setattr(report, "BUDGETS", (1, 2, 3))
    text = report.batch_table(rows)
    [line] = [line for line in text.splitlines() if line.startswith("| 10 | ours |")]  # one group: no group row
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == "all" and cells[3] == "1 x 3" and cells[4].startswith("100.0") and cells[5].startswith("0.0")
    assert cells[-1].startswith("100.0")  # the loss at the last budget
    # with a problem of another group, each group's share has a row of its own
    for seed in range(3):
        rows.append(_row("hartmann6_noisy", "random", seed, [0.0, 0.0, 0.0]))
        rows.append(_row("hartmann6_noisy", "ours", seed, [0.0, -3.0, -3.32237]))
        rows.append(_row("hartmann6_noisy", "ours", seed, [0.0, -3.0, -3.32237], batch=10))
    groups = [line.split("|")[3].strip() for line in report.batch_table(rows).splitlines() if "| 10 | ours |" in line]
    assert groups == ["all", "low-dim", "noisy"]


def test_run_refuses_unknown_problems_and_optimizers(tmp_path):
    from benchmarks import run

    for args in (["--problems", "nope"], ["--optimizers", "ours,nope"]):
        with pytest.raises(SystemExit):
            run.main([*args, "--out", str(tmp_path / "r.jsonl")])


def test_the_noise_diagnostic_compares_the_pick_with_the_best_observed_noiselessly():
    from benchmarks import noise
    from benchmarks.problems import all_problems

    problem = next(p for p in all_problems() if p.name == "catcont5_noisy")
    out = noise.run_one(problem, seed=0, budget=12, batch=4)
    assert 0 < out["true_share"] and 0 <= out["model_share"] <= 1
    # both are noiseless values of told configurations: never below the problem's optimum
    assert min(out["pick"], out["best_observed"]) >= problem.optimum
    scattered = noise.run_one(problem, seed=0, budget=12, batch=4, history="random")
    assert scattered["true_share"] != out["true_share"]  # another history
    with pytest.raises(SystemExit):
        noise.main(["--problems", "branin"])  # not a noisy problem
