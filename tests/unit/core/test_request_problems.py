"""Every problem of a request at once: ``core.request.request_problems`` / ``parse_request`` and the
``ValidationError.combined`` / ``Problems`` they use (issue 16: one validation path)."""
from __future__ import annotations

import pytest
from tuner.constants import RESERVED_TAG_PREFIX
from tuner.core.request import REQUEST_SUBJECT, parse_request, request_problems
from tuner.errors import Problems, ValidationError

from tests.builders import categorical, continuous, training_definition, tuning_request

LIMITS = "HyperParameterTuningJobConfig.ResourceLimits"


def fields(request: object) -> list[str | None]:
    req, problems = request_problems(request)
    assert req is None and problems, "the request was accepted"
    return [p.field for p in problems]


def test_three_independent_problems_are_three_lines_each_with_its_field():
    # GIVEN a request wrong in three unrelated places
    request = tuning_request("three", max_parallel=0, seed=-1, tags=[{"Key": f"{RESERVED_TAG_PREFIX}x", "Value": "v"}])
    # WHEN it is parsed, THEN one error lists the three, in the order AMT reports them
    with pytest.raises(ValidationError) as info:
        parse_request(request)
    lines = str(info.value).splitlines()
    assert lines[0] == f"3 problems in {REQUEST_SUBJECT}:"
    assert [line.split(": ")[0] for line in lines[1:]] == [
        f"- {LIMITS}.MaxParallelTrainingJobs",
        "- HyperParameterTuningJobConfig.RandomSeed",
        "- Tags[0].Key",
    ]
    assert info.value.field == f"{LIMITS}.MaxParallelTrainingJobs"  # the first problem's
    assert len(info.value.problems) == 3


def test_one_problem_keeps_its_single_line_message():
    with pytest.raises(ValidationError) as info:
        parse_request(tuning_request("one", max_parallel=0))
    assert str(info.value) == f"{LIMITS}.MaxParallelTrainingJobs: 0 is out of range; give an integer >= 1"
    assert info.value.problems == (str(info.value),)


def test_problems_in_several_definitions_are_each_reported():
    request = tuning_request(
        "multi",
        definitions=[
            training_definition(name="a", objective=("Minimize", "loss"), ranges=continuous(5, 1)),
            training_definition(name="b", objective=("Minimize", "nope"), ranges=continuous(0, 1)),
            training_definition(name="c", objective=("Minimize", "loss"), ranges=continuous(0, 1), retry_attempts=99),
        ],
    )
    assert fields(request) == [
        "TrainingJobDefinitions[0].HyperParameterRanges.ContinuousParameterRanges[x]",
        "TrainingJobDefinitions[1].AlgorithmSpecification.MetricDefinitions",
        "TrainingJobDefinitions[2].RetryStrategy.MaximumRetryAttempts",
    ]


def test_a_definition_with_problems_of_its_own_is_not_judged_again_by_the_rules_that_need_it():
    # Grid counts combinations of valid ranges: a broken range is one problem, not two
    grid = tuning_request("grid", strategy="Grid", ranges=continuous(5, 1), max_jobs=None)
    assert fields(grid) == ["HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[x]"]
    # Hyperband reads MaxResource from a static epochs: a broken static value is one problem
    hyperband = tuning_request("hb", strategy="Hyperband", static={"epochs": 10})
    assert fields(hyperband) == ["TrainingJobDefinition.StaticHyperParameters.epochs"]


def test_an_invalid_strategy_leaves_out_the_rules_that_depend_on_the_strategy():
    request = tuning_request("s", strategy="Bayesain", max_jobs=None, max_parallel=0)
    assert fields(request) == ["HyperParameterTuningJobConfig.Strategy", f"{LIMITS}.MaxParallelTrainingJobs"]


def test_hyperband_without_max_resource_or_an_epochs_hyperparameter_is_refused():
    request = tuning_request("hb", strategy="Hyperband", max_parallel=0)
    assert fields(request) == [
        "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource",
        f"{LIMITS}.MaxParallelTrainingJobs",
    ]


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        # not an object: nothing else can be read
        (lambda r: ["a", "list"], ["request"]),
        # no HyperParameterTuningJobConfig: the problems found before it, then it
        (lambda r: {"HyperParameterTuningJobName": "bad name!"}, ["HyperParameterTuningJobName",
                                                                  "HyperParameterTuningJobConfig"]),
        # no training job definition: the limits after it are not checked
        (lambda r: {**{k: v for k, v in r.items() if k != "TrainingJobDefinition"},
                    "HyperParameterTuningJobName": "bad name!"},
         ["HyperParameterTuningJobName", "TrainingJobDefinition"]),
    ],
    ids=["not-an-object", "no-config", "no-definitions"],
)
def test_a_problem_that_leaves_nothing_to_check_ends_the_checking(break_it, expected):
    request = tuning_request("stop", max_parallel=0)  # MaxParallelTrainingJobs is wrong too
    assert fields(break_it(request)) == expected


def test_a_valid_request_has_no_problems():
    req, problems = request_problems(tuning_request("ok", strategy="Grid", ranges=categorical("a", "b"), max_jobs=None))
    assert problems == [] and req is not None and req.max_jobs == 2


# ---- the error and the collector ------------------------------------------------------------------
def test_combined_lists_every_line_keeps_the_first_field_and_a_shared_code():
    a = ValidationError("wrong", "A")
    b = ValidationError("no parent", "B", code="ResourceNotFound")
    c = ValidationError("gone", "C", code="ResourceNotFound")
    assert ValidationError.combined([a], "x") is a
    both = ValidationError.combined([a, b], "the thing")
    assert str(both) == "2 problems in the thing:\n- A: wrong\n- B: no parent"
    assert (both.field, both.code, both.problems) == ("A", "ValidationException", ("A: wrong", "B: no parent"))
    assert ValidationError.combined([b, c], "x").code == "ResourceNotFound"
    nested = ValidationError.combined([both, c], "y")  # a combined error's lines are flattened
    assert nested.problems == ("A: wrong", "B: no parent", "C: gone") and str(nested).startswith("3 problems in y:")
    with pytest.raises(ValueError):
        ValidationError.combined([], "x")


def test_problems_keep_refusals_and_return_results():
    problems = Problems("the request")

    def positive(x: int) -> int:
        if x <= 0:
            raise ValidationError(f"{x} is not positive", "x")
        return x

    assert problems.check(positive, 3) == 3 and not problems
    assert problems.check(positive, -1) is None and problems.check(positive, 0) is None
    assert len(problems) == 2
    with pytest.raises(ValidationError) as info:
        problems.raise_any()
    assert str(info.value) == "2 problems in the request:\n- x: -1 is not positive\n- x: 0 is not positive"
    Problems("nothing").raise_any()  # no problem: no error
    with pytest.raises(KeyError):  # anything but a ValidationError is a bug, never kept
        problems.check(lambda: {}["k"])
