"""The dollar budget (tuner.core.budget): its tags, prices, spend, prediction and decision."""
from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from tuner.core import budget, cost
from tuner.core.records import TrialRecord
from tuner.core.request import parse_request
from tuner.errors import ValidationError

from tests.builders import training_definition, tuning_request
from tests.fakes import T0

M5 = 0.115 / 3600  # USD per second of one ml.m5.large (the shipped us-east-1 price)
OVERHEAD = cost.trial_overhead(cost.PriceTable.load(), "us-east-1")


def tags(usd: str | None = None, policy: str | None = None) -> list[dict[str, str]]:
    out = []
    if usd is not None:
        out.append({"Key": "tuner:MaxSpendUSD", "Value": usd})
    if policy is not None:
        out.append({"Key": "tuner:SpendPolicy", "Value": policy})
    return out


def prices(**definition) -> budget.Prices:
    req = parse_request(tuning_request("job", **definition))
    return budget.prices_for(req.definitions, cost.PriceTable.load(), "us-east-1")


def trial(n: int, seconds: int | None, *, recorded: bool = True, **fields) -> TrialRecord:
    return TrialRecord(job="job", number=n, params={}, training_job_name=f"job-{n:03d}-x", recorded=recorded,
                       status="Completed" if recorded else "InProgress", billable_seconds=seconds, **fields)


@pytest.mark.parametrize(("given", "want"), [
    (tags("25"), budget.Budget(25.0, "default")),
    (tags("7.5", "hard"), budget.Budget(7.5, "hard")),
    (tags("$3", "default"), budget.Budget(3.0, "default")),
    ([{"Key": "team", "Value": "a"}], None),
    (None, None),
])
def test_the_budget_comes_from_the_tags(given, want):
    assert budget.budget_of(given) == want


@pytest.mark.parametrize(("given", "match"), [
    (tags("lots"), "MaxSpendUSD is 'lots'.*positive number"),
    (tags("0"), "positive number"),
    (tags("-5"), "positive number"),
    (tags("nan"), "positive number"),
    (tags("inf"), "positive number"),
    (tags("5", "soft"), "SpendPolicy is 'soft'.*default, hard"),
    (tags(policy="hard"), "SpendPolicy needs a budget"),
])
def test_a_bad_budget_tag_is_a_validation_error_that_names_it(given, match):
    with pytest.raises(ValidationError, match=match):
        budget.budget_of(given)


def test_a_request_may_carry_the_budget_tags_but_no_other_tuner_key():
    req = parse_request(tuning_request("job", tags=tags("5", "hard")))
    assert budget.budget_of(req.tags) == budget.Budget(5.0, "hard")
    with pytest.raises(ValidationError, match="reserved"):
        parse_request(tuning_request("job", tags=[{"Key": "tuner:deployment", "Value": "x"}]))


def test_prices_are_per_billable_second_of_every_instance_with_the_worst_case_from_max_runtime():
    p = prices(max_runtime_seconds=600, ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2,
                                                        "VolumeSizeInGB": 5})
    assert p.rate(None) == pytest.approx(2 * M5)
    assert p.worst(None) == pytest.approx(600 * 2 * M5 + OVERHEAD)
    assert OVERHEAD * 1000 == pytest.approx(0.1177, abs=1e-4)  # docs/cost.md: $0.1177 per 1,000 trials
    groups = {"InstanceGroups": [
        {"InstanceGroupName": "a", "InstanceType": "ml.m5.large", "InstanceCount": 1},
        {"InstanceGroupName": "b", "InstanceType": "ml.m5.xlarge", "InstanceCount": 2}]}
    assert prices(ResourceConfig=groups).rate(None) == pytest.approx((0.115 + 2 * 0.23) / 3600)


def test_an_instance_type_or_region_the_table_lacks_is_an_error_never_a_guess():
    with pytest.raises(ValidationError, match="MaxSpendUSD: cannot price TrainingJobDefinition.*ml.z9.huge"):
        prices(ResourceConfig={"InstanceType": "ml.z9.huge", "InstanceCount": 1, "VolumeSizeInGB": 5})
    req = parse_request(tuning_request("job"))
    with pytest.raises(ValidationError, match="no prices for region 'eu-north-1'"):
        budget.prices_for(req.definitions, cost.PriceTable.load(), "eu-north-1")


def test_a_multi_definition_request_is_priced_per_definition():
    big = {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5}
    req = parse_request(tuning_request("job", definitions=[
        training_definition(name="small", objective=("Minimize", "loss"), ranges={"ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        training_definition(name="big", objective=("Minimize", "loss"), ResourceConfig=big, ranges={
            "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
    ]))
    p = budget.prices_for(req.definitions, cost.PriceTable.load(), "us-east-1")
    assert p.rate("small") == pytest.approx(M5) and p.rate("big") == pytest.approx(3.825 / 3600)
    # the first trial reserves the dearer definition's share (which definition it runs is chosen later)
    assert budget.predict(budget.Budget(100.0), p, [], 1) == pytest.approx(p.worst("big"))


def test_the_hard_policy_refuses_a_request_whose_one_trial_may_pass_the_budget():
    p = prices(max_runtime_seconds=3600)  # one hour of ml.m5.large: $0.115 and the overhead
    budget.check(budget.Budget(0.01, "default"), p)  # the default policy predicts instead
    budget.check(budget.Budget(0.2, "hard"), p)
    with pytest.raises(ValidationError, match="hard reserves each trial's worst case.*MaxRuntimeInSeconds 3600"):
        budget.check(budget.Budget(0.1, "hard"), p)


def test_default_prediction_first_the_capped_worst_case_then_mean_plus_two_deviations():
    p = prices(max_runtime_seconds=300)
    b = budget.Budget(0.004, "default")
    assert budget.predict(b, p, [], 2) == pytest.approx(min(p.worst(None), 0.004 / 2))  # no history
    assert budget.predict(budget.Budget(1.0), p, [], 2) == pytest.approx(p.worst(None))  # the cap is higher
    one = [trial(1, 40)]
    assert budget.predict(b, p, one, 2) == pytest.approx((40 + 2 * 20) * M5 + OVERHEAD)  # spread: half of it
    few = [trial(1, 40), trial(2, 60), trial(3, 50), trial(4, None, recorded=False)]
    sd = math.sqrt(((40 - 50) ** 2 + (60 - 50) ** 2) / 2)
    assert budget.predict(b, p, few, 2) == pytest.approx((50 + 2 * sd) * M5 + OVERHEAD)
    slow = [trial(1, 280), trial(2, 300)]  # never more than the worst case
    assert budget.predict(b, p, slow, 2) == pytest.approx(p.worst(None))
    assert budget.predict(budget.Budget(0.004, "hard"), p, few, 2) == pytest.approx(p.worst(None))


def test_spend_counts_recorded_trials_their_earlier_attempts_and_holds_the_others_reservations():
    p = prices()
    retried = trial(2, 30, attempts=[{"TrainingJobName": "job-002-a", "BillableTimeInSeconds": 10}])
    running = trial(3, None, recorded=False, attempts=[{"BillableTimeInSeconds": 5}])
    spend = budget.spend_of({"1": 0.5, "3": 0.25, "4": 0.125}, [trial(1, 100), retried, running], p)
    assert spend.spent == pytest.approx((100 + 40 + 5) * M5 + 2 * OVERHEAD)
    assert dict(spend.held) == {3: 0.25, 4: 0.125}  # trial 1 is recorded: its actual cost counts instead
    assert spend.reserved == pytest.approx(0.375)


def test_a_trial_fits_when_spent_held_and_its_prediction_stay_within_the_budget():
    p = prices(max_runtime_seconds=300)
    history = [trial(1, 60), trial(2, 60)]
    spent = 2 * (60 * M5 + OVERHEAD)
    each = 60 * M5 + OVERHEAD  # no spread: the same time twice
    fits = budget.decide(budget.Budget(spent + 2 * each), p, {"3": each}, history, 4, 2)
    assert fits.fits and fits.reservations() == {"3": pytest.approx(each), "4": pytest.approx(each)}
    refused = budget.decide(budget.Budget(spent + 2 * each - 1e-6), p, {"3": each}, history, 4, 2)
    assert not refused.fits and refused.others_held
    assert refused.reason().startswith(budget.REASON_BUDGET + ": the next training job would pass")
    alone = budget.decide(budget.Budget(spent), p, {}, history, 3, 2)
    assert not alone.fits and not alone.others_held
    json.dumps(fits.reservations())  # written to the job item as JSON


def test_accrued_adds_the_running_trials_time_so_far():
    p = prices()
    running = trial(2, None, recorded=False, started=T0.isoformat(), definition=None)
    spend = budget.spend_of({}, [trial(1, 100), running], p)
    assert budget.accrued(spend, [running], p, T0 + timedelta(seconds=50)) == pytest.approx(
        spend.spent + 50 * M5 + OVERHEAD)


def test_set_tags_replaces_the_budget_tags_and_keeps_the_others():
    from tuner.client import with_max_spend

    tags = [{"Key": "team", "Value": "ml"}, {"Key": "tuner:MaxSpendUSD", "Value": "3"}]
    assert budget.set_tags(tags, 7.5) == [{"Key": "team", "Value": "ml"}, {"Key": "tuner:MaxSpendUSD", "Value": "7.5"}]
    assert budget.budget_of(budget.set_tags(tags, None, "hard")) == budget.Budget(3.0, "hard")
    assert budget.set_tags(None, 0.001664) == [{"Key": "tuner:MaxSpendUSD", "Value": "0.001664"}]
    with pytest.raises(ValidationError, match="positive number of US dollars"):
        budget.set_tags(tags, -1)
    request = {"HyperParameterTuningJobName": "j", "Tags": tags}
    assert budget.budget_of(with_max_spend(request, 25, "hard")["Tags"]) == budget.Budget(25.0, "hard")
    assert request["Tags"] == tags  # a copy
