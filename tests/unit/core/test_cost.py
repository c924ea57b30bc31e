"""The price table and the overhead arithmetic (tuner.core.cost); docs/cost.md lists the same prices."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tuner.core import cost
from tuner.errors import ValidationError

ROOT = Path(__file__).resolve().parents[3]


def test_docs_list_every_price_of_the_table_with_its_value():
    table = json.loads(cost.PRICES_FILE.read_text())
    docs = (ROOT / "docs" / "cost.md").read_text()
    for region, prices in table["regions"].items():
        for key, entry in prices.items():
            row = re.search(rf"^\| `{re.escape(key)}` \| ([0-9.]+) \|", docs, re.M)
            assert row, f"docs/cost.md has no row for {key}"
            assert float(row.group(1)) == pytest.approx(entry["usd"]), key
            assert entry["source"].startswith("https://aws.amazon.com/"), key
        assert region == "us-east-1"
    assert table["as_of"] in docs


def test_an_unknown_region_or_instance_type_is_an_error_that_says_what_to_do():
    table = cost.PriceTable.load()
    with pytest.raises(ValidationError, match="no prices for region 'eu-north-1'.*TUNER_PRICES"):
        table.price("eu-north-1", "lambda:GBSecond")
    with pytest.raises(ValidationError, match="ml.z9.huge"):
        table.training_hour("us-east-1", "ml.z9.huge")


def test_a_users_price_file_replaces_the_table(tmp_path, monkeypatch):
    mine = tmp_path / "prices.json"
    mine.write_text(json.dumps({"as_of": "2030-01-01", "regions": {"eu-west-1": {
        "sagemaker:TrainingHour:ml.m5.large": {"usd": 0.2, "unit": "hour", "source": "contract"}}}}))
    monkeypatch.setenv(cost.ENV_PRICES, str(mine))
    table = cost.PriceTable.load()
    assert table.as_of == "2030-01-01"
    assert cost.training_cost(1800, 2, "ml.m5.large", table, "eu-west-1") == pytest.approx(0.2)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValidationError, match="no 'regions'"):
        cost.PriceTable.load(tmp_path / "bad.json")


def test_overhead_and_idle_cost_price_each_counted_unit():
    table = cost.PriceTable.load()
    usage = cost.Usage(state_transitions=1000, lambda_requests=1_000_000, lambda_gb_seconds=60_000,
                       read_units=8_000_000, write_units=1_600_000, custom_events=1_000_000)
    # $0.025 + $0.20 + $1.00 + $1.00 + $1.00 + $1.00 (the table's us-east-1 prices)
    assert cost.overhead(usage, table, "us-east-1") == pytest.approx(4.225, rel=1e-4)
    sweep = cost.Usage(lambda_requests=1, lambda_gb_seconds=0.1, read_units=1)
    idle = cost.idle_month(sweep, table, "us-east-1", alarm_metrics=20, keys=1)
    assert idle.variable == pytest.approx(43_200 * (0.0000002 + 0.1 * 0.0000166667 + 0.000000125), rel=1e-4)
    assert idle.fixed == {"1 KMS key(s)": 1.0, "20 alarm metric(s)": pytest.approx(2.0)}
    lines = cost.summary(usage, 1000, idle, table, "us-east-1")
    assert lines[0].startswith("Tuner overhead: $4.2250 per 1,000 trials")
    assert "as of" in lines[1]


def test_usage_adds_and_subtracts():
    a = cost.Usage(state_transitions=3, read_units=1.5, by_function={"f": {"requests": 1}})
    b = cost.Usage(state_transitions=4, read_units=0.5, by_function={"f": {"requests": 2}})
    total = a + b
    assert (total.state_transitions, total.read_units, total.by_function) == (7, 2.0, {"f": {"requests": 3}})
    assert (total - a).state_transitions == 4
