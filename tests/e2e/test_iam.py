"""IAM as AWS evaluates it, offline: the grants of every deployed role against the calls made.

Every e2e test already fails when a call it caused is refused (``conftest.no_access_denied``). Here:

* scenarios that make the rare paths happen, so the grants they need are exercised;
* a grant removed from a live role fails the next tuning job with AWS's AccessDenied message;
* after every other e2e test: each grant of each role was needed by some call, or is one that no
  call can show, listed with its AWS source in docs/reliability.md ("Grants no call can show").
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from tuner.local.iam import Access, matches

from tests.builders import SCRIPTS, categorical, created_jobs, training_jobs, tuning_request

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
FAST, SLOW = "0.05", "6"  # seconds per epoch of tests/e2e/scripts/quick/train.py (3 epochs)


def _slow_and_fast(name: str, sleeps: list[str], **kwargs) -> dict:
    """A Grid over the seconds per epoch (x fixed at 3: every job's loss ends at 1/3)."""
    ranges = {"CategoricalParameterRanges": [*categorical("3")["CategoricalParameterRanges"],
                                             *categorical(*sleeps, name="sleep")["CategoricalParameterRanges"]]}
    return tuning_request(name, source="quick", strategy="Grid", ranges=ranges, max_jobs=len(sleeps),
                          max_parallel=2, **kwargs)


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _stopped(lt, name: str) -> list[str]:
    return [j["TrainingJobName"] for j in training_jobs(lt, name) if j["TrainingJobStatus"] == "Stopped"]


def _needed(lt, principal: str, action: str) -> bool:
    return any(a.action == action for a in lt.iam.needed_by(principal))


# ---- the rare paths, made to happen ------------------------------------------------------------
def test_a_target_reached_while_another_job_runs_is_stopped_by_the_recorder(local_tuner):
    # GIVEN two jobs at once, a fast one that reaches the target and a slow one
    name = "iam-target"
    request = _slow_and_fast(name, [FAST, SLOW], completion={"TargetObjectiveMetricValue": 0.5})
    local_tuner.start(request, base_dir=SCRIPTS)
    # WHEN only the training events act (no sweep)
    describe = local_tuner.wait(name, timeout=120, sweeps=False)
    # THEN the recorder ended the job and stopped the slow one itself
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert len(_stopped(local_tuner, name)) == 1
    assert _needed(local_tuner, "training_event", "sagemaker:StopTrainingJob")


def test_a_runtime_limit_seen_by_a_lap_stops_the_other_running_job(local_tuner):
    # GIVEN a slow and fast jobs, two at once, and a runtime limit
    name = "iam-runtime"
    request = _slow_and_fast(name, [SLOW, FAST, "0.1"], max_runtime=120)
    local_tuner.start(request, base_dir=SCRIPTS)
    store = local_tuner.service.store
    _wait_for(lambda: sum(t.status == "InProgress" for t in store.list_trials(name)) == 2, what="two running jobs")
    # WHEN the limit passes while both run, and only the laps and events act (no sweep)
    local_tuner.advance_clock(121)
    try:
        describe = local_tuner.wait(name, timeout=120, sweeps=False)
    finally:
        local_tuner.reset_clock()
    # THEN the lap that asked for the next trial ended the job (Stopping, an event) and stopped the other
    assert describe["HyperParameterTuningJobStatus"] == "Stopped"
    assert store.get_job(name).completion_reason == "MaxRuntimeInSeconds reached"
    assert _stopped(local_tuner, name)
    assert _needed(local_tuner, "next_trial", "sagemaker:StopTrainingJob")
    assert _needed(local_tuner, "next_trial", "events:PutEvents")


def test_a_lap_failing_while_a_job_runs_has_it_stopped_by_the_failure_handler(local_tuner, lambda_faults):
    # GIVEN a slow job running while the other lap's NextTrial breaks (an error nothing retries)
    name = "iam-broken"
    lambda_faults.plan[name] = {3: "broken"}
    local_tuner.start(_slow_and_fast(name, [SLOW, FAST, "0.1"]), base_dir=SCRIPTS)
    describe = local_tuner.wait(name, timeout=120, sweeps=False)
    # THEN the failure handler marked the job Failed and stopped the slow job
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert _stopped(local_tuner, name)
    assert _needed(local_tuner, "fail_job", "sagemaker:StopTrainingJob")


def test_a_retune_racing_its_familys_start_reads_the_execution(local_tuner, lambda_faults):
    from tuner.wiring import build_family_service

    lt = local_tuner
    families = build_family_service(lt.deployment.table_name, lt.deployment.state_machine_arn,
                                    region=lt.region, session=lt.session)
    base = lt.prepare(tuning_request("base", source="quick", max_jobs=1), SCRIPTS)
    del base["HyperParameterTuningJobName"]
    families.register({"FamilyName": "iam-family", "BaseRequest": base})
    # GIVEN a retune whose execution runs but has not stored its job yet (CreateJob fails twice
    # transiently: Step Functions retries it after 1 s and 2 s)
    first = families.retune("iam-family", "cli")
    lambda_faults.plan[("create_job", first["HyperParameterTuningJobName"])] = {1: "before", 2: "before"}
    # WHEN a "Retune Requested" event reaches the retune Lambda meanwhile
    event = {"detail-type": "Retune Requested", "source": "tuner", "detail": {"Family": "iam-family"}}
    fn = next(f["FunctionName"] for f in lt.lam.list_functions()["Functions"]
              if f["Role"] == lt.iam_principals()["retune"])
    answer = json.loads(lt.lam.invoke(FunctionName=fn, Payload=json.dumps(event).encode())["Payload"].read())
    # THEN it read the execution (the job item does not exist yet), found it running, and deferred
    assert answer["Deferred"] is True and answer["RunningTuningJob"] == first["HyperParameterTuningJobName"]
    assert _needed(lt, "retune", "states:DescribeExecution")
    assert lt.wait(first["HyperParameterTuningJobName"], timeout=120)["HyperParameterTuningJobStatus"] == "Completed"
    # AND the deferred retune starts when the first job ends (waited for: nothing left running)
    def deferred() -> str | None:
        running = families.describe("iam-family").get("RunningTuningJob") or {}
        job = running.get("HyperParameterTuningJobName")
        return job if job and job != first["HyperParameterTuningJobName"] else None

    _wait_for(lambda: deferred() is not None, what="the deferred retune")
    assert lt.wait(str(deferred()), timeout=120)["HyperParameterTuningJobStatus"] == "Completed"


# ---- a grant removed ---------------------------------------------------------------------------
def _without(iam, role_arn: str, action: str) -> dict[str, dict]:
    """Remove ``action`` from every inline policy of the role; returns the originals."""
    role = role_arn.rsplit("/", 1)[-1]
    saved = {}
    for policy_name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        saved[policy_name] = json.loads(json.dumps(document))
        statements = []
        for st in document["Statement"]:
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            kept = [a for a in actions if a != action]
            if kept:
                statements.append({**st, "Action": kept})
        iam.put_role_policy(RoleName=role, PolicyName=policy_name,
                            PolicyDocument=json.dumps({**document, "Statement": statements}))
    return saved


def test_a_grant_removed_fails_the_next_tuning_job_naming_function_and_action(local_tuner):
    # GIVEN the lap's role without sagemaker:CreateTrainingJob
    iam = local_tuner.session.client("iam")
    role = local_tuner.iam_principals()["next_trial"]
    saved = _without(iam, role, "sagemaker:CreateTrainingJob")
    local_tuner.iam.reload()
    try:
        with local_tuner.iam.expect_denials() as refused:
            request = tuning_request("iam-removed", source="quick", max_jobs=1)
            local_tuner.start(request, base_dir=SCRIPTS)
            describe = local_tuner.wait("iam-removed", timeout=120)
    finally:
        for policy_name, document in saved.items():
            iam.put_role_policy(RoleName=role.rsplit("/", 1)[-1], PolicyName=policy_name,
                                PolicyDocument=json.dumps(document))
        local_tuner.iam.reload()
    # THEN the tuning job failed with AWS's message, and the twin named the function and action
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert "not authorized to perform: sagemaker:CreateTrainingJob" in describe["FailureReason"]
    assert refused and all(d.principal.name == "next_trial" for d in refused)
    assert {d.access.action for d in refused} == {"sagemaker:CreateTrainingJob"}
    assert not created_jobs(local_tuner, "iam-removed")


# ---- every grant needed or documented ------------------------------------------------------------
def documented_grants(text: str) -> list[tuple[str, set[str], str]]:
    """(principal, actions, resource pattern) of each row of "Grants no call can show"."""
    section = text.split("### Grants no call can show", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[1].startswith("`"):
            continue
        principal, actions, resource = cells[0], set(re.findall(r"`([^`]+)`", cells[1])), cells[2].strip("`")
        rows.append((principal, actions, resource))
    return rows


def _whole_package_ran(session: pytest.Session) -> bool:
    here = Path(__file__).resolve().parent
    ran = {Path(str(item.fspath)).resolve() for item in session.items}
    return all(module.resolve() in ran for module in here.glob("test_*.py"))


@pytest.mark.after_e2e
def test_every_grant_is_needed_by_a_call_or_documented(local_tuner, request):
    if not _whole_package_ran(request.session):
        pytest.skip("needs the calls of the whole e2e package (run tests/e2e without -k)")
    documented = documented_grants(DOC.read_text())
    assert documented, "docs/reliability.md has no 'Grants no call can show' table"
    unneeded = []
    for name, role in sorted(local_tuner.iam_principals().items()):
        needed: set[Access] = local_tuner.iam.needed_by(name)
        for statement in local_tuner.iam.policy(role).statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                for resource in statement.resources:
                    if any(matches(action, a.action, ignore_case=True) and matches(resource, a.resource)
                           for a in needed):
                        continue
                    if any(p in (name, "every function" if name != "state machine" else "")
                           and action in actions and matches(pattern, resource)
                           for p, actions, pattern in documented):
                        continue
                    unneeded.append(f"{name}: {action} on {resource} ({statement.policy})")
    assert not unneeded, (
        "grants no call of the e2e suite needed: remove them from stacks/functions.py, or make a "
        "scenario need them, or list them in docs/reliability.md ('Grants no call can show'):\n"
        + "\n".join(unneeded)
    )
