"""parse_request: AMT's semantic rules, one case per rule, and the CreateTrainingJob mapping."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tuner import shapes
from tuner.core.request import (
    CONVERTED_FIELDS,
    PASSTHROUGH_FIELDS,
    TUNER_FIELDS,
    Definition,
    TuningRequest,
    parse_request,
)
from tuner.errors import ValidationError

from tests.builders import EVENT_REQUESTS, LOSS, continuous, event_request, tuning_request


def minimal() -> dict[str, Any]:
    """The smallest valid request: Strategy and one range, nothing optional."""
    return tuning_request("minimal", ranges=continuous("0.001", "0.1", name="lr"), max_jobs=3, seed=None)


# ---- valid requests ---------------------------------------------------------------------------
def test_minimal_request_parses_with_defaults() -> None:
    req = parse_request(minimal())
    assert isinstance(req, TuningRequest)
    assert (req.name, req.strategy, req.max_jobs, req.max_parallel) == ("minimal", "Random", 3, 1)
    assert (req.objective_type, req.objective_metric, req.maximize) == ("Minimize", "loss", False)
    assert (req.early_stopping, req.max_runtime_seconds, req.random_seed) == ("Off", None, None)
    assert req.completion_criteria is None and req.warm_start is None and req.strategy_config == {}
    (d,) = req.definitions
    assert isinstance(d, Definition)
    assert d.name is None and d.space.names == ["lr"] and d.retry_attempts == 0
    assert d.metric_definitions == tuple(LOSS)


def test_strategy_defaults_to_bayesian() -> None:
    r = minimal()
    del r["HyperParameterTuningJobConfig"]["Strategy"]
    assert parse_request(r).strategy == "Bayesian"


@pytest.mark.parametrize("file", EVENT_REQUESTS)
def test_example_requests_are_valid(file: str) -> None:
    request = event_request(file)
    shapes.validate_input("CreateHyperParameterTuningJob", request)
    req = parse_request(request)
    # the request as it runs: as given, with the job count Grid runs when it gives none
    expected = copy.deepcopy(request)
    expected["HyperParameterTuningJobConfig"]["ResourceLimits"].setdefault("MaxNumberOfTrainingJobs", req.max_jobs)
    assert req.raw == expected
    assert req.definitions


def test_random_example() -> None:
    req = parse_request(event_request("request_random"))
    d = req.definition()
    assert req.random_seed == 42 and req.maximize and d.retry_attempts == 2
    assert sorted(d.space.names) == ["booster", "eta", "max_depth", "subsample"]
    assert d.static_hyperparameters == {"objective": "binary:logistic", "num_round": "100"}
    assert req.tags == ({"Key": "project", "Value": "tuner-examples"},)


def test_grid_example_counts_the_combinations() -> None:
    req = parse_request(event_request("request_grid"))
    assert req.strategy == "Grid" and req.max_jobs == 3 * 2


def test_sdk_example_with_tuning_resource_config_and_auto_scaling() -> None:
    req = parse_request(event_request("request_sdk"))
    d = req.definition()
    assert req.early_stopping == "Auto"
    eta = next(p for p in d.space if p.name == "eta")
    assert eta.requested_scaling == "Auto" and eta.scaling == "Logarithmic"  # 0.001..1: three decades
    assert d.resource_config() == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}


def test_multi_definition_example() -> None:
    req = parse_request(event_request("request_multi"))
    assert [d.name for d in req.definitions] == ["xgboost", "random-forest"]
    assert req.multi_definition and req.maximize and req.objective_metric == "validation:accuracy"
    assert req.definition("random-forest").space.names == ["n_estimators", "criterion"]
    assert req.completion_criteria == {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5}
    }
    with pytest.raises(KeyError):
        req.definition("nope")


def test_single_definition_objective_and_ranges_may_sit_in_the_definition() -> None:
    r = minimal()
    cfg = r["HyperParameterTuningJobConfig"]
    r["TrainingJobDefinition"]["TuningObjective"] = cfg.pop("HyperParameterTuningJobObjective")
    r["TrainingJobDefinition"]["HyperParameterRanges"] = cfg.pop("ParameterRanges")
    req = parse_request(r)
    assert req.objective_metric == "loss" and req.definition().space.names == ["lr"]


def test_algorithm_name_needs_no_metric_definitions() -> None:
    r = minimal()
    r["TrainingJobDefinition"]["AlgorithmSpecification"] = {
        "AlgorithmName": "my-algo",
        "TrainingInputMode": "File",
    }
    d = parse_request(r).definition()
    assert d.metric_definitions == () and d.objective_regex is None


def test_hyperband_with_strategy_config() -> None:
    r = minimal()
    cfg = r["HyperParameterTuningJobConfig"]
    cfg["Strategy"] = "Hyperband"
    cfg["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}}
    req = parse_request(r)
    assert req.strategy_config == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}}


def test_completion_criteria_and_warm_start_are_kept() -> None:
    r = minimal()
    r["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "TargetObjectiveMetricValue": 0.01,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    r["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-1"}],
        "WarmStartType": "TransferLearning",
    }
    req = parse_request(r)
    assert req.completion_criteria["TargetObjectiveMetricValue"] == 0.01
    assert req.warm_start["WarmStartType"] == "TransferLearning"


# ---- one case per rule ------------------------------------------------------------------------
Mutate = Callable[[dict[str, Any]], None]
CFG = "HyperParameterTuningJobConfig"
LIM = f"{CFG}.ResourceLimits"
TJD = "TrainingJobDefinition"
ALG = f"{TJD}.AlgorithmSpecification"


def cfg(r: dict[str, Any]) -> dict[str, Any]:
    return r[CFG]


def limits(r: dict[str, Any]) -> dict[str, Any]:
    return r[CFG]["ResourceLimits"]


def tjd(r: dict[str, Any]) -> dict[str, Any]:
    return r[TJD]


def _as_grid(r: dict[str, Any], max_jobs: int | None) -> None:
    cfg(r)["Strategy"] = "Grid"
    cfg(r)["ParameterRanges"] = {
        "CategoricalParameterRanges": [
            {"Name": "a", "Values": ["1", "2", "3"]},
            {"Name": "b", "Values": ["x", "y"]},
        ]
    }
    if max_jobs is None:
        limits(r).pop("MaxNumberOfTrainingJobs")
    else:
        limits(r)["MaxNumberOfTrainingJobs"] = max_jobs


def _as_multi(r: dict[str, Any]) -> None:
    d = r.pop(TJD)
    d["TuningObjective"] = cfg(r).pop("HyperParameterTuningJobObjective")
    d["HyperParameterRanges"] = cfg(r).pop("ParameterRanges")
    r["TrainingJobDefinitions"] = [
        dict(d, DefinitionName="one"),
        dict(copy.deepcopy(d), DefinitionName="two"),
    ]


def _multi_then(f: Mutate) -> Mutate:
    def go(r: dict[str, Any]) -> None:
        _as_multi(r)
        f(r)

    return go


RULES: list[tuple[str, Mutate, str, str]] = [
    # (id, mutation, field named in the error, a word the message must contain)
    (
        "name-pattern",
        lambda r: r.update(HyperParameterTuningJobName="bad_name"),
        "HyperParameterTuningJobName",
        "hyphens",
    ),
    (
        "name-leading-hyphen",
        lambda r: r.update(HyperParameterTuningJobName="-x"),
        "HyperParameterTuningJobName",
        "valid",
    ),
    (
        "name-length",
        lambda r: r.update(HyperParameterTuningJobName="a" * 33),
        "HyperParameterTuningJobName",
        "32",
    ),
    (
        "name-missing",
        lambda r: r.pop("HyperParameterTuningJobName"),
        "HyperParameterTuningJobName",
        "required",
    ),
    ("config-missing", lambda r: r.pop(CFG), CFG, "give"),
    ("autotune-mode", lambda r: r.update(Autotune={"Mode": "Disabled"}), "Autotune.Mode", "Enabled"),
    ("strategy-unknown", lambda r: cfg(r).update(Strategy="Evolution"), f"{CFG}.Strategy", "Bayesian"),
    ("no-definition", lambda r: r.pop(TJD), TJD, "give"),
    (
        "both-definitions",
        lambda r: r.update(TrainingJobDefinitions=[copy.deepcopy(r[TJD])]),
        "TrainingJobDefinitions",
        "not both",
    ),
    (
        "max-parallel-missing",
        lambda r: limits(r).pop("MaxParallelTrainingJobs"),
        f"{LIM}.MaxParallelTrainingJobs",
        ">= 1",
    ),
    (
        "max-parallel-zero",
        lambda r: limits(r).update(MaxParallelTrainingJobs=0),
        f"{LIM}.MaxParallelTrainingJobs",
        ">= 1",
    ),
    (
        "max-jobs-zero",
        lambda r: limits(r).update(MaxNumberOfTrainingJobs=0),
        f"{LIM}.MaxNumberOfTrainingJobs",
        ">= 1",
    ),
    (
        "max-jobs-missing",
        lambda r: limits(r).pop("MaxNumberOfTrainingJobs"),
        f"{LIM}.MaxNumberOfTrainingJobs",
        "Grid",
    ),
    (
        "max-jobs-not-int",
        lambda r: limits(r).update(MaxNumberOfTrainingJobs="3"),
        f"{LIM}.MaxNumberOfTrainingJobs",
        "integer",
    ),
    ("runtime-low", lambda r: limits(r).update(MaxRuntimeInSeconds=119), f"{LIM}.MaxRuntimeInSeconds", "120"),
    (
        "runtime-high",
        lambda r: limits(r).update(MaxRuntimeInSeconds=15_768_001),
        f"{LIM}.MaxRuntimeInSeconds",
        "15768000",
    ),
    ("grid-count", lambda r: _as_grid(r, 5), f"{LIM}.MaxNumberOfTrainingJobs", "6"),
    (
        "grid-categorical-only",
        lambda r: (
            _as_grid(r, None),
            cfg(r)["ParameterRanges"].update(
                IntegerParameterRanges=[{"Name": "n", "MinValue": "1", "MaxValue": "3"}]
            ),
        ),
        f"{CFG}.ParameterRanges.IntegerParameterRanges[n]",
        "categorical",
    ),
    (
        "hyperband-early-stopping",
        lambda r: cfg(r).update(Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto"),
        f"{CFG}.TrainingJobEarlyStoppingType",
        "Off",
    ),
    (
        "strategy-config-not-hyperband",
        lambda r: cfg(r).update(StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1}}),
        f"{CFG}.StrategyConfig",
        "Hyperband",
    ),
    (
        "hyperband-min-above-max",
        lambda r: cfg(r).update(
            Strategy="Hyperband",
            StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 9, "MaxResource": 3}},
        ),
        f"{CFG}.StrategyConfig.HyperbandStrategyConfig.MinResource",
        "MaxResource",
    ),
    (
        "early-stopping-value",
        lambda r: cfg(r).update(TrainingJobEarlyStoppingType="On"),
        f"{CFG}.TrainingJobEarlyStoppingType",
        "Auto",
    ),
    ("random-seed-negative", lambda r: cfg(r).update(RandomSeed=-1), f"{CFG}.RandomSeed", ">= 0"),
    (
        "objective-missing",
        lambda r: cfg(r).pop("HyperParameterTuningJobObjective"),
        f"{CFG}.HyperParameterTuningJobObjective",
        "objective",
    ),
    (
        "objective-type",
        lambda r: cfg(r)["HyperParameterTuningJobObjective"].update(Type="Max"),
        f"{CFG}.HyperParameterTuningJobObjective.Type",
        "Maximize",
    ),
    (
        "objective-twice-different",
        lambda r: tjd(r).update(TuningObjective={"Type": "Maximize", "MetricName": "loss"}),
        f"{TJD}.TuningObjective",
        "once",
    ),
    (
        "objective-not-a-metric",
        lambda r: cfg(r)["HyperParameterTuningJobObjective"].update(MetricName="accuracy"),
        f"{ALG}.MetricDefinitions",
        "accuracy",
    ),
    (
        "image-needs-metric-definitions",
        lambda r: tjd(r)["AlgorithmSpecification"].pop("MetricDefinitions"),
        f"{ALG}.MetricDefinitions",
        "MetricDefinitions",
    ),
    (
        "image-xor-algorithm-name",
        lambda r: tjd(r)["AlgorithmSpecification"].update(AlgorithmName="my-algo"),
        f"{ALG}.TrainingImage",
        "exactly one",
    ),
    (
        "metric-regex-invalid",
        lambda r: tjd(r)["AlgorithmSpecification"]["MetricDefinitions"][0].update(Regex="loss=(["),
        f"{ALG}.MetricDefinitions[0].Regex",
        "compile",
    ),
    (
        "objective-regex-needs-group",
        lambda r: tjd(r)["AlgorithmSpecification"]["MetricDefinitions"][0].update(Regex="loss=[0-9.]+"),
        f"{ALG}.MetricDefinitions[0].Regex",
        "capture group",
    ),
    (
        "metric-name-repeats",
        lambda r: tjd(r)["AlgorithmSpecification"]["MetricDefinitions"].append(
            {"Name": "loss", "Regex": "l=(.+)"}
        ),
        f"{ALG}.MetricDefinitions[1].Name",
        "twice",
    ),
    (
        "too-many-metric-definitions",
        lambda r: tjd(r)["AlgorithmSpecification"]["MetricDefinitions"].extend(
            {"Name": f"m{i}", "Regex": f"m{i}=(.+)"} for i in range(40)
        ),
        f"{ALG}.MetricDefinitions",
        "40",
    ),
    ("ranges-missing", lambda r: cfg(r).pop("ParameterRanges"), f"{CFG}.ParameterRanges", "ranges"),
    ("ranges-empty", lambda r: cfg(r).update(ParameterRanges={}), f"{CFG}.ParameterRanges", "at least one"),
    (
        "range-rule-from-search-space",
        lambda r: cfg(r)["ParameterRanges"]["ContinuousParameterRanges"][0].update(
            MinValue="0", ScalingType="Logarithmic"
        ),
        f"{CFG}.ParameterRanges.ContinuousParameterRanges[lr].ScalingType",
        "> 0",
    ),
    (
        "auto-parameters-without-autotune",
        lambda r: cfg(r)["ParameterRanges"].update(AutoParameters=[{"Name": "x", "ValueHint": "1"}]),
        f"{CFG}.ParameterRanges.AutoParameters",
        "Autotune {Mode: Enabled}",
    ),
    (
        "auto-parameter-also-a-range",
        lambda r: (
            r.update(Autotune={"Mode": "Enabled"}),
            cfg(r)["ParameterRanges"].update(AutoParameters=[{"Name": "lr", "ValueHint": "0.1"}]),
        ),
        f"{CFG}.ParameterRanges.AutoParameters",
        "give it once",
    ),
    (
        "auto-parameters-with-grid",
        lambda r: (
            r.update(Autotune={"Mode": "Enabled"}),
            _as_grid(r, None),
            cfg(r)["ParameterRanges"].update(AutoParameters=[{"Name": "x", "ValueHint": "1"}]),
        ),
        f"{CFG}.ParameterRanges.AutoParameters",
        "categorical",
    ),
    (
        "static-not-string",
        lambda r: tjd(r).update(StaticHyperParameters={"epochs": 10}),
        f"{TJD}.StaticHyperParameters.epochs",
        '"10"',
    ),
    (
        "static-and-tuned",
        lambda r: tjd(r).update(StaticHyperParameters={"lr": "0.01"}),
        f"{TJD}.StaticHyperParameters.lr",
        "both static and tuned",
    ),
    (
        "too-many-hyperparameters",
        lambda r: tjd(r).update(StaticHyperParameters={f"s{i}": "1" for i in range(100)}),
        f"{TJD}.StaticHyperParameters",
        "100",
    ),
    (
        "retry-attempts",
        lambda r: tjd(r).update(RetryStrategy={"MaximumRetryAttempts": 31}),
        f"{TJD}.RetryStrategy.MaximumRetryAttempts",
        "30",
    ),
    ("role-missing", lambda r: tjd(r).pop("RoleArn"), f"{TJD}.RoleArn", "required"),
    (
        "stopping-condition-missing",
        lambda r: tjd(r).pop("StoppingCondition"),
        f"{TJD}.StoppingCondition",
        "required",
    ),
    (
        "resources-missing",
        lambda r: tjd(r).pop("ResourceConfig"),
        f"{TJD}.ResourceConfig",
        "HyperParameterTuningResourceConfig",
    ),
    (
        "resources-both",
        lambda r: tjd(r).update(
            HyperParameterTuningResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1}
        ),
        f"{TJD}.ResourceConfig",
        "not both",
    ),
    (
        "instance-configs-and-instance-type",
        lambda r: tjd(r).update(
            ResourceConfig=None,
            HyperParameterTuningResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceConfigs": [{"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}],
            },
        ),
        f"{TJD}.HyperParameterTuningResourceConfig.InstanceType",
        "InstanceConfigs",
    ),
    (
        "completion-not-improving",
        lambda r: cfg(r).update(
            TuningJobCompletionCriteria={
                "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 2}
            }
        ),
        f"{CFG}.TuningJobCompletionCriteria.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving",
        ">= 3",
    ),
    (
        "completion-convergence",
        lambda r: cfg(r).update(
            TuningJobCompletionCriteria={"ConvergenceDetected": {"CompleteOnConvergence": "Yes"}}
        ),
        f"{CFG}.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence",
        "Enabled",
    ),
    (
        "completion-target",
        lambda r: cfg(r).update(TuningJobCompletionCriteria={"TargetObjectiveMetricValue": "high"}),
        f"{CFG}.TuningJobCompletionCriteria.TargetObjectiveMetricValue",
        "number",
    ),
    (
        "warm-start-no-parents",
        lambda r: r.update(
            WarmStartConfig={"ParentHyperParameterTuningJobs": [], "WarmStartType": "TransferLearning"}
        ),
        "WarmStartConfig.ParentHyperParameterTuningJobs",
        "1 to 5",
    ),
    (
        "warm-start-six-parents",
        lambda r: r.update(
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [
                    {"HyperParameterTuningJobName": f"p{i}"} for i in range(6)
                ],
                "WarmStartType": "TransferLearning",
            }
        ),
        "WarmStartConfig.ParentHyperParameterTuningJobs",
        "1 to 5",
    ),
    (
        "warm-start-type",
        lambda r: r.update(
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p1"}],
                "WarmStartType": "Identical",
            }
        ),
        "WarmStartConfig.WarmStartType",
        "IdenticalDataAndAlgorithm",
    ),
    (
        "warm-start-self",
        lambda r: r.update(
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "minimal"}],
                "WarmStartType": "TransferLearning",
            }
        ),
        "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName",
        "itself",
    ),
    (
        "warm-start-parent-twice",
        lambda r: r.update(
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [
                    {"HyperParameterTuningJobName": "p1"},
                    {"HyperParameterTuningJobName": "P1"},
                ],
                "WarmStartType": "TransferLearning",
            }
        ),
        "WarmStartConfig.ParentHyperParameterTuningJobs[1].HyperParameterTuningJobName",
        "twice",
    ),
    # multi-definition rules
    (
        "multi-warm-start",
        _multi_then(
            lambda r: r.update(
                WarmStartConfig={
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p1"}],
                    "WarmStartType": "TransferLearning",
                }
            )
        ),
        "WarmStartConfig",
        "single",
    ),
    (
        "multi-early-stopping",
        _multi_then(lambda r: cfg(r).update(TrainingJobEarlyStoppingType="Auto")),
        f"{CFG}.TrainingJobEarlyStoppingType",
        "single",
    ),
    (
        "multi-top-level-objective",
        _multi_then(
            lambda r: cfg(r).update(
                HyperParameterTuningJobObjective={"Type": "Minimize", "MetricName": "loss"}
            )
        ),
        f"{CFG}.HyperParameterTuningJobObjective",
        "TuningObjective",
    ),
    (
        "multi-top-level-ranges",
        _multi_then(
            lambda r: cfg(r).update(
                ParameterRanges={"CategoricalParameterRanges": [{"Name": "c", "Values": ["1"]}]}
            )
        ),
        f"{CFG}.ParameterRanges",
        "HyperParameterRanges",
    ),
    (
        "multi-empty",
        _multi_then(lambda r: r.update(TrainingJobDefinitions=[])),
        "TrainingJobDefinitions",
        "1 to 10",
    ),
    (
        "multi-eleven",
        _multi_then(
            lambda r: r.update(
                TrainingJobDefinitions=[
                    dict(copy.deepcopy(r["TrainingJobDefinitions"][0]), DefinitionName=f"d{i}")
                    for i in range(11)
                ]
            )
        ),
        "TrainingJobDefinitions",
        "1 to 10",
    ),
    (
        "multi-name-missing",
        _multi_then(lambda r: r["TrainingJobDefinitions"][1].pop("DefinitionName")),
        "TrainingJobDefinitions[1].DefinitionName",
        "required",
    ),
    (
        "multi-name-repeats",
        _multi_then(lambda r: r["TrainingJobDefinitions"][1].update(DefinitionName="one")),
        "TrainingJobDefinitions[1].DefinitionName",
        "repeats",
    ),
    (
        "multi-name-pattern",
        _multi_then(lambda r: r["TrainingJobDefinitions"][0].update(DefinitionName="a_b")),
        "TrainingJobDefinitions[0].DefinitionName",
        "valid",
    ),
    (
        "multi-objective-missing",
        _multi_then(lambda r: r["TrainingJobDefinitions"][1].pop("TuningObjective")),
        "TrainingJobDefinitions[1].TuningObjective",
        "TuningObjective",
    ),
    (
        "multi-ranges-missing",
        _multi_then(lambda r: r["TrainingJobDefinitions"][0].pop("HyperParameterRanges")),
        "TrainingJobDefinitions[0].HyperParameterRanges",
        "HyperParameterRanges",
    ),
    (
        "multi-objective-types-differ",
        _multi_then(lambda r: r["TrainingJobDefinitions"][1]["TuningObjective"].update(Type="Maximize")),
        "TrainingJobDefinitions[1].TuningObjective.Type",
        "agree",
    ),
    (
        "multi-metric-per-definition",
        _multi_then(lambda r: r["TrainingJobDefinitions"][1]["TuningObjective"].update(MetricName="acc")),
        "TrainingJobDefinitions[1].AlgorithmSpecification.MetricDefinitions",
        "acc",
    ),
]


@pytest.mark.parametrize("mutate, field, word", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_rule(mutate: Mutate, field: str, word: str) -> None:
    # GIVEN a valid request broken in one place
    request = minimal()
    mutate(request)
    # WHEN it is parsed, THEN the error names the member and says what to do
    with pytest.raises(ValidationError) as info:
        parse_request(request)
    assert info.value.field == field, str(info.value)
    assert word in str(info.value)


def test_multi_base_is_valid() -> None:
    """The multi-definition rules above start from a valid request."""
    r = minimal()
    _as_multi(r)
    req = parse_request(r)
    assert [d.name for d in req.definitions] == ["one", "two"]


def test_grid_without_max_jobs_runs_every_combination() -> None:
    r = minimal()
    _as_grid(r, None)
    req = parse_request(r)
    assert req.max_jobs == 6
    # the request as it runs (stored, described) says so, as AMT's describe does
    assert req.raw[CFG]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6
    assert "MaxNumberOfTrainingJobs" not in limits(r)  # the caller's request is left alone
    assert parse_request(req.raw).raw == req.raw  # and parses to itself
    _as_grid(r, 6)
    assert parse_request(r).max_jobs == 6
    assert parse_request(r).raw is r


def test_multi_grid_counts_every_definition() -> None:
    r = minimal()
    _as_multi(r)
    cfg(r)["Strategy"] = "Grid"
    limits(r).pop("MaxNumberOfTrainingJobs")
    for d, values in zip(r["TrainingJobDefinitions"], (["1", "2"], ["1", "2", "3"]), strict=True):
        d["HyperParameterRanges"] = {"CategoricalParameterRanges": [{"Name": "c", "Values": values}]}
    assert parse_request(r).max_jobs == 5


# ---- CreateTrainingJob mapping ---------------------------------------------------------------
def test_mapping_covers_every_member_of_the_definition() -> None:
    """Every HyperParameterTrainingJobDefinition member is passed through, converted or used by the tuner."""
    definition = set(shapes.members("HyperParameterTrainingJobDefinition"))
    create = set(shapes.members("CreateTrainingJobRequest"))
    handled = set(PASSTHROUGH_FIELDS) | set(CONVERTED_FIELDS) | set(TUNER_FIELDS)
    assert definition <= handled, f"unmapped: {sorted(definition - handled)}"
    shared = definition & create
    assert shared - {"RetryStrategy"} == set(PASSTHROUGH_FIELDS) | {
        "AlgorithmSpecification",
        "ResourceConfig",
    }
    assert set(PASSTHROUGH_FIELDS) <= create
    # the algorithm members we copy exist on both sides
    assert set(shapes.members("HyperParameterAlgorithmSpecification")) <= set(
        shapes.members("AlgorithmSpecification")
    )


@pytest.mark.parametrize("file", EVENT_REQUESTS)
def test_training_job_request_round_trip(file: str) -> None:
    req = parse_request(event_request(file))
    for i, d in enumerate(req.definitions):
        tuned = d.space.from_unit([0.3] * d.space.dim)
        job_name = f"{req.name}-{i + 1:03d}-0a1b2c3d"
        ctj = d.training_job_request(job_name, tuned, list(req.tags) or None)
        shapes.validate_input("CreateTrainingJob", ctj)
        assert ctj["TrainingJobName"] == job_name
        assert ctj["HyperParameters"] == {**d.static_hyperparameters, **tuned}
        assert all(isinstance(v, str) for v in ctj["HyperParameters"].values())
        assert "RetryStrategy" not in ctj
        for key in PASSTHROUGH_FIELDS:
            assert ctj.get(key) == d.raw.get(key)
        spec = d.raw["AlgorithmSpecification"]
        assert ctj["AlgorithmSpecification"]["TrainingImage"] == spec["TrainingImage"]
        assert ctj["AlgorithmSpecification"]["TrainingInputMode"] == spec["TrainingInputMode"]
        assert ctj["AlgorithmSpecification"]["MetricDefinitions"] == spec["MetricDefinitions"]
        assert ("Tags" in ctj) == bool(req.tags)


def test_training_job_request_full_passthrough() -> None:
    r = minimal()
    extra = {
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t/"}},
            }
        ],
        "Environment": {"MODE": "tuning"},
        "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
        "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": "s3://b/checkpoints/"},
        "RetryStrategy": {"MaximumRetryAttempts": 3},
    }
    tjd(r).update(copy.deepcopy(extra))
    tjd(r)["StoppingCondition"]["MaxWaitTimeInSeconds"] = 1200
    d = parse_request(r).definition()
    ctj = d.training_job_request("minimal-001-abc", {"lr": "0.01"}, [{"Key": "k", "Value": "v"}])
    shapes.validate_input("CreateTrainingJob", ctj)
    for key in PASSTHROUGH_FIELDS:
        assert key in ctj, key
    assert ctj["StoppingCondition"] == {"MaxRuntimeInSeconds": 300, "MaxWaitTimeInSeconds": 1200}
    assert ctj["Tags"] == [{"Key": "k", "Value": "v"}]
    assert "RetryStrategy" not in ctj and d.retry_attempts == 3


def test_instance_configs_take_the_first() -> None:
    r = minimal()
    del tjd(r)["ResourceConfig"]
    tjd(r)["HyperParameterTuningResourceConfig"] = {
        "VolumeKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abcd",
        "AllocationStrategy": "Prioritized",
        "InstanceConfigs": [
            {"InstanceType": "ml.c5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 8},
            {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 8},
        ],
    }
    d = parse_request(r).definition()
    ctj = d.training_job_request("minimal-001-abc", {"lr": "0.01"}, None)
    shapes.validate_input("CreateTrainingJob", ctj)
    assert ctj["ResourceConfig"] == {
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 8,
        "VolumeKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abcd",
    }
    assert "Tags" not in ctj


def test_training_job_request_accepts_static_values_unchanged_but_not_changed() -> None:
    r = minimal()
    tjd(r)["StaticHyperParameters"] = {"epochs": "5"}
    d = parse_request(r).definition()
    ctj = d.training_job_request("j", {"epochs": "5", "lr": 0.01}, None)
    assert ctj["HyperParameters"] == {"epochs": "5", "lr": "0.01"}
    with pytest.raises(ValueError):
        d.training_job_request("j", {"epochs": "6", "lr": "0.01"}, None)


def test_the_request_modules_are_part_of_the_core() -> None:
    """So the core's purity (tests/unit/test_architecture.py) covers request parsing."""
    import tuner.core

    names = {p.name for p in Path(tuner.core.__file__).parent.glob("*.py")}
    assert {"request.py", "request_definitions.py", "request_checks.py"} <= names
