"""AMT's quotas on a request (``tuner.core.quotas``): each at its boundary, the message, the settings.

The figures are the SageMaker developer guide's, "Resource Limits for Automatic Model Tuning":
100 parallel (concurrent) tuning jobs, 10 parallel training jobs per tuning job (up to 100), 750
training jobs per tuning job for every strategy (Random: up to 10,000), Grid's counted "either
specified explicitly or inferred from the search space".
"""
from __future__ import annotations

import pytest
from tuner import constants
from tuner.core.quotas import AMT_QUOTAS, SETTINGS, Quotas
from tuner.core.request import parse_request
from tuner.errors import ValidationError

from tests.builders import categorical, tuning_request

LIMITS = "HyperParameterTuningJobConfig.ResourceLimits"
# "Resource Limits for Automatic Model Tuning": (default, can be increased to); N/A -> None
AMT_PAGE = {
    "max_concurrent_tuning_jobs": (100, None),
    "max_parallel_training_jobs": (10, 100),
    "max_training_jobs": (750, None),  # Bayesian, Hyperband, Grid: N/A
    "max_random_training_jobs": (750, 10_000),
}


def _refusal(quotas: Quotas, request: dict) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        quotas.check(parse_request(request))
    return err.value


def test_the_defaults_are_amts():
    assert {p: getattr(AMT_QUOTAS, p) for p in AMT_PAGE} == {p: d for p, (d, _) in AMT_PAGE.items()}
    # where AMT raises a quota on request, the deployment may go as far, and no further
    for prop, (_, raised) in AMT_PAGE.items():
        if raised is not None:
            assert SETTINGS[prop].ceiling == raised


@pytest.mark.parametrize(
    ("strategy", "prop", "extra"),
    [
        ("Bayesian", "max_training_jobs", {}),
        ("Hyperband", "max_training_jobs", {"static": {"epochs": "3"}}),  # counted as given: full-budget trials
        ("Random", "max_random_training_jobs", {}),
    ],
)
def test_the_job_count_at_the_limit_passes_and_one_more_is_refused(strategy, prop, extra):
    limit = getattr(AMT_QUOTAS, prop)
    AMT_QUOTAS.check(parse_request(tuning_request("ok", strategy=strategy, max_jobs=limit, **extra)))
    err = _refusal(AMT_QUOTAS, tuning_request("over", strategy=strategy, max_jobs=limit + 1, **extra))
    s = SETTINGS[prop]
    assert err.field == f"{LIMITS}.MaxNumberOfTrainingJobs"
    message = str(err)
    for part in (f"{limit + 1} is over", f"limit of {limit} training jobs", f"the {strategy} strategy",
                 f"the construct prop {prop}", f"the CDK context {s.context}", "AMT's default quota: 750"):
        assert part in message, (part, message)


def test_the_parallel_jobs_at_the_limit_pass_and_one_more_is_refused_naming_the_setting():
    AMT_QUOTAS.check(parse_request(tuning_request("ok", max_jobs=20, max_parallel=10)))
    err = _refusal(AMT_QUOTAS, tuning_request("over", max_jobs=20, max_parallel=11))
    assert err.field == f"{LIMITS}.MaxParallelTrainingJobs"
    assert str(err) == (
        f"{LIMITS}.MaxParallelTrainingJobs: 11 is over this deployment's limit of 10 parallel training jobs per "
        "tuning job (AMT's default quota: 10; at most 100 here); lower it, or raise the limit with the construct "
        "prop max_parallel_training_jobs or the CDK context tuner:maxParallelTrainingJobs"
    )


@pytest.mark.parametrize("given", [True, False])
def test_grid_counts_its_combinations_whether_given_or_inferred(given):
    # 30 x 25 = 750 combinations run; 29 x 26 = 754 do not
    def grid(name: str, a: int, b: int) -> dict:
        ranges = {"CategoricalParameterRanges": [
            categorical(*(str(i) for i in range(a)), name="a")["CategoricalParameterRanges"][0],
            categorical(*(str(i) for i in range(b)), name="b")["CategoricalParameterRanges"][0],
        ]}
        return tuning_request(name, strategy="Grid", ranges=ranges, max_jobs=a * b if given else None)

    AMT_QUOTAS.check(parse_request(grid("ok", 30, 25)))
    err = _refusal(AMT_QUOTAS, grid("over", 29, 26))
    assert err.field == f"{LIMITS}.MaxNumberOfTrainingJobs"
    assert "Grid search runs every combination of the categorical values, 754 training jobs," in str(err)
    assert "limit of 750" in str(err) and "max_training_jobs" in str(err) and "list fewer values" in str(err)


def test_random_has_its_own_higher_cap_that_the_other_strategies_do_not_share():
    raised = Quotas(max_random_training_jobs=10_000)
    raised.check(parse_request(tuning_request("r", strategy="Random", max_jobs=10_000)))
    err = _refusal(raised, tuning_request("r", strategy="Random", max_jobs=10_001))
    assert "limit of 10000" in str(err) and "max_random_training_jobs" in str(err)
    err = _refusal(raised, tuning_request("b", strategy="Bayesian", max_jobs=751))
    assert "limit of 750" in str(err) and "max_training_jobs" in str(err)


def test_a_raised_deployment_takes_what_amt_refuses():
    raised = Quotas(max_parallel_training_jobs=50, max_training_jobs=1_000)
    raised.check(parse_request(tuning_request("big", strategy="Bayesian", max_jobs=1_000, max_parallel=50)))
    with pytest.raises(ValidationError):
        AMT_QUOTAS.check(parse_request(tuning_request("big", strategy="Bayesian", max_jobs=1_000, max_parallel=50)))


@pytest.mark.parametrize(("prop", "value"), [
    ("max_parallel_training_jobs", 0), ("max_parallel_training_jobs", 101), ("max_training_jobs", 10_001),
    ("max_random_training_jobs", 10_001), ("max_concurrent_tuning_jobs", 0), ("max_training_jobs", True),
])
def test_a_setting_out_of_bounds_is_refused_naming_the_prop(prop, value):
    with pytest.raises(ValueError, match=f"^{prop}="):
        Quotas(**{prop: value})


def test_the_settings_travel_in_the_environment_and_absent_ones_are_amts():
    raised = Quotas(max_parallel_training_jobs=20, max_concurrent_tuning_jobs=3)
    assert set(raised.environment()) == set(constants.ENV_QUOTAS)
    assert Quotas.from_environment(raised.environment()) == raised
    assert Quotas.from_environment({}) is None  # not a create_job Lambda: the quotas are not known
    partial = Quotas.from_environment({constants.ENV_MAX_CONCURRENT_TUNING_JOBS: "7"})
    assert partial == Quotas(max_concurrent_tuning_jobs=7)
    with pytest.raises(ValueError, match=constants.ENV_MAX_TRAINING_JOBS):
        Quotas.from_environment({constants.ENV_MAX_TRAINING_JOBS: "many"})


def test_the_concurrent_refusal_speaks_amts_words_with_the_setting():
    err = Quotas(max_concurrent_tuning_jobs=3).concurrent_refusal(3)
    assert err.code == "ResourceLimitExceeded"
    assert str(err).startswith(
        "The deployment-level service limit 'Number of parallel (concurrent) hyperparameter tuning jobs' is 3 Jobs, "
        "with current utilization of 3 Jobs and a request delta of 1 Jobs."
    )
    assert "max_concurrent_tuning_jobs" in str(err) and "tuner:maxConcurrentTuningJobs" in str(err)
