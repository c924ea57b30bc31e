"""Requests with a built-in algorithm's image: accepted without MetricDefinitions when the objective
is one of the algorithm's metrics (with its direction), refused otherwise naming the allowed ones;
the training jobs get no MetricDefinitions and AMT's ``_tuning_objective_metric``. With a script
(``sagemaker_program``) the same image is script mode, as before."""
from __future__ import annotations

import pytest
from tuner.core.builtins import algorithm_named
from tuner.core.request import parse_request
from tuner.errors import ValidationError

from tests.builders import LOSS, XGBOOST_IMAGE, continuous, tuning_request

OBJECTIVE_FIELD = "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName"


def builtin_request(**kw):
    kw.setdefault("objective_type", "Maximize")
    return tuning_request("bx", builtin="xgboost", **kw)


def test_a_built_in_image_without_metric_definitions_is_accepted_with_the_algorithm_s_metrics():
    definition = parse_request(builtin_request()).definition()
    assert definition.builtin == "xgboost" and definition.objective_metric == "validation:auc"
    assert definition.metric_definitions == algorithm_named("xgboost").definitions()
    assert definition.objective_regex is not None


def test_an_objective_that_is_not_the_algorithm_s_is_refused_naming_the_allowed_metrics():
    with pytest.raises(ValidationError) as err:
        parse_request(builtin_request(objective_metric="validation:foo"))
    assert err.value.field == OBJECTIVE_FIELD
    message = str(err.value)
    assert "'validation:foo' is not a metric of SageMaker's built-in XGBoost algorithm" in message
    assert all(m in message for m in ("validation:auc", "validation:rmse", "validation:logloss"))
    assert len(message) <= 1024  # fits DescribeHyperParameterTuningJob's FailureReason


def test_the_direction_must_be_the_one_amt_allows():
    with pytest.raises(ValidationError, match="set the objective's Type to Maximize"):
        parse_request(builtin_request(objective_type="Minimize"))
    assert parse_request(builtin_request(objective_metric="validation:rmse", objective_type="Minimize"))


def test_metric_definitions_with_a_built_in_algorithm_are_refused_as_sagemaker_does():
    with pytest.raises(ValidationError, match="can't override the metric definitions") as err:
        parse_request(builtin_request(metric_definitions=[{"Name": "validation:auc", "Regex": "auc=([0-9.]+)"}]))
    assert err.value.field == "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions"


def test_the_same_image_with_a_script_is_script_mode_and_needs_metric_definitions():
    script = {"sagemaker_program": "train.py", "sagemaker_submit_directory": "s3://b/src.tar.gz"}
    with pytest.raises(ValidationError, match="a TrainingImage needs MetricDefinitions"):
        parse_request(tuning_request("s", image=XGBOOST_IMAGE, metric_definitions=[], static=script,
                                     objective_metric="loss"))
    definition = parse_request(tuning_request("s", image=XGBOOST_IMAGE, static=script)).definition()
    assert definition.builtin is None and definition.metric_definitions == tuple(LOSS)
    job = definition.training_job_request("s-001-abc", {"x": "1"})
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == LOSS
    assert "_tuning_objective_metric" not in job["HyperParameters"]


def test_a_user_s_own_image_named_like_an_algorithm_still_needs_metric_definitions():
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:latest"
    with pytest.raises(ValidationError, match="only SageMaker's built-in algorithms need none"):
        parse_request(tuning_request("u", image=image, metric_definitions=[], objective_metric="loss"))


def test_a_built_in_s_training_job_gets_no_metric_definitions_and_the_reserved_objective():
    definition = parse_request(builtin_request(ranges=continuous(0.1, 0.5, name="eta"))).definition()
    job = definition.training_job_request("bx-001-abc", {"eta": "0.2"})
    assert "MetricDefinitions" not in job["AlgorithmSpecification"]
    assert job["AlgorithmSpecification"]["TrainingImage"] == XGBOOST_IMAGE
    assert job["HyperParameters"] == {"_tuning_objective_metric": "validation:auc", "num_round": "10",
                                      "objective": "binary:logistic", "eval_metric": "auc", "eta": "0.2"}


def test_each_definition_of_several_is_judged_on_its_own():
    from tests.builders import training_definition

    request = tuning_request("multi", definitions=[
        training_definition(name="builtin", builtin="xgboost", objective=("Maximize", "validation:auc"),
                            ranges=continuous(0.1, 0.5, name="eta")),
        training_definition(name="script", objective=("Maximize", "loss"), ranges=continuous(0, 1)),
    ])
    builtin, script = parse_request(request).definitions
    assert (builtin.builtin, script.builtin) == ("xgboost", None)
    request["TrainingJobDefinitions"][0]["TuningObjective"]["MetricName"] = "validation:foo"
    with pytest.raises(ValidationError) as err:
        parse_request(request)
    assert err.value.field == "TrainingJobDefinitions[0].TuningObjective.MetricName"


def test_an_algorithm_name_never_passes_metric_definitions_to_the_training_job():
    request = tuning_request("a", algorithm_name="my-algo", metric_definitions=LOSS)
    definition = parse_request(request).definition()
    assert definition.metric_definitions == tuple(LOSS) and not definition.passes_metric_definitions
    job = definition.training_job_request("a-001-abc", {"x": "1"})
    assert job["AlgorithmSpecification"] == {"TrainingInputMode": "File", "AlgorithmName": "my-algo"}
