"""AutoDeploy on the default offline deployment (no ``tuner:retune`` autoDeploy context): the stack
says it does not grant it, registration is refused, and the deployed retune Lambda neither calls
SageMaker (the IAM twin would record the refusal: ``conftest.no_access_denied``) nor stays silent.

The granted path (``-c 'tuner:retune={"autoDeploy": true}'``) is ``examples/retuning/run.py``, run by
``test_examples.py``."""
from __future__ import annotations

import json

import pytest
from tuner import constants
from tuner.aws.families import auto_deploy_granted
from tuner.errors import ValidationError
from tuner.local import eventbridge
from tuner.wiring import build_family_service

from tests.builders import SCRIPTS, tuning_request

FAMILY = "e2e-auto-deploy"
ENDPOINT = "e2e-auto-deploy-live"


def _retune_function(lt) -> str:
    return next(f["FunctionName"] for f in lt.lam.list_functions()["Functions"]
                if f["Role"] == lt.iam_principals()["retune"])


def _invoke(lt, event: dict) -> tuple[str | None, dict]:
    answer = lt.lam.invoke(FunctionName=_retune_function(lt), Payload=json.dumps(event).encode())
    return answer.get("FunctionError"), json.loads(answer["Payload"].read())


def test_without_the_grant_auto_deploy_is_refused_and_the_retune_lambda_says_why(local_tuner):
    lt = local_tuner
    # GIVEN the default deployment: its output and its retune Lambda say AutoDeploy is not granted
    setting = lt.deployment.outputs[constants.OUTPUT_RETUNE_AUTO_DEPLOY]
    assert setting == "false"
    [config] = [f for f in lt.lam.list_functions()["Functions"] if f["FunctionName"] == _retune_function(lt)]
    assert config["Environment"]["Variables"][constants.ENV_RETUNE_AUTO_DEPLOY] == "false"
    base = lt.prepare(tuning_request("base", source="quick", max_jobs=1), SCRIPTS)
    del base["HyperParameterTuningJobName"]
    spec = {"FamilyName": FAMILY, "BaseRequest": base, "AutoDeploy": {"EndpointName": ENDPOINT}}
    families = build_family_service(lt.deployment.table_name, lt.deployment.state_machine_arn,
                                    region=lt.region, session=lt.session, auto_deploy=auto_deploy_granted(setting))
    # WHEN a family with AutoDeploy is registered THEN it is refused, with how to redeploy
    with pytest.raises(ValidationError, match=r"""-c 'tuner:retune=\{"autoDeploy": true\}'"""):
        families.register(spec)
    assert families.families.get(FAMILY) is None

    # GIVEN a family registered while the stack granted AutoDeploy (it was redeployed without since)
    earlier = build_family_service(lt.deployment.table_name, lt.deployment.state_machine_arn,
                                   region=lt.region, session=lt.session, auto_deploy=True)
    earlier.register(spec)
    job = earlier.retune(FAMILY, "cli")["HyperParameterTuningJobName"]
    assert lt.wait(job, timeout=120)["HyperParameterTuningJobStatus"] == "Completed"
    # WHEN its job's end reaches the deployed retune Lambda (the FamilyJobEnded rule)
    assert eventbridge.wait_deliveries(60)
    # THEN nothing was deployed, and no SageMaker call was refused by IAM (no_access_denied)
    assert "DeployedBest" not in families.describe(FAMILY)
    assert ENDPOINT not in [e["EndpointName"] for e in lt.session.client("sagemaker").list_endpoints()["Endpoints"]]
    # AND the Lambda's answer to that event says why and how to fix it
    error, out = _invoke(lt, {"source": constants.TUNER_SOURCE, "detail-type": constants.TUNING_STATE_CHANGE,
                              "detail": {"HyperParameterTuningJobName": job,
                                         "HyperParameterTuningJobStatus": "Completed"}})
    assert error is None
    assert out["Deploy"]["Deployed"] is False and "tuner:retune" in out["Deploy"]["Reason"]
    # AND a "Retune Requested" for the family fails the Lambda with the same reason, starting nothing
    error, out = _invoke(lt, {"source": constants.TUNER_SOURCE, "detail-type": constants.RETUNE_REQUESTED,
                              "detail": {"Family": FAMILY}})
    assert error and "autoDeploy" in json.dumps(out)
    assert families.describe(FAMILY)["TuningJobs"] == [job]
