"""A tuning family, run twice offline: the first job started from the client side, the second by
the data-arrival rule (S3 "Object Created" -> EventBridge -> the retune Lambda -> StartExecution),
warm-started from the first. The tuner's state-change events are captured by a consumer rule into
a CloudWatch Logs group and checked against the documented detail shape (docs/events.md)."""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime

import pytest
from tuner import constants
from tuner.local import eventbridge
from tuner.local.deploy import ACCOUNT
from tuner.shapes import assert_valid_output
from tuner.wiring import build_family_service

from tests.builders import SCRIPTS, continuous, training_jobs, tuning_request

pytestmark = pytest.mark.e2e

FAMILY = "retune-e2e"
DATA_BUCKET = "tuner-e2e-retune-data"
PREFIX = "incoming/"
LOG_GROUP = "/tuner/e2e/tuning-job-state-changes"
LO, HI = 0.0, 10.0
TIME_FIELDS = {
    "CreationTime",
    "LastModifiedTime",
    "HyperParameterTuningEndTime",
    "TrainingStartTime",
    "TrainingEndTime",
    "ConvergenceDetectedTime",
}


def _retune_function_arn(lt) -> str:
    lam = lt.session.client("lambda")
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            if fn.get("Description") == constants.LAMBDAS["retune"]:
                return fn["FunctionArn"]
    raise AssertionError("the deployed stack has no retune Lambda")


def _deploy_data_trigger(lt, tmp_path) -> dict:
    """The data-arrival rule as ``stacks.retuning.RetuningTriggers`` synthesizes it (the same code
    ``TunerConstruct(retune_data_triggers=...)`` runs), deployed through CloudFormation into moto
    and targeting the deployed stack's retune Lambda."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from stacks.retuning import RetuningTriggers

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(
        app,
        "RetuneTriggers",
        env=cdk.Environment(account=ACCOUNT, region=lt.region),
        synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
    )
    fn = lambda_.Function.from_function_arn(stack, "Retune", _retune_function_arn(lt))
    RetuningTriggers(
        stack,
        "Triggers",
        function=fn,
        data_triggers=[{"family": FAMILY, "bucket": DATA_BUCKET, "prefix": PREFIX}],
    )
    template = app.synth().get_stack_by_name("RetuneTriggers").template
    cfn = lt.session.client("cloudformation")
    cfn.create_stack(StackName="RetuneTriggers", TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName="RetuneTriggers")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    return template


def _s3_object_created(bucket: str, key: str, size: int, region: str) -> dict:
    """The event S3 puts on the default bus for a new object (bucket with EventBridge enabled)."""
    return {
        "Source": "aws.s3",
        "DetailType": "Object Created",
        "Resources": [f"arn:aws:s3:::{bucket}"],
        "Detail": json.dumps(
            {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {
                    "key": key,
                    "size": size,
                    "etag": "d41d8cd98f00b204e9800998ecf8427e",
                    "sequencer": "0062E99A88DC407460",
                },
                "request-id": "57H08PA84AB1JZW0",
                "requester": ACCOUNT,
                "source-ip-address": "198.51.100.7",
                "reason": "PutObject",
            }
        ),
        "EventBusName": "default",
    }


def _capture_state_changes(lt) -> None:
    """A downstream consumer: every tuner state-change event into a log group."""
    logs, events = lt.session.client("logs"), lt.session.client("events")
    logs.create_log_group(logGroupName=LOG_GROUP)
    bus = lt.deployment.outputs[constants.OUTPUT_EVENT_BUS_NAME]  # the tuner's own bus
    events.put_rule(
        Name="e2e-capture-tuning-job-state-changes",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": [constants.TUNER_SOURCE], "detail-type": [constants.TUNING_STATE_CHANGE]}
        ),
    )
    events.put_targets(
        Rule="e2e-capture-tuning-job-state-changes",
        EventBusName=bus,
        Targets=[{"Id": "logs", "Arn": f"arn:aws:logs:{lt.region}:{ACCOUNT}:log-group:{LOG_GROUP}"}],
    )


def _captured(lt) -> list[dict]:
    logs = lt.session.client("logs")
    out = []
    for stream in logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]:
        for e in logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"])["events"]:
            out.append(json.loads(e["message"]))
    return out


def describe_from_detail(detail: dict) -> dict:
    """docs/events.md: the detail is DescribeHyperParameterTuningJob with ISO-8601 times, plus
    the optional ``TuningJobCompletionReason``; this turns it back into the response."""

    def back(value, key=None):
        if isinstance(value, dict):
            return {k: back(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [back(v) for v in value]
        if key in TIME_FIELDS and isinstance(value, str):
            return datetime.fromisoformat(value)
        return value

    return back({k: v for k, v in detail.items() if k != "TuningJobCompletionReason"})


def _wait_running(families, name: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = families.describe(name).get("RunningTuningJob")
        if running:
            return running["HyperParameterTuningJobName"]
        time.sleep(0.2)
    raise AssertionError(f"no retune of {name} started; delivery errors: {eventbridge.delivery_errors()}")


def test_a_family_retunes_warm_started_through_the_data_arrival_rule(local_tuner, tmp_path):
    lt = local_tuner
    _capture_state_changes(lt)
    families = build_family_service(
        lt.deployment.table_name, lt.deployment.state_machine_arn, region=lt.region, session=lt.session
    )
    # GIVEN a family: Bayesian over x in [0, 10] (loss |x - 3| + 1/epoch), warm-started retunes of 3 jobs,
    # sequential so that the proposals are reproducible
    base = tuning_request(
        "base", source="quick", strategy="Bayesian", ranges=continuous(LO, HI, scaling="Linear"), max_jobs=6, seed=5
    )
    base = lt.prepare(base, SCRIPTS)  # sources to S3, as the SDK does
    del base["HyperParameterTuningJobName"]
    families.register(
        {
            "FamilyName": FAMILY,
            "BaseRequest": base,
            "WarmStartType": "IdenticalDataAndAlgorithm",
            # one at a time: concurrent proposals do not yet see each other (see the closing note)
            "Budget": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
            "MaxParents": 5,
        }
    )

    # WHEN it runs once (cold)
    first = families.retune(FAMILY, "cli")
    assert first["Parents"] == []
    d1 = lt.wait(first["HyperParameterTuningJobName"], timeout=300)
    assert d1["HyperParameterTuningJobStatus"] == "Completed"
    best_x = float(d1["BestTrainingJob"]["TunedHyperParameters"]["x"])

    # AND new data lands under the trigger's prefix (the rule deployed from the construct's template)
    template = _deploy_data_trigger(lt, tmp_path)
    [rule] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [DATA_BUCKET]}, "object": {"key": [{"prefix": PREFIX}]}},
    }
    s3, events = lt.session.client("s3"), lt.session.client("events")
    s3.create_bucket(Bucket=DATA_BUCKET)
    body = b"x,loss\n3,1.0\n"
    s3.put_object(Bucket=DATA_BUCKET, Key=f"{PREFIX}part-0001.csv", Body=body)
    # moto's S3 skips input transformers on its EventBridge notifications: put the event S3 emits
    assert (
        events.put_events(
            Entries=[_s3_object_created(DATA_BUCKET, f"{PREFIX}part-0001.csv", len(body), lt.region)]
        )["FailedEntryCount"]
        == 0
    )
    # an object outside the prefix is no trigger
    events.put_events(Entries=[_s3_object_created(DATA_BUCKET, "other/part.csv", 1, lt.region)])

    # THEN the rule's target input reached the retune Lambda, which started the second job
    second = _wait_running(families, FAMILY)
    assert second != first["HyperParameterTuningJobName"] and second.startswith(f"{FAMILY}-")
    eventbridge.wait_deliveries(30)
    data_deliveries = [d for d in eventbridge.deliveries if d["event"].get("Trigger") == "data"]
    assert [d["event"] for d in data_deliveries] == [
        {"Family": FAMILY, "Trigger": "data", "Bucket": DATA_BUCKET, "Key": f"{PREFIX}part-0001.csv"}
    ]
    assert data_deliveries[0]["ok"] is True
    d2 = lt.wait(second, timeout=300)

    # AND it was warm-started from the first, ran to completion, and named like its family
    assert d2["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": first["HyperParameterTuningJobName"]}
        ],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    assert d2["HyperParameterTuningJobStatus"] == "Completed"
    assert d2["TrainingJobStatusCounters"]["Completed"] == 3
    assert "OverallBestTrainingJob" in d2
    assert_valid_output("DescribeHyperParameterTuningJob", d2)
    described = families.describe(FAMILY)
    assert described["TuningJobs"] == [first["HyperParameterTuningJobName"], second]

    # AND the family's lock is free again (the job-ended rule released it; a retune would start)
    eventbridge.wait_deliveries(30)
    assert "RunningTuningJob" not in families.describe(FAMILY)

    # AND the state-change events were published with the documented detail
    captured = _captured(lt)
    by_job: dict[str, list] = {}
    for e in captured:
        by_job.setdefault(e["detail"]["HyperParameterTuningJobName"], []).append(e)
    for job, d in ((first["HyperParameterTuningJobName"], d1), (second, d2)):
        # one event at every status change: stored (InProgress), then Completed (the log group
        # target does not keep their order)
        statuses = sorted(e["detail"]["HyperParameterTuningJobStatus"] for e in by_job[job])
        assert statuses == ["Completed", "InProgress"]
        event = next(e for e in by_job[job] if e["detail"]["HyperParameterTuningJobStatus"] == "Completed")
        assert event["source"] == "tuner" and event["detail-type"] == constants.TUNING_STATE_CHANGE
        assert event["resources"] == [d["HyperParameterTuningJobArn"]]
        assert event["detail"]["HyperParameterTuningJobStatus"] == "Completed"
        assert (
            event["detail"]["BestTrainingJob"]["TrainingJobName"] == d["BestTrainingJob"]["TrainingJobName"]
        )
        assert_valid_output("DescribeHyperParameterTuningJob", describe_from_detail(event["detail"]))
    assert not [e for e in eventbridge.delivery_errors() if "retune" in e.lower()]

    # AND its early proposals concentrate near the first job's best (warm start feeds the strategy)
    _assert_concentrated(lt, second, first["HyperParameterTuningJobName"], best_x)


def _assert_concentrated(lt, job: str, cold: str, best_x: float) -> None:
    """The warm-started job's first three proposals sit near the parent's best: their median distance
    is under half the distance a uniform random proposal has on average, and under the cold job's
    own first three (its initial design). The median, because EI may spend one early trial exploring."""

    def first_xs(name: str) -> list[float]:
        jobs = sorted(training_jobs(lt, name), key=lambda s: s["TrainingJobName"])
        return [float(s["TunedHyperParameters"]["x"]) for s in jobs[:3]]

    early, cold_early = first_xs(job), first_xs(cold)
    distance = statistics.median(abs(x - best_x) for x in early)
    cold_distance = statistics.median(abs(x - best_x) for x in cold_early)
    baseline = ((best_x - LO) ** 2 + (HI - best_x) ** 2) / (2 * (HI - LO))  # E|U - best|, U ~ uniform
    print(
        f"warm start: first proposals {early} (cold job: {cold_early}), parent best x {best_x:.4f}; median "
        f"distance {distance:.3f}, cold {cold_distance:.3f}, uniform random {baseline:.3f}"
    )
    assert distance < 0.5 * baseline and distance < cold_distance, (early, cold_early, best_x)
