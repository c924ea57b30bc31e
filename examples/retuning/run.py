"""Run the retuning example offline: register the family, retune it twice, query its endpoint.

    python examples/retuning/run.py

``family.json`` is written for a deployed stack: its ``BaseRequest`` names S3 locations (the
uploaded sources, the churn data). Offline this script keeps everything else and replaces those:
the sources become ``examples/xgboost`` (uploaded to moto's S3, as ``tuner create`` uploads local
sources), whose script generates its data (so the ``train`` channel is dropped), and the artifacts
go to a bucket in moto.

What it shows:

1. the first retune runs cold (no parents);
2. the second is warm-started from the first (``Parents``), with the family's narrowed ranges;
3. ``AutoDeploy``: after each Completed retune whose best beats the deployed one by the margin,
   the family's endpoint serves that best model (the offline hosting stand-in runs the script's
   ``model_fn``/``predict_fn``); the script then asks the endpoint for one prediction.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import support  # noqa: E402

support.ensure_tuner()

from tuner import constants  # noqa: E402
from tuner.aws.families import auto_deploy_granted  # noqa: E402
from tuner.local import eventbridge  # noqa: E402
from tuner.local.harness import LocalTuner  # noqa: E402
from tuner.wiring import build_family_service  # noqa: E402

HERE = Path(__file__).resolve().parent
OFFLINE_OUTPUT = "s3://tuner-examples-offline/retuning/output"


def offline_family(spec: dict, lt: LocalTuner) -> dict:
    """``spec`` with its S3 sources and data replaced by the local xgboost example (see above)."""
    base = spec["BaseRequest"]
    definition = base["TrainingJobDefinition"]
    definition["StaticHyperParameters"]["sagemaker_submit_directory"] = "../xgboost"
    definition.pop("InputDataConfig", None)
    definition["OutputDataConfig"]["S3OutputPath"] = OFFLINE_OUTPUT
    prepared = lt.prepare({"HyperParameterTuningJobName": spec["FamilyName"], **base}, HERE)
    prepared.pop("HyperParameterTuningJobName")
    return {**spec, "BaseRequest": prepared}


def deployed_from(families, name: str, job: str) -> dict | None:
    """The family's deployed best if it comes from ``job``, once the tuning job's state-change event
    has reached the family (the retune Lambda deploys on it); else None."""
    eventbridge.wait_deliveries(120)
    best = families.describe(name).get("DeployedBest") or {}
    return best if best.get("HyperParameterTuningJobName") == job else None


def wait_in_service(lt: LocalTuner, endpoint: str, timeout: float = 120.0) -> str:
    sm = lt.session.client("sagemaker")
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        status = sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        if status in ("InService", "Failed"):
            return status
        time.sleep(0.5)
    return status


# AutoDeploy needs the retune Lambda's hosting permissions, which a deployment grants only when asked
# (cdk deploy -c 'tuner:retune={"autoDeploy": true}'; docs/retuning.md): this offline deployment asks,
# and its RetuneAutoDeploy output says so to the family service (which refuses AutoDeploy without it).
with LocalTuner(sweep_interval=1.0, context={"tuner:retune": json.dumps({"autoDeploy": True})}) as lt:
    print("Deploying the tuner stack into moto (offline) ...", flush=True)
    granted = auto_deploy_granted(lt.deployment.outputs.get(constants.OUTPUT_RETUNE_AUTO_DEPLOY))
    families = build_family_service(lt.deployment.table_name, lt.deployment.state_machine_arn,
                                    region=lt.region, session=lt.session, auto_deploy=granted)
    spec = offline_family(json.loads((HERE / "family.json").read_text()), lt)
    name = spec["FamilyName"]
    families.register(spec)
    print(f"registered family {name}: {spec['Budget']}, warm start {spec['WarmStartType']}, "
          f"AutoDeploy to endpoint {spec['AutoDeploy']['EndpointName']}")
    for run in (1, 2):
        started = families.retune(name, "cli")
        job = started["HyperParameterTuningJobName"]
        parents = ", ".join(started["Parents"]) or "none (cold start)"
        print(f"\n== retune {run}: {job}, parents: {parents}", flush=True)
        describe = lt.wait(job, timeout=900)
        support.show_jobs(lt, job, describe)
        deployed = deployed_from(families, name, job)
        if deployed:
            print(f"AutoDeploy: {deployed['TrainingJobName']} ({deployed['Value']:.5g}) now serves "
                  f"endpoint {deployed['EndpointName']}")
        else:
            print(f"AutoDeploy: {job}'s best did not beat the deployed model by the margin; endpoint unchanged")
    endpoint = spec["AutoDeploy"]["EndpointName"]
    status = wait_in_service(lt, endpoint)
    print(f"\nendpoint {endpoint}: {status}")
    if status == "InService":
        row = ",".join(["0.5"] * 40)
        answer = lt.session.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="application/json", Body=row)
        print(f"InvokeEndpoint (one row of 40 features): {answer['Body'].read().decode()}")
