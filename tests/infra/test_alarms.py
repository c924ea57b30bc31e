"""Operator alarms: failed or timed-out tuning executions, undeliverable events, Lambda errors."""
from __future__ import annotations

import json

from aws_cdk.assertions import Match


def test_alarms_cover_executions_the_dead_letter_queue_and_every_lambda(synth):
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    metrics = sorted(
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"])
        for a in alarms.values()
        if "MetricName" in a["Properties"]
    )
    assert metrics.count(("AWS/States", "ExecutionsFailed")) == 1
    assert metrics.count(("AWS/States", "ExecutionsTimedOut")) == 1
    assert metrics.count(("AWS/SQS", "ApproximateNumberOfMessagesVisible")) == 1
    functions = synth.resources("AWS::Lambda::Function")
    assert metrics.count(("AWS/Lambda", "Errors")) == len(functions)
    synth.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ExecutionsFailed", "Threshold": 1, "TreatMissingData": "notBreaching"},
    )
    # one metric-math alarm sums the throttles of every tuner function
    [throttled] = [a["Properties"] for a in alarms.values() if "Metrics" in a["Properties"]]
    stats = [m["MetricStat"]["Metric"] for m in throttled["Metrics"] if "MetricStat" in m]
    assert {(m["Namespace"], m["MetricName"]) for m in stats} == {("AWS/Lambda", "Throttles")}
    named = {json.dumps(m["Dimensions"][0]["Value"]) for m in stats}
    assert named == {json.dumps({"Ref": logical}) for logical in functions}
    [expression] = [m["Expression"] for m in throttled["Metrics"] if "Expression" in m]
    assert expression.startswith("SUM([") and expression.count(",") == len(functions) - 1


def test_an_alarm_topic_receives_every_alarm(tmp_path):
    import aws_cdk as cdk
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template

    from stacks.tuner_construct import TunerConstruct

    (tmp_path / "layer" / "python").mkdir(parents=True)  # an empty stand-in: no 140 MB copy
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "Probe")
    topic = sns.Topic(stack, "Ops")
    tuner = TunerConstruct(stack, "Tuner", alarm_topic=topic, scientific_layer_dir=tmp_path / "layer")
    template = Template.from_stack(stack)
    assert len(tuner.alarms) == len(template.find_resources("AWS::CloudWatch::Alarm"))
    template.all_resources_properties(
        "AWS::CloudWatch::Alarm", {"AlarmActions": [Match.object_like({"Ref": Match.string_like_regexp("Ops")})]}
    )
