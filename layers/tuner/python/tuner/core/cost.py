"""What the tuner itself costs: a dated price table and the arithmetic over measured usage.

The prices (``prices.json`` beside this module; docs/cost.md names each one's source page and date)
are on-demand list prices by region. ``TUNER_PRICES=<file>`` (or ``PriceTable.load(path)``) replaces
them with a file of the same shape, for another region or negotiated prices. A price the table does
not have (a region, an instance type) is an error, never a guess.

``Usage`` is what a run consumed, counted by the offline twin (``tuner.local.metering``): state
transitions, Lambda requests and GB-seconds, DynamoDB read and write request units, custom events.
``overhead`` prices it; ``idle_month`` prices a deployment with no tuning job (the sweeper's
schedule), with the fixed monthly fees (the logs key, the alarms) apart.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tuner.errors import ValidationError

PRICES_FILE = Path(__file__).with_name("prices.json")
ENV_PRICES = "TUNER_PRICES"
MINUTES_PER_MONTH = 30 * 24 * 60  # a 30-day month: 43,200 sweeps at the default one a minute


@dataclass
class Usage:
    """AWS usage of the tuner's own resources (not the training jobs)."""

    state_transitions: int = 0
    lambda_requests: int = 0
    lambda_gb_seconds: float = 0.0
    read_units: float = 0.0  # DynamoDB read request units
    write_units: float = 0.0  # DynamoDB write request units
    custom_events: int = 0  # EventBridge PutEvents entries
    logs_api_calls: int = 0  # GetLogEvents / DescribeLogStreams (not billed per request: docs/cost.md)
    by_function: dict[str, dict[str, float]] = field(default_factory=dict)

    def __add__(self, other: Usage) -> Usage:
        out = Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                       for f in fields(self) if f.name != "by_function"})
        for name, numbers in (*self.by_function.items(), *other.by_function.items()):
            mine = out.by_function.setdefault(name, {})
            for k, v in numbers.items():
                mine[k] = mine.get(k, 0.0) + v
        return out

    def __sub__(self, other: Usage) -> Usage:
        """The usage between two snapshots (per-function figures are left out)."""
        return Usage(**{f.name: getattr(self, f.name) - getattr(other, f.name)
                        for f in fields(self) if f.name != "by_function"})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


class PriceTable:
    def __init__(self, data: dict[str, Any], origin: str) -> None:
        self.data = data
        self.origin = origin
        self.as_of = str(data.get("as_of", "undated"))

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """The table in ``path``, else ``$TUNER_PRICES``, else the one shipped with the tuner."""
        chosen = Path(path or os.environ.get(ENV_PRICES) or PRICES_FILE)
        try:
            data = json.loads(chosen.read_text())
        except (OSError, ValueError) as err:
            raise ValidationError(f"price table {chosen}: {err}; give a JSON file shaped like {PRICES_FILE}") from None
        if not isinstance(data, dict) or not isinstance(data.get("regions"), dict):
            raise ValidationError(f"price table {chosen}: no 'regions' object; see {PRICES_FILE} for the shape")
        return cls(data, str(chosen))

    def price(self, region: str, key: str) -> Price:
        regions = self.data["regions"]
        if region not in regions:
            raise ValidationError(
                f"no prices for region {region!r} in {self.origin} (it has {', '.join(sorted(regions))}); "
                f"add them from the pricing pages docs/cost.md lists, or set {ENV_PRICES} to your own table"
            )
        entry = regions[region].get(key)
        if entry is None:
            raise ValidationError(
                f"no price {key!r} for {region} in {self.origin}; add it (docs/cost.md: where each price comes from)"
            )
        return Price(float(entry["usd"]), str(entry.get("unit", "")), str(entry.get("source", "")))

    def training_hour(self, region: str, instance_type: str) -> Price:
        return self.price(region, f"sagemaker:TrainingHour:{instance_type}")


def overhead(usage: Usage, table: PriceTable, region: str) -> float:
    """Dollars of the tuner's own usage (transitions, Lambda, DynamoDB, events)."""

    def p(key: str) -> float:
        return table.price(region, key).usd

    return (
        usage.state_transitions * p("stepfunctions:StateTransition")
        + usage.lambda_requests * p("lambda:Request")
        + usage.lambda_gb_seconds * p("lambda:GBSecond")
        + usage.read_units * p("dynamodb:ReadRequestUnit")
        + usage.write_units * p("dynamodb:WriteRequestUnit")
        + usage.custom_events * p("events:CustomEvent")
    )


@dataclass(frozen=True)
class IdleCost:
    variable: float  # the sweeper's invocations and reads, per month
    fixed: dict[str, float]  # per-resource monthly fees, by what they are for

    @property
    def total(self) -> float:
        return self.variable + sum(self.fixed.values())


def idle_month(sweep: Usage, table: PriceTable, region: str, *, sweeps_per_minute: float = 1.0,
               alarm_metrics: int = 0, keys: int = 1) -> IdleCost:
    """A month with no tuning job: ``sweep`` is one idle sweep's usage (measured), repeated on the
    schedule; the fixed fees are the customer managed keys and the alarms' metrics."""
    variable = overhead(sweep, table, region) * sweeps_per_minute * MINUTES_PER_MONTH
    fixed = {
        f"{keys} KMS key(s)": keys * table.price(region, "kms:KeyMonth").usd,
        f"{alarm_metrics} alarm metric(s)": alarm_metrics * table.price(region, "cloudwatch:AlarmMetricMonth").usd,
    }
    return IdleCost(variable, fixed)


def summary(usage: Usage, trials: int, idle: IdleCost, table: PriceTable, region: str) -> list[str]:
    """What ``tuner local`` prints: the overhead per 1,000 trials against a 10-minute ml.m5.large
    training job per trial (the performance issue's yardstick), and the idle cost."""
    spent = overhead(usage, table, region)
    per_thousand = spent / max(trials, 1) * 1000
    yardstick = training_cost(600, 1, "ml.m5.large", table, region)
    return [
        f"Tuner overhead: ${per_thousand:.4f} per 1,000 trials ({spent / max(trials, 1) / yardstick:.2%} of a "
        f"10-minute ml.m5.large training job per trial); this run: {trials} trials, "
        f"{usage.state_transitions} state transitions, {usage.lambda_requests} Lambda requests, "
        f"{usage.lambda_gb_seconds:.1f} GB-s, {usage.read_units:.0f} read / {usage.write_units:.0f} write units, "
        f"{usage.custom_events} events: ${spent:.5f}",
        f"Idle cost: ${idle.variable:.2f} per month (the sweeper's schedule), plus fixed fees "
        + ", ".join(f"{what} ${usd:.2f}" for what, usd in idle.fixed.items())
        + f" [{region} prices as of {table.as_of}: docs/cost.md]",
    ]


def training_cost(billable_seconds: float, instance_count: int, instance_type: str, table: PriceTable,
                  region: str) -> float:
    """A training job's cost: billable seconds x instances x the instance type's on-demand price."""
    return billable_seconds / 3600.0 * instance_count * table.training_hour(region, instance_type).usd


def training_rate(resource_config: Mapping[str, Any], table: PriceTable, region: str) -> float:
    """USD per billable second of a training job with this ``ResourceConfig``: each instance type's
    hourly price x its ``InstanceCount`` (a heterogeneous cluster: summed over its ``InstanceGroups``),
    / 3600. ``BillableTimeInSeconds`` x this rate is the job's cost ("DescribeTrainingJob",
    SageMaker API reference: billable time x instance count)."""
    groups = resource_config.get("InstanceGroups") or [resource_config]
    total = 0.0
    for group in groups:
        kind = group.get("InstanceType")
        if not isinstance(kind, str) or not kind:
            raise ValidationError("a ResourceConfig without an InstanceType cannot be priced; give one")
        total += int(group.get("InstanceCount") or 1) * table.training_hour(region, kind).usd
    return total / 3600.0


#: The tuner's own usage per 1,000 trials, measured by the offline run's meter (``make demo``: 20
#: trials of the XGBoost example, 2 in parallel; docs/cost.md, "The figures"), scaled from its 20.
#: ``trial_overhead`` prices it: $0.1177 per 1,000 trials at the shipped us-east-1 prices.
TRIAL_USAGE_PER_1000 = Usage(state_transitions=3550, lambda_requests=2500, lambda_gb_seconds=1140.0,
                             read_units=16150.0, write_units=11650.0, custom_events=100)


def trial_overhead(table: PriceTable, region: str) -> float:
    """USD of the tuner's own work per trial (``TRIAL_USAGE_PER_1000`` priced in ``region``)."""
    return overhead(TRIAL_USAGE_PER_1000, table, region) / 1000.0


__all__ = [
    "ENV_PRICES", "TRIAL_USAGE_PER_1000", "IdleCost", "Price", "PriceTable", "Usage", "idle_month", "overhead",
    "summary", "training_cost", "training_rate", "trial_overhead",
]
