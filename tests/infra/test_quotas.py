"""The deployment's quotas (docs/quotas.md): CDK context -> ``TunerConstruct`` props -> the create_job
Lambda's environment, where the create step reads them (``tuner.core.quotas``)."""

from __future__ import annotations

import pytest
from tuner import constants
from tuner.core.quotas import AMT_QUOTAS, SETTINGS

CONTEXT = {
    "tuner:maxParallelTrainingJobs": "20",
    "tuner:maxTrainingJobs": 900,
    "tuner:maxRandomTrainingJobs": "10000",
    "tuner:maxConcurrentTuningJobs": "5",
}


def environments(template_json: dict) -> dict[str, dict]:
    """Each tuner function's environment variables, by its LAMBDAS name (from its description)."""
    by_description = {d: n for n, d in constants.LAMBDAS.items()}
    return {
        by_description[r["Properties"]["Description"]]: r["Properties"]["Environment"]["Variables"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Description") in by_description
    }


def test_the_context_keys_reach_the_functions_that_create_only(synth, tmp_path):
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.app_context import stack_props
    from stacks.tuner_stack import TunerStack

    # GIVEN the four context keys WHEN the app turns them into props
    app = cdk.App(outdir=str(tmp_path), context={"tuner:nag": "false", **CONTEXT})
    props = stack_props(app)
    assert {prop: props[prop] for prop in SETTINGS} == {
        "max_parallel_training_jobs": 20,
        "max_training_jobs": 900,
        "max_random_training_jobs": 10_000,
        "max_concurrent_tuning_jobs": 5,
    }
    # THEN the synthesized create_job function (which enforces them) and the front door (which
    # refuses before it starts an execution) carry them, and no other function does
    envs = environments(Template.from_stack(TunerStack(app, "Quotas", **props)).to_json())
    assert {k: envs["front_door"][k] for k in constants.ENV_QUOTAS} == {k: envs["create_job"][k] for k in
                                                                        constants.ENV_QUOTAS}
    assert {k: envs["create_job"][k] for k in constants.ENV_QUOTAS} == {
        constants.ENV_MAX_PARALLEL_TRAINING_JOBS: "20",
        constants.ENV_MAX_TRAINING_JOBS: "900",
        constants.ENV_MAX_RANDOM_TRAINING_JOBS: "10000",
        constants.ENV_MAX_CONCURRENT_TUNING_JOBS: "5",
    }
    assert all(
        not set(constants.ENV_QUOTAS) & set(env)
        for name, env in envs.items()
        if name not in ("create_job", "front_door")
    )


def test_without_context_the_create_job_lambda_runs_amts_defaults(synth):
    env = environments(synth.json)["create_job"]
    assert {k: env[k] for k in constants.ENV_QUOTAS} == AMT_QUOTAS.environment()


@pytest.mark.parametrize(("key", "value", "why"), [
    ("tuner:maxParallelTrainingJobs", "101", "from 1 to 100"),
    ("tuner:maxParallelTrainingJobs", "many", "not a whole number"),
    ("tuner:maxRandomTrainingJobs", 10_001, "from 1 to 10000"),
    ("tuner:maxConcurrentTuningJobs", "0", "from 1 or more"),
])
def test_a_context_value_out_of_bounds_is_refused_naming_the_key(tmp_path, key, value, why):
    import aws_cdk as cdk

    from stacks.app_context import stack_props

    with pytest.raises(ValueError, match=f"^{key}={value!r}: .*{why}"):
        stack_props(cdk.App(outdir=str(tmp_path), context={key: value}))


def test_a_construct_prop_out_of_bounds_is_refused_naming_the_prop(tmp_path):
    import aws_cdk as cdk

    from stacks.tuner_stack import TunerStack

    with pytest.raises(ValueError, match="^max_parallel_training_jobs=101: "):
        TunerStack(cdk.App(outdir=str(tmp_path), context={"tuner:nag": "false"}), "Bad", max_parallel_training_jobs=101)
