"""Stack-level contract: outputs, cdk-nag, the offline (moto) synthesis mode, a clear build error."""

from __future__ import annotations

import pytest
from tuner import constants

OUTPUTS = [
    constants.OUTPUT_STATE_MACHINE_ARN,
    constants.OUTPUT_TABLE_NAME,
    constants.OUTPUT_BUCKET_NAME,
    constants.OUTPUT_EVENT_HANDLER,
    constants.OUTPUT_SWEEPER,
]


def test_outputs_name_the_resources_clients_need(synth):
    outputs = synth.json["Outputs"]
    assert set(OUTPUTS) <= set(outputs)
    resources = synth.json["Resources"]

    def target(name):
        value = outputs[name]["Value"]
        return resources[value["Ref"]]["Type"]

    assert target(constants.OUTPUT_STATE_MACHINE_ARN) == "AWS::StepFunctions::StateMachine"
    assert target(constants.OUTPUT_TABLE_NAME) == "AWS::DynamoDB::Table"
    assert target(constants.OUTPUT_BUCKET_NAME) == "AWS::S3::Bucket"
    handler = resources[outputs[constants.OUTPUT_EVENT_HANDLER]["Value"]["Ref"]]
    sweeper = resources[outputs[constants.OUTPUT_SWEEPER]["Value"]["Ref"]]
    assert handler["Properties"]["Description"] == constants.LAMBDAS["training_event"]
    assert sweeper["Properties"]["Description"] == constants.LAMBDAS["sweeper"]


def test_cdk_nag_leaves_no_unacknowledged_finding(synth):
    [report] = synth.validation_report()["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["violations"] == []
    assert report["conclusion"] == "success"
    assert all(v["ruleName"].startswith("AwsSolutions-") for v in report["suppressedViolations"])


def test_local_mode_has_no_bootstrap_version_rule(synth):
    """moto's CloudFormation cannot evaluate the bootstrap-version rule (tuner:local=true)."""
    assert "CheckBootstrapVersion" not in synth.json.get("Rules", {})
    assert "BootstrapVersion" not in synth.json.get("Parameters", {})


def test_missing_scientific_layer_stops_synthesis_with_the_build_command(tmp_path):
    import aws_cdk as cdk

    from stacks.tuner_construct import MissingLayerError, TunerConstruct

    stack = cdk.Stack(cdk.App(outdir=str(tmp_path / "out")), "Probe")
    with pytest.raises(MissingLayerError, match=r"run `python layers/build.py` first"):
        TunerConstruct(stack, "Tuner", scientific_layer_dir=tmp_path / "nothing")


def test_context_props(tmp_path):
    import aws_cdk as cdk

    from stacks.app_context import nag_enabled, stack_props

    app = cdk.App(
        outdir=str(tmp_path),
        context={
            "allowedExecutionRoleArns": "arn:aws:iam::1:role/A, arn:aws:iam::1:role/B",
            "tuner:nag": "false",
        },
    )
    props = stack_props(app)
    assert props == {"allowed_execution_role_arns": ["arn:aws:iam::1:role/A", "arn:aws:iam::1:role/B"]}
    assert not nag_enabled(app)
    assert nag_enabled(cdk.App(outdir=str(tmp_path)))
    retry = stack_props(cdk.App(outdir=str(tmp_path), context={"tuner:retryIntervalSeconds": "2"}))
    assert retry["retry_interval"].to_seconds() == 2
    with pytest.raises(ValueError, match="at least 1 s"):
        stack_props(cdk.App(outdir=str(tmp_path), context={"tuner:retryIntervalSeconds": 0}))
    assert "synthesizer" in stack_props(cdk.App(outdir=str(tmp_path), context={"tuner:local": "true"}))


def test_lap_trials_context_reaches_create_job(tmp_path):
    import aws_cdk as cdk
    from aws_cdk.assertions import Match, Template
    from tuner import constants

    from stacks.app_context import stack_props
    from stacks.tuner_stack import TunerStack

    assert stack_props(cdk.App(outdir=str(tmp_path), context={"tuner:lapTrials": "250"}))["lap_trials"] == 250
    with pytest.raises(ValueError, match="tuner:lapTrials=0"):
        stack_props(cdk.App(outdir=str(tmp_path), context={"tuner:lapTrials": 0}))
    app = cdk.App(outdir=str(tmp_path), context={"tuner:nag": "false"})
    stack = TunerStack(app, "Laps", lap_trials=250)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({constants.ENV_LAP_TRIALS: "250"})}},
    )
    with pytest.raises(ValueError, match="at least one trial"):
        TunerStack(cdk.App(outdir=str(tmp_path / "b"), context={"tuner:nag": "false"}), "Bad", lap_trials=0)


def test_lap_wait_context_and_its_deprecated_alias(tmp_path):
    """``tuner:lapWaitSeconds`` sets the lap's wait; ``tuner:workerWaitSeconds`` (its old name) is a
    deprecated alias still read, so existing deployments keep their setting; the new key wins."""
    import aws_cdk as cdk

    from stacks.app_context import stack_props

    def props(context: dict) -> dict:
        return stack_props(cdk.App(outdir=str(tmp_path), context=context))

    assert "lap_wait_timeout" not in props({})
    assert props({"tuner:lapWaitSeconds": "20"})["lap_wait_timeout"].to_seconds() == 20
    assert props({"tuner:workerWaitSeconds": "30"})["lap_wait_timeout"].to_seconds() == 30
    both = {"tuner:lapWaitSeconds": "20", "tuner:workerWaitSeconds": "30"}
    assert props(both)["lap_wait_timeout"].to_seconds() == 20
    with pytest.raises(ValueError, match="tuner:lapWaitSeconds=0"):
        props({"tuner:lapWaitSeconds": 0})
    with pytest.raises(ValueError, match=r"tuner:workerWaitSeconds=0 \(deprecated alias of tuner:lapWaitSeconds\)"):
        props({"tuner:workerWaitSeconds": 0})


def test_capacity_wait_context(tmp_path):
    """``tuner:capacityWaitSeconds`` / ``tuner:capacityMaxWaitSeconds`` / ``tuner:capacityGiveUpSeconds``
    make the ``capacity_wait`` prop; a key left out keeps its default; an unworkable policy is refused
    naming the keys."""
    import aws_cdk as cdk
    from tuner.core.capacity import CapacityWait

    from stacks.app_context import stack_props

    def props(context: dict) -> dict:
        return stack_props(cdk.App(outdir=str(tmp_path), context=context))

    assert "capacity_wait" not in props({})
    short = props({"tuner:capacityWaitSeconds": "1", "tuner:capacityMaxWaitSeconds": 2})
    assert short["capacity_wait"] == CapacityWait(first=1, cap=2, give_up=CapacityWait().give_up)
    assert props({"tuner:capacityGiveUpSeconds": "3600"})["capacity_wait"] == CapacityWait(give_up=3600)
    with pytest.raises(ValueError, match=r"tuner:capacityWaitSeconds=600, tuner:capacityMaxWaitSeconds=300"):
        props({"tuner:capacityWaitSeconds": 600})


def test_capacity_wait_reaches_next_trial_through_the_stack(tmp_path):
    import json

    import aws_cdk as cdk
    from tuner.core.capacity import CapacityWait

    from stacks.tuner_stack import TUNER_PROPS, TunerStack

    if "capacity_wait" not in TUNER_PROPS:
        pytest.skip("TunerConstruct has no capacity_wait setting yet (docs/capacity.md, 'Settings')")
    (tmp_path / "layer" / "python").mkdir(parents=True)  # an empty stand-in: no 140 MB copy
    app = cdk.App(outdir=str(tmp_path / "out"), context={"tuner:nag": "false"})
    policy = CapacityWait(first=1, cap=2, give_up=60)
    stack = TunerStack(app, "Capacity", capacity_wait=policy, scientific_layer_dir=tmp_path / "layer")
    definition = stack.resolve(stack.tuner.state_machine.node.default_child.definition_string)  # type: ignore[union-attr]
    asl = json.loads("".join(p if isinstance(p, str) else "X" for p in definition["Fn::Join"][1]))
    payload = asl["States"]["RunLaps"]["ItemProcessor"]["States"]["NextTrial"]["Parameters"]["Payload"]
    assert CapacityWait.from_payload(payload["CapacityWait"]) == policy


def test_lap_wait_timeout_reaches_next_trial_through_the_stack(tmp_path):
    """``TunerStack`` forwards the construct's settings by its signature: the new name passes through."""
    import json

    import aws_cdk as cdk

    from stacks.tuner_stack import TunerStack

    (tmp_path / "layer" / "python").mkdir(parents=True)  # an empty stand-in: no 140 MB copy
    app = cdk.App(outdir=str(tmp_path / "out"), context={"tuner:nag": "false"})
    stack = TunerStack(
        app, "LapWait", lap_wait_timeout=cdk.Duration.seconds(42), scientific_layer_dir=tmp_path / "layer"
    )
    definition = stack.resolve(stack.tuner.state_machine.node.default_child.definition_string)  # type: ignore[union-attr]
    asl = json.loads("".join(p if isinstance(p, str) else "X" for p in definition["Fn::Join"][1]))
    assert asl["States"]["RunLaps"]["ItemProcessor"]["States"]["NextTrial"]["TimeoutSeconds"] == 42
