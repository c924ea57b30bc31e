"""DynamoDB items stay under 400 KB however long a job logs: a trial with the largest series
(thinned by core.metrics), every metric and the most hyperparameters, serialised by aws/store.py."""

from __future__ import annotations

from tuner.aws.store import _to_item, _trial_sk
from tuner.core.metrics import MAX_SERIES, parse_metrics, thin
from tuner.core.records import TrialRecord
from tuner.core.request import MAX_HYPERPARAMETERS, MAX_METRIC_DEFINITIONS

ITEM_LIMIT = 400 * 1024


def item_size(item: dict) -> int:
    """DynamoDB's item size: attribute names plus values (strings as UTF-8, numbers ~1 byte per 2 digits)."""
    total = 0
    for name, attr in item.items():
        total += len(name.encode())
        ((kind, value),) = attr.items()
        if kind == "S":
            total += len(value.encode())
        elif kind == "N":
            total += len(value.lstrip("-").replace(".", "")) // 2 + 2
        else:
            total += 1
    return total


def test_a_maximal_trial_item_stays_under_400_kb():
    # GIVEN a job that printed 40 metrics 20,000 times (thinned like 1,000,000) with the longest float reprs
    names = [f"m{i:02d}-" + "n" * 250 for i in range(MAX_METRIC_DEFINITIONS)]
    definitions = [{"Name": n, "Regex": rf"{n[:3]}=(\S+)"} for n in names]
    lines = (" ".join(f"{n[:3]}=-1.2345678901234567e-300" for n in names) for _ in range(20_000))
    series = parse_metrics(lines, definitions)
    objective = series[names[0]]
    assert objective.count == 20_000 and objective.final == -1.2345678901234567e-300
    # AND the most hyperparameters, with the longest names and values
    params = {f"{i:03d}" + "p" * 253: "v" * 256 for i in range(MAX_HYPERPARAMETERS)}  # ParameterValue <= 256
    trial = TrialRecord(
        job="j" * 32,
        number=10_000,
        params=params,
        training_job_name="j" * 32 + "-10000-abcdef12",
        definition="d" * 64,
        status="Completed",
        failure_reason="f" * 1024,
        final_objective=objective.final,
        objective_status="Succeeded",
        metrics={k: v.final for k, v in series.items()},
        series=thin(objective.values),
        task_token="t" * 1024,
        recorded=True,
    )
    # WHEN aws/store.py serialises it THEN it fits in one item (series and metrics are small)
    item = _to_item(trial, trial.job, _trial_sk(trial.number))
    size = item_size(item)
    assert len(trial.series) <= MAX_SERIES
    assert item_size({"series": item["series"], "metrics": item["metrics"]}) < 80 * 1024
    print(f"maximal trial item: {size:,} bytes")
    assert size < ITEM_LIMIT, f"{size:,} bytes"
