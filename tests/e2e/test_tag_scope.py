"""Least privilege by tags (docs/security.md), through the offline deployment with IAM enforced.

The tuner tags every training job it starts with ``tuner:deployment`` = its table's name; its roles
may describe and stop only jobs carrying that tag, and its training-event rule matches only their
events. Here other teams' training jobs are created in the same account with plain boto3 (untagged,
or tagged with another deployment's value): a tuner role cannot touch them, and their events never
reach the training_event Lambda, while the tuner's own jobs still run end to end (as every other
e2e test shows too, with IAM enforced).
"""
from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from tuner import constants
from tuner.core.request import parse_request
from tuner.local import eventbridge

from tests.builders import SCRIPTS, continuous, training_jobs, tuning_request

pytestmark = pytest.mark.e2e

WATCHING = ("sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob")


def another_team_s_job(lt, name: str, tags: list[dict[str, str]], *, sleep: str = "0.05") -> str:
    """A training job created outside the tuner, with the same script, role and data, and ``tags``."""
    request = lt.prepare(tuning_request("outside", source="quick", max_jobs=1), SCRIPTS)
    [definition] = parse_request(request).definitions
    job = definition.training_job_request(name, {"x": "3", "sleep": sleep}, tags)  # no deployment of ours
    lt.session.client("sagemaker").create_training_job(**job)
    return name


def watchers(lt) -> dict[str, tuple[str, set[str]]]:
    """Each tuner principal whose deployed role grants Describe/StopTrainingJob: its role, those actions."""
    out = {}
    for name, role in lt.iam_principals().items():
        granted = {a for s in lt.iam.policy(role).statements if s.effect == "Allow" for a in s.actions}
        if granted & set(WATCHING):
            out[name] = (role, granted & set(WATCHING))
    return out


def status(lt, job: str) -> str:
    return lt.session.client("sagemaker").describe_training_job(TrainingJobName=job)["TrainingJobStatus"]


def test_the_tuner_s_roles_cannot_describe_or_stop_another_team_s_training_jobs(local_tuner):
    lt = local_tuner
    sm = lt.session.client("sagemaker")
    # GIVEN two running training jobs of other teams: untagged, and tagged with another deployment
    foreign = [
        another_team_s_job(lt, "team-b-untagged", [{"Key": "team", "Value": "b"}], sleep="2"),
        another_team_s_job(lt, "team-c-tagged", [{"Key": constants.DEPLOYMENT_TAG, "Value": "another-tuner"}],
                           sleep="2"),
    ]
    principals = watchers(lt)
    assert {"training_event", "sweeper", "next_trial", "fail_job"} <= set(principals)
    try:
        # WHEN each tuner role that watches training jobs describes and stops them
        with lt.iam.expect_denials() as denials:
            for name, (role, granted) in sorted(principals.items()):
                with lt.iam.acting_as(name, role):
                    for job in foreign:
                        calls = {"sagemaker:DescribeTrainingJob": sm.describe_training_job,
                                 "sagemaker:StopTrainingJob": sm.stop_training_job}
                        for action in sorted(granted):
                            with pytest.raises(ClientError) as refused:
                                calls[action](TrainingJobName=job)
                            # THEN IAM refuses it, as AWS would: no statement allows it on that job
                            error = refused.value.response["Error"]
                            assert error["Code"] == "AccessDeniedException"
                            assert f"not authorized to perform: {action}" in error["Message"]
        assert {(d.principal.name, d.access.action) for d in denials} == {
            (name, action) for name, (_, granted) in principals.items() for action in granted
        }
        # AND the jobs were not stopped
        assert {status(lt, job) for job in foreign} == {"InProgress"}
    finally:
        for job in foreign:
            sm.stop_training_job(TrainingJobName=job)  # nobody's call: the harness cleaning up


def test_only_this_deployment_s_jobs_wake_the_training_event_lambda(local_tuner):
    lt = local_tuner
    # GIVEN a tuning job of this deployment, run to the end with IAM enforced
    name = "tag-scope"
    lt.start(tuning_request(name, source="quick", ranges=continuous(0, 10), max_jobs=2), base_dir=SCRIPTS)
    assert lt.wait(name, timeout=120)["HyperParameterTuningJobStatus"] == "Completed"
    own = [j["TrainingJobName"] for j in training_jobs(lt, name)]
    sm = lt.session.client("sagemaker")
    for job in own:  # tagged by the tuner with its table's name
        arn = sm.describe_training_job(TrainingJobName=job)["TrainingJobArn"]
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
        assert tags[constants.DEPLOYMENT_TAG] == lt.deployment.table_name
    # AND two jobs of other teams that end meanwhile
    foreign = [
        another_team_s_job(lt, "team-d-untagged", []),
        another_team_s_job(lt, "team-e-tagged", [{"Key": constants.DEPLOYMENT_TAG, "Value": "another-tuner"}]),
    ]
    deadline = time.monotonic() + 60
    while {status(lt, job) for job in foreign} != {"Completed"}:
        assert time.monotonic() < deadline, "the other teams' jobs did not end"
        time.sleep(0.2)
    eventbridge.wait_deliveries(30)

    def put(job: str) -> list[dict]:
        return [e for e in eventbridge.put_entries if e["entry"].get("DetailType") == constants.TRAINING_STATE_CHANGE
                and json.loads(e["entry"].get("Detail") or "{}").get("TrainingJobName") == job]

    def woken(job: str) -> list[dict]:
        return [d for d in eventbridge.deliveries
                if (d["event"].get("detail") or {}).get("TrainingJobName") == job]

    # THEN SageMaker put every job's state changes on the default bus ...
    assert all(put(job) for job in [*own, *foreign])
    # ... and the rule matched the tuner's jobs' ending (the nested Tags map) and no other team's
    assert all(woken(job) for job in own)
    assert not any(woken(job) for job in foreign)
