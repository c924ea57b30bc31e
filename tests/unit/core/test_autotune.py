"""Autotune (core.autotune): the rule that turns ``AutoParameters`` into ranges and fills the
settings a request leaves out, as docs/parity.md states it."""

from __future__ import annotations

import copy

import pytest
from tuner import shapes
from tuner.core import autotune, results
from tuner.core.records import JobRecord
from tuner.core.request import parse_request
from tuner.errors import ValidationError

from tests.builders import continuous, training_definition, tuning_request

CFG = "HyperParameterTuningJobConfig"


@pytest.mark.parametrize(
    ("name", "hint", "expected"),
    [
        # integers v >= 1: [max(1, v // 2), 2 v], linear
        ("max_depth", "5", ("IntegerParameterRanges", "2", "10", "Linear")),
        ("num_round", "100", ("IntegerParameterRanges", "50", "200", "Linear")),
        ("min_child_weight", "1", ("IntegerParameterRanges", "1", "2", "Linear")),
        # decimals in (0, 1): [v / 10, min(10 v, (1 + v) / 2)], logarithmic, below 1
        ("eta", "0.3", ("ContinuousParameterRanges", "0.03", "0.65", "Logarithmic")),
        ("subsample", "0.8", ("ContinuousParameterRanges", "0.08", "0.9", "Logarithmic")),
        ("learning_rate", "1e-3", ("ContinuousParameterRanges", "0.0001", "0.01", "Logarithmic")),
        # decimals >= 1: a decade each side, logarithmic
        ("alpha", "1.0", ("ContinuousParameterRanges", "0.1", "10", "Logarithmic")),
        ("C", " 2.5 ", ("ContinuousParameterRanges", "0.25", "25", "Logarithmic")),
        # not eligible: stays static at the hint
        ("gamma", "0", None),
        ("offset", "-3", None),
        ("shift", "-0.5", None),
        ("booster", "gbtree", None),
        ("objective", '"reg:squarederror"', None),  # the SageMaker SDK json-encodes strings
        ("verbose", "true", None),
        ("rate", "nan", None),
        ("rate", "inf", None),
        ("epochs", "10", None),  # training length
        ("num_epochs", "10", None),
        ("sagemaker_container_log_level", "20", None),  # reserved
        ("_tuning_objective_metric", "1", None),
    ],
)
def test_the_range_rule(name, hint, expected):
    pick = autotune.choose_range(name, hint)
    if expected is None:
        assert pick is None
        return
    key, spec = pick
    assert (key, spec["MinValue"], spec["MaxValue"], spec["ScalingType"]) == expected
    assert spec["Name"] == name


def test_max_jobs_is_ten_per_tuned_hyperparameter_within_20_and_100():
    assert [autotune.max_jobs(d) for d in (1, 2, 3, 7, 10, 30)] == [20, 20, 30, 70, 100, 100]


def test_a_request_is_resolved_into_explicit_ranges_statics_and_settings():
    # GIVEN an Autotune request with hints for four hyperparameters and one explicit range
    request = tuning_request(
        "auto",
        strategy="Bayesian",
        max_jobs=None,
        ranges=continuous(0.5, 8),
        auto_parameters={"max_depth": "6", "eta": "0.3", "booster": "gbtree", "epochs": "3"},
    )
    original = copy.deepcopy(request)
    shapes.validate_input("CreateHyperParameterTuningJob", request)
    # WHEN it is parsed
    req = parse_request(request)
    # THEN the eligible hints became ranges beside the given one, the rest static hyperparameters
    ranges = req.raw[CFG]["ParameterRanges"]
    assert "AutoParameters" not in ranges
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "3", "MaxValue": "12", "ScalingType": "Linear"}
    ]
    assert [r["Name"] for r in ranges["ContinuousParameterRanges"]] == ["x", "eta"]
    d = req.definition()
    assert sorted(d.space.names) == ["eta", "max_depth", "x"]
    assert d.static_hyperparameters["booster"] == "gbtree" and d.static_hyperparameters["epochs"] == "3"
    # AND the settings the request left out were chosen: 3 tuned -> 30 jobs, early stopping Off,
    # 2 retries, complete on convergence
    assert req.max_jobs == 30 and req.raw[CFG]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 30
    assert req.early_stopping == "Off" and req.raw[CFG]["TrainingJobEarlyStoppingType"] == "Off"
    assert d.retry_attempts == 2
    assert req.completion_criteria == {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    assert req.raw["Autotune"] == {"Mode": "Enabled"}
    # AND the caller's request is untouched, and the result resolves to itself
    assert request == original
    assert parse_request(req.raw).raw == req.raw
    # AND every trial's training job gets the statics
    trial = d.training_job_request("auto-001-0000abcd", {"x": "1.0", "eta": "0.1", "max_depth": "4"})
    assert trial["HyperParameters"]["booster"] == "gbtree"


def test_settings_the_request_gives_are_kept():
    request = tuning_request(
        "kept",
        strategy="Random",
        max_jobs=7,
        early_stopping="Auto",
        completion={"TargetObjectiveMetricValue": 0.1},
        retry_attempts=5,
        auto_parameters={"lr": "0.01"},
    )
    req = parse_request(request)
    assert (req.max_jobs, req.early_stopping, req.definition().retry_attempts) == (7, "Auto", 5)
    assert req.completion_criteria == {
        "TargetObjectiveMetricValue": 0.1,
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }


def test_what_the_sagemaker_sdk_sends_runs_its_script_mode_members_unchanged():
    """``HyperparameterTuner(autotune=True)`` lists every estimator hyperparameter as an
    AutoParameter, the script-mode ones included (json-encoded)."""
    request = tuning_request("sdk-auto", strategy="Bayesian", source="quick", auto_parameters={})
    static = request["TrainingJobDefinition"].pop("StaticHyperParameters")
    hints = {**{k: f'"{v}"' for k, v in static.items() if k.startswith("sagemaker_")}, "x": "4.0", "epochs": "2"}
    request[CFG]["ParameterRanges"]["AutoParameters"] = [{"Name": k, "ValueHint": v} for k, v in hints.items()]
    req = parse_request(request)
    d = req.definition()
    assert d.space.names == ["x"]
    assert d.static_hyperparameters == {
        "sagemaker_program": '"train.py"', "sagemaker_submit_directory": '"quick"', "epochs": "2"
    }


def test_several_definitions_each_resolve_their_own():
    one = training_definition(name="one", objective=("Minimize", "loss"), ranges={
        "AutoParameters": [{"Name": "a", "ValueHint": "4"}]
    })
    two = training_definition(name="two", objective=("Minimize", "loss"), ranges={
        "AutoParameters": [{"Name": "b", "ValueHint": "0.5"}, {"Name": "c", "ValueHint": "abc"}]
    })
    request = tuning_request("multi-auto", definitions=[one, two], max_jobs=None)
    request["Autotune"] = {"Mode": "Enabled"}
    req = parse_request(request)
    assert [d.space.names for d in req.definitions] == [["a"], ["b"]]
    assert req.definition("two").static_hyperparameters == {"c": "abc"}
    assert req.max_jobs == 20  # two tuned in all


def test_at_most_30_ranges_per_definition_the_rest_stay_static():
    hints = {f"p{i:02d}": str(i + 1) for i in range(35)}
    d = parse_request(tuning_request("wide", auto_parameters=hints)).definition()
    assert d.space.names == [f"p{i:02d}" for i in range(30)]  # in the order given
    assert {k: v for k, v in d.static_hyperparameters.items() if k.startswith("p")} == {
        f"p{i:02d}": str(i + 1) for i in range(30, 35)
    }


def test_describe_shows_the_chosen_ranges_and_settings():
    req = parse_request(tuning_request("shown", auto_parameters={"lr": "0.01"}))
    job = JobRecord(name="shown", request=dict(req.raw))
    d = results.describe(job, [])
    shapes.assert_valid_output("DescribeHyperParameterTuningJob", d)
    assert d["Autotune"] == {"Mode": "Enabled"}
    config = d[CFG]
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
    ]
    assert config["ParameterRanges"]["IntegerParameterRanges"] == []  # all three lists, as AMT shows
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3  # the builder's, kept
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert d["TrainingJobDefinition"]["RetryStrategy"] == {"MaximumRetryAttempts": 2}


def test_autotune_with_explicit_ranges_only_chooses_the_settings():
    request = tuning_request("settings", max_jobs=None, ranges=continuous(0, 1))
    request["Autotune"] = {"Mode": "Enabled"}
    req = parse_request(request)
    assert req.definition().space.names == ["x"]
    assert req.max_jobs == 20 and req.definition().retry_attempts == 2


@pytest.mark.parametrize(
    ("hints", "field", "words"),
    [
        ([{"Name": "a", "ValueHint": "1"}, {"Name": "a", "ValueHint": "2"}], "AutoParameters[1].Name", "twice"),
        ([{"Name": "", "ValueHint": "1"}], "AutoParameters[0].Name", "Name"),
        ([{"Name": "a", "ValueHint": 1}], "AutoParameters[0].ValueHint", "string"),
        ("a=1", "AutoParameters", "list"),
    ],
)
def test_malformed_auto_parameters_are_refused_by_member(hints, field, words):
    request = tuning_request("bad-auto", auto_parameters={})
    request[CFG]["ParameterRanges"]["AutoParameters"] = hints
    with pytest.raises(ValidationError) as err:
        parse_request(request)
    assert err.value.field == f"{CFG}.ParameterRanges.{field}" and words in str(err.value)


def test_a_hint_for_a_static_hyperparameter_is_refused():
    request = tuning_request("twice", static={"depth": "3"}, auto_parameters={"depth": "4"})
    with pytest.raises(ValidationError, match="StaticHyperParameters; give it once"):
        parse_request(request)
