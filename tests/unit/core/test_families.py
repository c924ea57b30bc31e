"""Tuning families (pure core): validation, naming, parents, narrowing, the next request."""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import UTC, datetime

import pytest
from tuner.core.families import (
    FAMILY_TAG,
    ParentSummary,
    beats,
    family_job_name,
    family_of,
    narrow_ranges,
    next_request,
    parse_family,
    parse_overrides,
    select_parents,
)
from tuner.core.request import parse_request
from tuner.errors import ValidationError

from tests.builders import EXAMPLES, tuning_request

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
NAME_RULE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
FAMILY_RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"},
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "20"}],
    "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
}


def base_request() -> dict:
    """A family's BaseRequest: a request without a name."""
    return tuning_request(
        None, strategy="Bayesian", ranges=FAMILY_RANGES, max_jobs=8, max_parallel=2, seed=None, static={"epochs": "3"}
    )


def spec(**extra) -> dict:
    return {"FamilyName": "churn", "BaseRequest": base_request(), **extra}


def parent(name: str, created: str, status: str = "Completed", value: float | None = 1.0, params=None):
    return ParentSummary(
        name,
        status,
        created,
        params if params is not None else {"x": "3.0", "lr": "0.01", "depth": "5", "booster": "dart"},
        value,
    )


# ---- validation -------------------------------------------------------------------------------
def test_a_family_round_trips_and_defaults_are_amt_ones():
    family = parse_family(spec())
    assert family.warm_start_type == "IdenticalDataAndAlgorithm"
    assert family.max_parents == 5 and family.narrowing.mode == "Off" and family.auto_deploy is None
    assert parse_family(family.to_json()) == family
    assert "HyperParameterTuningJobName" not in family.base_request


def test_the_example_family_is_valid():
    family = parse_family(json.loads((EXAMPLES / "retuning" / "family.json").read_text()))
    assert family.auto_deploy is not None and family.narrowing.mode == "Factor"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"FamilyName": "bad_name"}, "FamilyName"),
        ({"FamilyName": "x" * 64}, "FamilyName"),
        ({"WarmStartType": "Identical"}, "WarmStartType"),
        ({"MaxParents": 6}, "MaxParents"),
        ({"MaxParents": 0}, "MaxParents"),
        ({"Budget": {"MaxNumberOfTrainingJobs": 0}}, "Budget.MaxNumberOfTrainingJobs"),
        ({"Budget": {"MaxParallelTrainingJobs": True}}, "Budget.MaxParallelTrainingJobs"),
        ({"Budget": {"MaxJobs": 3}}, "Budget"),
        ({"Narrowing": {"Mode": "Factor", "Factor": 1.5}}, "Narrowing.Factor"),
        ({"Narrowing": {"Mode": "Halve"}}, "Narrowing.Mode"),
        ({"AutoDeploy": {"EndpointName": "e", "Margin": -1}}, "AutoDeploy.Margin"),
        ({"AutoDeploy": {"Margin": 1}}, "AutoDeploy.EndpointName"),
        ({"Retries": 3}, None),
    ],
)
def test_invalid_families_are_refused_naming_the_member(change, field):
    with pytest.raises(ValidationError) as err:
        parse_family(spec(**change))
    assert err.value.field == field


def test_an_invalid_base_request_is_refused_under_base_request():
    bad = spec()
    bad["BaseRequest"]["HyperParameterTuningJobConfig"]["Strategy"] = "Annealing"
    with pytest.raises(ValidationError) as err:
        parse_family(bad)
    assert err.value.field == "BaseRequest" and "Strategy" in str(err.value)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"MaxNumberOfTrainingJobs": 0}, "Overrides.MaxNumberOfTrainingJobs"),
        ({"Strategy": "Random"}, "Overrides"),
        ({"WarmStartType": "Nope"}, "Overrides.WarmStartType"),
        ({"StaticHyperParameters": {"a": 1}}, "Overrides.StaticHyperParameters"),
        ([], "Overrides"),
    ],
)
def test_invalid_overrides_are_refused(overrides, field):
    with pytest.raises(ValidationError) as err:
        parse_overrides(overrides)
    assert err.value.field == field


# ---- naming -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "family", ["a", "churn", "x" * 17, "x" * 18, "a-b-c-d-e-f-g-h-i-j", "z" * 63, "ab---cd" * 3]
)
def test_job_names_follow_sagemakers_rule(family):
    name = family_job_name(family, NOW)
    assert len(name) <= 32 and NAME_RULE.fullmatch(name), name
    assert name.endswith("-20250304050607")


def test_short_family_names_are_kept_and_long_ones_hashed_apart():
    assert family_job_name("churn", NOW) == "churn-20250304050607"
    a = family_job_name("customer-churn-model-eu", NOW)
    b = family_job_name("customer-churn-model-us", NOW)
    assert a != b and a.startswith("customer-chu") and len(a) == 32


def test_naive_times_are_taken_as_utc():
    assert family_job_name("f", NOW.replace(tzinfo=None)) == family_job_name("f", NOW)


# ---- parents ----------------------------------------------------------------------------------
def test_parents_are_the_latest_completed_or_stopped_jobs_at_most_five():
    jobs = [parent(f"j{i}", f"2025-01-0{i}T00:00:00") for i in range(1, 8)]
    jobs.append(parent("running", "2025-01-09T00:00:00", status="InProgress"))
    jobs.append(parent("failed", "2025-01-09T00:00:00", status="Failed"))
    jobs.append(parent("stopped", "2025-01-08T00:00:00", status="Stopped"))
    assert [p.name for p in select_parents(jobs, 5)] == ["stopped", "j7", "j6", "j5", "j4"]
    assert [p.name for p in select_parents(jobs, 2)] == ["stopped", "j7"]
    assert len(select_parents(jobs, 9)) == 5


# ---- the next request -------------------------------------------------------------------------
def test_first_run_is_the_base_request_cold_with_its_own_limits():
    family = parse_family(spec(Budget={"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 1}))
    request = next_request(family, NOW, [parent("old", "x", status="Failed")])
    assert "WarmStartConfig" not in request
    assert request["HyperParameterTuningJobName"] == "churn-20250304050607"
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 8,
        "MaxParallelTrainingJobs": 2,
    }
    assert {"Key": FAMILY_TAG, "Value": "churn"} in request["Tags"]
    assert family_of(request) == "churn"
    parse_request(request)


def test_a_retune_warm_starts_from_the_latest_parents_with_the_budget():
    family = parse_family(
        spec(
            WarmStartType="TransferLearning",
            MaxParents=2,
            Budget={"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 1},
        )
    )
    jobs = [parent("a", "2025-01-01"), parent("b", "2025-01-02"), parent("c", "2025-01-03")]
    request = next_request(family, NOW, jobs)
    assert request["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "c"},
            {"HyperParameterTuningJobName": "b"},
        ],
        "WarmStartType": "TransferLearning",
    }
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 4,
        "MaxParallelTrainingJobs": 1,
    }
    # narrowing is off: the ranges are the base request's
    assert (
        request["HyperParameterTuningJobConfig"]["ParameterRanges"]
        == base_request()["HyperParameterTuningJobConfig"]["ParameterRanges"]
    )
    parse_request(request)


def test_overrides_win_over_the_family_for_one_retune():
    family = parse_family(spec(Budget={"MaxNumberOfTrainingJobs": 4}))
    request = next_request(
        family,
        NOW,
        [parent("a", "1")],
        {
            "MaxNumberOfTrainingJobs": 6,
            "WarmStartType": "TransferLearning",
            "RandomSeed": 7,
            "StaticHyperParameters": {"data_version": "2025-03"},
        },
    )
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6
    assert request["HyperParameterTuningJobConfig"]["RandomSeed"] == 7
    assert request["WarmStartConfig"]["WarmStartType"] == "TransferLearning"
    assert request["TrainingJobDefinition"]["StaticHyperParameters"] == {
        "epochs": "3",
        "data_version": "2025-03",
    }


def test_a_retune_may_not_raise_the_family_s_counts_or_bring_new_code():
    """Overrides come from whoever may send "Retune Requested": bounded by the family."""
    family = parse_family(spec(Budget={"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}))
    planned = int(base_request()["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"])
    ceiling = max(planned, 4)
    # at the family's own figure it is accepted; one more is refused, naming the setting
    assert next_request(family, NOW, [], {"MaxNumberOfTrainingJobs": ceiling})
    for key, value in (("MaxNumberOfTrainingJobs", ceiling + 1), ("MaxParallelTrainingJobs", 100_000)):
        with pytest.raises(ValidationError, match=f"OverrideLimits.{key}") as err:
            next_request(family, NOW, [], {key: value})
        assert err.value.field == f"Overrides.{key}"
    # new code is refused: the script-mode hyperparameters and AMT's reserved ones
    for name in ("sagemaker_submit_directory", "sagemaker_program", "_tuning_objective_metric"):
        with pytest.raises(ValidationError, match=name) as err:
            next_request(family, NOW, [], {"StaticHyperParameters": {name: "s3://elsewhere/code.tar.gz"}})
        assert err.value.field == "Overrides.StaticHyperParameters"
    # unless the family says so: OverrideLimits raises a ceiling and lists what may change
    open_family = parse_family(spec(OverrideLimits={
        "MaxNumberOfTrainingJobs": 50, "StaticHyperParameters": ["sagemaker_submit_directory"]}))
    request = next_request(open_family, NOW, [], {
        "MaxNumberOfTrainingJobs": 50, "StaticHyperParameters": {"sagemaker_submit_directory": "s3://b/new.tar.gz"}})
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 50
    with pytest.raises(ValidationError, match=r"only \['sagemaker_submit_directory'\]"):
        next_request(open_family, NOW, [], {"StaticHyperParameters": {"epochs": "9"}})
    assert parse_family(open_family.to_json()) == open_family
    with pytest.raises(ValidationError) as err:
        parse_family(spec(OverrideLimits={"Strategy": "Random"}))
    assert err.value.field == "OverrideLimits"


def test_the_family_is_not_modified_by_building_requests():
    family = parse_family(spec(Narrowing={"Mode": "Factor", "Factor": 0.2}))
    before = copy.deepcopy(family.to_json())
    next_request(family, NOW, [parent("a", "1")], {"StaticHyperParameters": {"k": "v"}})
    assert family.to_json() == before


# ---- narrowing --------------------------------------------------------------------------------
def _ranges(request):
    r = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    return {x["Name"]: x for key in r for x in r[key]}


def test_narrowing_centres_numeric_ranges_on_the_best_parent_and_keeps_categoricals():
    family = parse_family(spec(Narrowing={"Mode": "Factor", "Factor": 0.2}))
    worse = parent(
        "worse", "2", value=5.0, params={"x": "9", "lr": "0.5", "depth": "19", "booster": "gbtree"}
    )
    best = parent("best", "1", value=0.5, params={"x": "3.0", "lr": "0.01", "depth": "5", "booster": "dart"})
    ranges = _ranges(next_request(family, NOW, [worse, best]))
    assert float(ranges["x"]["MinValue"]) == pytest.approx(2.0) and float(
        ranges["x"]["MaxValue"]
    ) == pytest.approx(4.0)
    # log axis: 4 decades * 0.2 = 0.8 decade around 1e-2
    lo, hi = float(ranges["lr"]["MinValue"]), float(ranges["lr"]["MaxValue"])
    assert math.log10(hi / lo) == pytest.approx(0.8) and math.sqrt(lo * hi) == pytest.approx(0.01)
    assert ranges["lr"]["ScalingType"] == "Logarithmic"
    assert int(ranges["depth"]["MinValue"]) <= 5 <= int(ranges["depth"]["MaxValue"])
    assert int(ranges["depth"]["MaxValue"]) - int(ranges["depth"]["MinValue"]) <= 5
    assert ranges["booster"]["Values"] == ["gbtree", "dart"]


@pytest.mark.parametrize("best, expected", [("0", (0.0, 2.5)), ("10", (7.5, 10.0)), ("99", (7.5, 10.0))])
def test_narrowed_ranges_stay_inside_the_base_range(best, expected):
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"}
        ]
    }
    [x] = narrow_ranges(ranges, {"x": best}, 0.25)["ContinuousParameterRanges"]
    assert (float(x["MinValue"]), float(x["MaxValue"])) == pytest.approx(expected)


def test_narrowing_never_compounds_it_starts_from_the_base_ranges():
    family = parse_family(spec(Narrowing={"Mode": "Factor", "Factor": 0.5}))
    first = _ranges(next_request(family, NOW, [parent("a", "1")]))
    second = _ranges(next_request(family, NOW, [parent("a", "1"), parent("b", "0", value=2.0)]))
    assert first["x"] == second["x"]
    assert float(first["x"]["MaxValue"]) - float(first["x"]["MinValue"]) == pytest.approx(5.0)


def test_narrowing_can_be_switched_off_for_one_retune():
    family = parse_family(spec(Narrowing={"Mode": "Factor", "Factor": 0.5}))
    request = next_request(family, NOW, [parent("a", "1")], {"Narrowing": {"Mode": "Off"}})
    assert _ranges(request)["x"]["MaxValue"] == "10"


# ---- auto-deploy margin -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "new, previous, maximize, margin, kind, expected",
    [
        (0.9, None, True, 0.5, "Absolute", True),
        (0.91, 0.90, True, 0.005, "Absolute", True),
        (0.904, 0.90, True, 0.005, "Absolute", False),
        (0.10, 0.12, False, 0.01, "Absolute", True),
        (0.115, 0.12, False, 0.01, "Absolute", False),
        (0.10, 0.12, False, 0.1, "Relative", True),  # 0.02 > 0.012
        (0.11, 0.12, False, 0.1, "Relative", False),  # 0.01 < 0.012
        (float("nan"), 0.12, False, 0.0, "Absolute", False),
    ],
)
def test_beats_respects_direction_and_margin(new, previous, maximize, margin, kind, expected):
    assert beats(new, previous, maximize, margin, kind) is expected


# ---- dollar limits ------------------------------------------------------------------------------
def _tag(request: dict) -> str | None:
    return next((t["Value"] for t in request.get("Tags") or [] if t["Key"] == "tuner:MaxSpendUSD"), None)


def test_a_run_gets_the_least_of_its_dollar_limits_and_a_spent_month_refuses_it():
    from tuner.core.families import FamilyBudgetSpentError, job_month, run_budget

    family = parse_family(spec(Budget={"MaxSpendUSDPerRun": 5, "MaxSpendUSDPerMonth": 12.5}))
    assert family.to_json()["Budget"] == {"MaxSpendUSDPerRun": 5.0, "MaxSpendUSDPerMonth": 12.5}
    assert parse_family(family.to_json()) == family
    assert run_budget(family, NOW, 0.0) == 5.0
    assert run_budget(family, NOW, 9.1234567) == 3.376543  # what is left, rounded down
    assert _tag(next_request(family, NOW, [], spent_this_month=9.1234567)) == "3.376543"
    with pytest.raises(FamilyBudgetSpentError, match=r"\$12.5 in 2025-03 \(UTC\)"):
        next_request(family, NOW, [], spent_this_month=12.5)
    assert run_budget(parse_family(spec()), NOW, 100.0) is None  # no limit, no tag
    assert _tag(next_request(parse_family(spec()), NOW, [])) is None
    assert job_month(family_job_name("churn", NOW)) == "2025-03" and job_month("hand-named") is None


@pytest.mark.parametrize("value", [0, -2, "5", True, math.inf])
def test_a_dollar_limit_must_be_a_positive_number(value):
    with pytest.raises(ValidationError, match=r"Budget.MaxSpendUSDPerMonth.*positive number of US dollars"):
        parse_family(spec(Budget={"MaxSpendUSDPerMonth": value}))
