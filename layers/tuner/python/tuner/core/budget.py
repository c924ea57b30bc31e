"""A dollar budget for a tuning job (pure): the tags, the spend, the prediction, the decision.

The budget is two tags of the tuning job, so that every surface sets it the same way (the AMT
request, the SageMaker SDK's ``tags=``, the console, a family's retunes): ``tuner:MaxSpendUSD``
(a positive number of US dollars) and, optionally, ``tuner:SpendPolicy`` (``default`` or ``hard``).

**Spend** (docs/cost.md, "A budget"): a training job costs ``BillableTimeInSeconds`` (which already
accounts for managed spot) x the hourly on-demand price of each of its instances in the job's
region (``cost.training_rate``; the price table, which a file can replace) / 3600; each trial adds
the tuner's own overhead (``cost.trial_overhead``, the meter's measured figure). A trial's cost
counts its earlier attempts (a retried training job) too. ``Spend.spent`` is the cost of the
recorded trials and of the attempts of the others; ``Spend.reserved`` the predictions still held
by claimed trials not yet recorded.

**The decision** (``decide``), made when a lap claims a trial, in the claim's conditional write
(``Store.claim_trial``): the trial may start when ``spent + reserved + its prediction <= budget``.
Its prediction (``predict``):

* ``default``: per definition, from the billable seconds of its recorded trials: their mean plus
  ``SPREAD`` sample standard deviations (one trial: its time plus half of it, as its spread is
  unknown), at most the worst case. A definition with no recorded trial yet reserves its worst case
  capped at ``budget / min(MaxParallelTrainingJobs, MaxNumberOfTrainingJobs)``, so that the first
  parallel trials can all start. A multi-definition job reserves the highest of its definitions'
  predictions (the definition of a trial is chosen after its claim).
* ``hard``: the worst case, ``MaxRuntimeInSeconds`` of the definition (SageMaker stops a training
  job there), uncapped; a request whose worst case alone passes its budget is refused at create.

The worst case is ``StoppingCondition.MaxRuntimeInSeconds`` (``DEFAULT_MAX_RUNTIME`` when absent) x
the rate, plus the overhead.

When a trial does not fit while other claimed trials still hold reservations, only the lap asking
stops (their actual costs may free the budget for a later claim); when none is held, the job ends
as a completion criterion ends it: ``Completed``, the reason ``REASON_BUDGET`` kept as its
completion reason (never ``FailureReason``). With ``hard``, the monitor also stops the running
training jobs once their cost so far (``accrued``: elapsed time since each started, an
overestimate of billable time) and the spent reach the budget.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tuner import constants
from tuner.core.cost import PriceTable, training_rate, trial_overhead
from tuner.core.records import TrialRecord
from tuner.errors import ValidationError

DEFAULT, HARD = "default", "hard"
POLICIES = (DEFAULT, HARD)
#: The completion reason of a job ended by its budget (the start of ``Decision.reason``).
REASON_BUDGET = "budget"
#: Standard deviations of billable time above the mean that the default policy reserves.
SPREAD = 2.0
#: A single recorded trial's spread, as a fraction of its billable time (one value shows none).
SINGLE_SPREAD = 0.5
#: SageMaker's default ``StoppingCondition.MaxRuntimeInSeconds`` (1 day: "StoppingCondition",
#: SageMaker API reference).
DEFAULT_MAX_RUNTIME = 86_400
#: USD of slack when comparing with the budget (float sums of many trials' costs).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Budget:
    max_usd: float
    policy: str = DEFAULT


def budget_of(tags: Sequence[Mapping[str, Any]] | None) -> Budget | None:
    """The budget the tags set (None: no ``tuner:MaxSpendUSD``); ``ValidationError`` naming the tag."""
    values = {str(t.get("Key")): t.get("Value") for t in tags or ()}
    raw = values.get(constants.MAX_SPEND_TAG)
    policy = values.get(constants.SPEND_POLICY_TAG)
    if raw is None:
        if policy is not None:
            raise ValidationError(
                f"{constants.SPEND_POLICY_TAG} needs a budget: add the tag {constants.MAX_SPEND_TAG} "
                "(US dollars), or remove it", "Tags",
            )
        return None
    try:
        usd = float(str(raw).strip().lstrip("$"))
    except ValueError:
        usd = math.nan
    if not math.isfinite(usd) or usd <= 0:
        raise ValidationError(
            f"{constants.MAX_SPEND_TAG} is {raw!r}; give the budget as a positive number of US dollars, "
            "e.g. 25 or 7.5", "Tags",
        )
    if policy is None:
        policy = DEFAULT
    if policy not in POLICIES:
        raise ValidationError(
            f"{constants.SPEND_POLICY_TAG} is {policy!r}; give one of {', '.join(POLICIES)}", "Tags",
        )
    return Budget(usd, str(policy))


def set_tags(
    tags: Sequence[Mapping[str, Any]] | None, max_usd: float | None, policy: str | None = None
) -> list[dict[str, Any]]:
    """``tags`` with the budget's tags set (``tuner:MaxSpendUSD`` when ``max_usd`` is given,
    ``tuner:SpendPolicy`` when ``policy`` is), replacing those there; checked as ``budget_of``
    checks them (``ValidationError`` naming the tag)."""
    wanted = {constants.MAX_SPEND_TAG: None if max_usd is None else format(float(max_usd), ".12g"),
              constants.SPEND_POLICY_TAG: policy}
    out = [dict(t) for t in tags or () if not wanted.get(str(t.get("Key")))]
    out += [{"Key": k, "Value": v} for k, v in wanted.items() if v is not None]
    budget_of(out)
    return out


@dataclass(frozen=True)
class Prices:
    """A request's prices in its region: USD per billable second and worst-case seconds by
    definition name (None: the single definition), and the tuner's overhead per trial."""

    rates: Mapping[str | None, float]
    worst_seconds: Mapping[str | None, int]
    overhead: float
    as_of: str

    def rate(self, definition: str | None) -> float:
        if definition in self.rates:
            return self.rates[definition]
        return max(self.rates.values())  # a definition renamed since: the dearest, never a guess low

    def worst(self, definition: str | None) -> float:
        seconds = self.worst_seconds.get(definition, max(self.worst_seconds.values()))
        return seconds * self.rate(definition) + self.overhead


def prices_for(definitions: Sequence[Any], table: PriceTable, region: str) -> Prices:
    """The ``Prices`` of a request's definitions (``core.request.Definition``); an instance type or
    region missing from the table is a ``ValidationError`` naming the definition."""
    rates: dict[str | None, float] = {}
    worst: dict[str | None, int] = {}
    for d in definitions:
        where = f"TrainingJobDefinitions[{d.name}]" if d.name is not None else "TrainingJobDefinition"
        try:
            rates[d.name] = training_rate(d.resource_config(), table, region)
        except ValidationError as err:
            raise ValidationError(f"{constants.MAX_SPEND_TAG}: cannot price {where}: {err}", "Tags") from None
        stopping = d.raw.get("StoppingCondition") or {}
        worst[d.name] = int(stopping.get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME)
    try:
        overhead = trial_overhead(table, region)
    except ValidationError as err:
        raise ValidationError(f"{constants.MAX_SPEND_TAG}: cannot price the tuner's overhead: {err}", "Tags") from None
    return Prices(rates, worst, overhead, table.as_of)


def check(budget: Budget, prices: Prices) -> None:
    """At create: with ``hard``, a trial's worst case must fit in the budget, or no trial could start."""
    if budget.policy != HARD:
        return
    for name in prices.rates:
        worst = prices.worst(name)
        if worst > budget.max_usd:
            where = f"definition {name!r}" if name is not None else "the training job definition"
            raise ValidationError(
                f"{constants.SPEND_POLICY_TAG}=hard reserves each trial's worst case, and one trial of {where} "
                f"may cost ${worst:.4f} (MaxRuntimeInSeconds {prices.worst_seconds[name]} s), more than "
                f"{constants.MAX_SPEND_TAG} ${budget.max_usd:g}: lower StoppingCondition.MaxRuntimeInSeconds, "
                "raise the budget, or use the default policy", "Tags",
            )


# ---- spend ------------------------------------------------------------------------------------
def attempts_seconds(trial: TrialRecord) -> int:
    """Billable seconds of the trial's earlier attempts (training jobs replaced by a retry)."""
    return sum(int(a.get("BillableTimeInSeconds") or 0) for a in trial.attempts)


def trial_cost(trial: TrialRecord, prices: Prices) -> float:
    """USD a trial has cost so far as recorded: its billable seconds (recorded), its earlier attempts',
    x its definition's rate; a recorded trial adds the tuner's overhead."""
    own = (trial.billable_seconds or 0) if trial.recorded else 0
    seconds = attempts_seconds(trial) + own
    return seconds * prices.rate(trial.definition) + (prices.overhead if trial.recorded else 0.0)


@dataclass(frozen=True)
class Spend:
    spent: float  # recorded trials and the earlier attempts of the others
    reserved: float  # predictions held by claimed trials not recorded
    held: Mapping[int, float]  # those predictions, by trial number

    @property
    def committed(self) -> float:
        return self.spent + self.reserved


def spend_of(reservations: Mapping[str, float], trials: Sequence[TrialRecord], prices: Prices) -> Spend:
    """The job's ``Spend``: ``reservations`` (``JobRecord.reservations``) less those of recorded trials."""
    recorded = {t.number for t in trials if t.recorded}
    held = {int(n): float(usd) for n, usd in reservations.items() if int(n) not in recorded}
    spent = sum(trial_cost(t, prices) for t in trials)
    return Spend(spent, sum(held.values()), held)


def accrued(spend: Spend, running: Sequence[TrialRecord], prices: Prices, now: datetime) -> float:
    """The spent plus what the running trials have cost so far: the time since each started (the
    tuner's start, before SageMaker's TrainingStartTime: an overestimate) x its rate, and overhead."""
    total = spend.spent
    for t in running:
        if t.started and not t.recorded:
            seconds = max(0.0, (now - datetime.fromisoformat(t.started)).total_seconds())
            total += seconds * prices.rate(t.definition) + prices.overhead
    return total


# ---- the decision -------------------------------------------------------------------------------
def predict(budget: Budget, prices: Prices, trials: Sequence[TrialRecord], parallel: int) -> float:
    """USD to reserve for the next trial (module docstring): the highest over the definitions."""
    out = 0.0
    for name in prices.rates:
        worst = prices.worst(name)
        if budget.policy == HARD:
            out = max(out, worst)
            continue
        seen = [float(t.billable_seconds) for t in trials
                if t.recorded and t.definition == name and t.billable_seconds is not None]
        if not seen:
            out = max(out, min(worst, budget.max_usd / max(1, parallel)))
            continue
        mean = statistics.fmean(seen)
        spread = statistics.stdev(seen) if len(seen) > 1 else SINGLE_SPREAD * mean
        out = max(out, min(worst, (mean + SPREAD * spread) * prices.rate(name) + prices.overhead))
    return out


@dataclass(frozen=True)
class Decision:
    number: int  # the trial it is for
    reserve: float  # its prediction, USD
    spend: Spend
    budget: Budget

    @property
    def fits(self) -> bool:
        return self.spend.committed + self.reserve <= self.budget.max_usd + TOLERANCE

    @property
    def others_held(self) -> bool:
        """Other claimed trials hold reservations (their end may free the budget)."""
        return bool(self.spend.held)

    def reservations(self) -> dict[str, float]:
        """What the claim writes: the reservations still held, and this trial's."""
        return {**{str(n): usd for n, usd in self.spend.held.items()}, str(self.number): self.reserve}

    def reason(self) -> str:
        return (
            f"{REASON_BUDGET}: the next training job would pass {constants.MAX_SPEND_TAG} "
            f"${self.budget.max_usd:g} (spent ${self.spend.spent:.4f}, held by running trials "
            f"${self.spend.reserved:.4f}, next trial predicted ${self.reserve:.4f}; policy {self.budget.policy})"
        )


def decide(budget: Budget, prices: Prices, reservations: Mapping[str, float], trials: Sequence[TrialRecord],
           number: int, parallel: int) -> Decision:
    """Whether trial ``number`` may start (``Decision.fits``) and what it reserves."""
    spend = spend_of(reservations, trials, prices)
    return Decision(number, predict(budget, prices, trials, parallel), spend, budget)


def summary(budget: Budget, spend: Spend) -> dict[str, Any]:
    """What describe's extension, the events and the CLI show (``TuningJobSpend``)."""
    return {
        "MaxSpendUSD": budget.max_usd,
        "SpendPolicy": budget.policy,
        "SpentUSD": round(spend.spent, 6),
        "ReservedUSD": round(spend.reserved, 6),
    }


__all__ = [
    "DEFAULT", "DEFAULT_MAX_RUNTIME", "HARD", "POLICIES", "REASON_BUDGET", "SPREAD", "Budget", "Decision",
    "Prices", "Spend", "accrued", "budget_of", "check", "decide", "predict", "prices_for", "set_tags", "spend_of",
    "summary", "trial_cost",
]
