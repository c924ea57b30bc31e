"""The SageMaker Python SDK v2, unchanged, from ``HyperparameterTuner.fit()`` to
``deploy().predict()`` offline (issue 13): the endpoint is served by the local stand-in
(``tuner.local.hosting``) running the best training job's model:

* script mode (the SDK's ``SKLearn`` estimator): the training script's own ``model_fn`` /
  ``predict_fn`` (tests/e2e/scripts/quick/train.py: the model is the trained ``x``, a prediction is
  ``value - x``), through the SDK's ``SKLearnPredictor`` (``application/x-npy`` both ways);
* the built-in XGBoost image from ``sagemaker.image_uris.retrieve``: the booster the emulated
  algorithm saved, served as the built-in container serves it (``text/csv`` in and out).

Each prediction is checked against the model the best training job wrote, read back from S3.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
import time

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.builders import BUILTIN_XGBOOST, LOSS, SCRIPTS, SDK_ROLE

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker = pytest.importorskip(
    "sagemaker", reason="the SageMaker SDK is a test dependency: pip install 'sagemaker<3'"
)
pytestmark = pytest.mark.e2e

INSTANCE = "ml.m5.large"


def fitted(sm, tuner, name, inputs=None):
    tuner.fit(inputs, job_name=name, wait=False)
    described = sm.wait_for_tuning_job(name, poll=0.5, timeout=240)  # a bound: never hang the suite
    tuner.wait()
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    return described


def model_files(session, training_job):
    """The files of the training job's model.tar.gz, read from (moto) S3."""
    sess, sm = session
    uri = sm.describe_training_job(TrainingJobName=training_job)["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, _, key = uri[5:].partition("/")
    data = sess.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_script_mode_fit_best_estimator_deploy_predict(session):
    from sagemaker.sklearn import SKLearn, SKLearnPredictor
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    sess, sm = session
    estimator = SKLearn(entry_point="train.py", source_dir=str(SCRIPTS / "quick"), framework_version="1.2-1",
                        py_version="py3", role=SDK_ROLE, instance_count=1, instance_type=INSTANCE,
                        hyperparameters={"epochs": 2}, sagemaker_session=sess)
    tuner = HyperparameterTuner(estimator, "loss", {"x": ContinuousParameter(0.5, 8)}, metric_definitions=LOSS,
                                objective_type="Minimize", strategy="Random", random_seed=7, max_jobs=3,
                                max_parallel_jobs=2)
    # GIVEN a finished tuning job of a script-mode estimator
    fitted(sm, tuner, "sdk-deploy-script")
    best = tuner.best_training_job()
    x = float(sm.describe_training_job(TrainingJobName=best)["HyperParameters"]["x"])
    # WHEN its best estimator is deployed and asked for predictions, as in any notebook
    predictor = tuner.best_estimator().deploy(initial_instance_count=1, instance_type=INSTANCE,
                                              endpoint_name="sdk-script", wait=False)
    try:
        assert sm.describe_endpoint(EndpointName="sdk-script")["EndpointStatus"] in ("Creating", "InService")
        endpoint = sess.wait_for_endpoint("sdk-script", poll=0.5)  # the SDK's own wait, polled quickly
        assert isinstance(predictor, SKLearnPredictor)
        rows = np.array([[1.0, 2.5], [10.0, -4.0]])
        answer = predictor.predict(rows)
        # THEN the script's model_fn/predict_fn answered with the best job's model
        assert model_files(session, best) == {"model.json": f'{{"x": {x}}}'.encode()}
        np.testing.assert_allclose(answer, rows - x)
        assert endpoint["EndpointStatus"] == "InService"
        model = sm.describe_model(ModelName=sm.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"])["ProductionVariants"][0]["ModelName"])
        assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"
        # AND an answer the model cannot give is SageMaker's ModelError, naming the container's status
        with pytest.raises(ClientError) as err:
            sess.sagemaker_runtime_client.invoke_endpoint(EndpointName="sdk-script", Body=b"<xml/>",
                                                          ContentType="application/xml")
        assert err.value.response["Error"]["Code"] == "ModelError"
        assert err.value.response["OriginalStatusCode"] == 415
        assert "/aws/sagemaker/Endpoints/sdk-script" in err.value.response["LogStreamArn"]
        # the server's output is in the endpoint's log group, as SageMaker writes it
        logs = sess.boto_session.client("logs")
        streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/Endpoints/sdk-script")["logStreams"]
        assert [s["logStreamName"].split("/")[0] for s in streams] == ["AllTraffic"]
    finally:
        predictor.delete_endpoint()
    # once deleted, the endpoint is gone and answers nothing
    with pytest.raises(ClientError) as err:
        sess.sagemaker_runtime_client.invoke_endpoint(EndpointName="sdk-script", Body=b"[[1]]",
                                                      ContentType="application/json")
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_builtin_xgboost_fit_tuner_deploy_predict(session):
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import CSVSerializer
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    sess, sm = session
    region = sess.boto_region_name
    # GIVEN the built-in XGBoost image as the SDK's tutorials take it, and CSV channels in S3
    image = image_uris.retrieve("xgboost", region=region, version="1.7-1")
    bucket = sess.default_bucket()
    channels = {
        channel: TrainingInput(sess.upload_data(str(BUILTIN_XGBOOST / "data" / channel), bucket,
                                                f"sdk-deploy-xgboost/{channel}"), content_type="text/csv")
        for channel in ("train", "validation")
    }
    estimator = Estimator(image_uri=image, role=SDK_ROLE, instance_count=1, instance_type=INSTANCE,
                          sagemaker_session=sess)
    estimator.set_hyperparameters(objective="binary:logistic", num_round=15, eval_metric="auc")
    tuner = HyperparameterTuner(estimator, "validation:auc",
                                {"eta": ContinuousParameter(0.1, 0.5), "max_depth": IntegerParameter(2, 5)},
                                strategy="Random", random_seed=3, max_jobs=3, max_parallel_jobs=2)
    described = fitted(sm, tuner, "sdk-deploy-xgb", channels)
    assert described["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] == \
        "validation:auc"
    # WHEN the tuner deploys its best model and is asked for predictions of validation rows (no label)
    predictor = tuner.deploy(initial_instance_count=1, instance_type=INSTANCE, endpoint_name="sdk-xgb",
                             serializer=CSVSerializer(), wait=False)
    try:
        sess.wait_for_endpoint("sdk-xgb", poll=0.5)
        validation = np.loadtxt(BUILTIN_XGBOOST / "data/validation/validation.csv", delimiter=",")
        features = validation[:5, 1:]
        answer = predictor.predict(features).decode()
        # THEN the built-in's answer: one probability per row, from the best job's booster
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(model_files(session, tuner.best_training_job())["xgboost-model"]))
        expected = booster.predict(xgboost.DMatrix(features))
        np.testing.assert_allclose([float(v) for v in answer.split()], expected, rtol=1e-6)
        # the built-in's other answer types
        as_json = sess.sagemaker_runtime_client.invoke_endpoint(
            EndpointName="sdk-xgb", Body=",".join(map(str, features[0])), ContentType="text/csv",
            Accept="application/json")
        assert as_json["ContentType"].startswith("application/json")
        assert as_json["InvokedProductionVariant"] == "AllTraffic"
        score = json.loads(as_json["Body"].read())["predictions"][0]["score"]
        assert score == pytest.approx(float(expected[0]), rel=1e-6)
    finally:
        predictor.delete_endpoint()


def test_a_model_that_cannot_load_fails_its_endpoint_and_an_update_rolls_back(session):
    """SageMaker's endpoint life cycle through boto3: Creating -> Failed when the container does not
    pass the ping check; UpdateEndpoint to a broken configuration leaves the old model serving."""
    from tests.builders import XGBOOST_IMAGE

    sess, sm = session
    s3 = sess.boto_session.client("s3")
    bucket = sess.default_bucket()

    def model(name, files):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for file, data in files.items():
                info = tarfile.TarInfo(file)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        s3.put_object(Bucket=bucket, Key=f"deploy-lifecycle/{name}.tar.gz", Body=buf.getvalue())
        sm.create_model(ModelName=name, ExecutionRoleArn=SDK_ROLE, PrimaryContainer={
            "Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/deploy-lifecycle/{name}.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": INSTANCE}])

    def times(factor):
        return f"def model_fn(model_dir):\n    return {factor}\n\ndef predict_fn(data, model):\n" \
               "    return data * model\n"

    bad = "def model_fn(model_dir):\n    raise RuntimeError('no weights in ' + model_dir)\n"
    model("lifecycle-good", {"code/serve.py": times(2.0).encode()})
    model("lifecycle-better", {"code/serve.py": times(3.0).encode()})
    model("lifecycle-bad", {"code/serve.py": bad.encode()})
    # a model whose model_fn raises: Failed, with SageMaker's reason and the traceback in the logs
    sm.create_endpoint(EndpointName="lifecycle-failed", EndpointConfigName="lifecycle-bad")
    failed = _wait_endpoint(sm, "lifecycle-failed")
    assert failed["EndpointStatus"] == "Failed"
    assert failed["FailureReason"] == ("The primary container for production variant AllTraffic did not pass "
                                       "the ping health check. Please check CloudWatch logs for this endpoint.")
    logs = sess.boto_session.client("logs")
    events = logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/lifecycle-failed")["events"]
    assert any("no weights in" in e["message"] for e in events)
    sm.delete_endpoint(EndpointName="lifecycle-failed")
    # a good one serves; an update to the bad one fails and the good model keeps serving
    sm.create_endpoint(EndpointName="lifecycle", EndpointConfigName="lifecycle-good")
    assert _wait_endpoint(sm, "lifecycle")["EndpointStatus"] == "InService"
    runtime = sess.sagemaker_runtime_client
    ask = dict(EndpointName="lifecycle", Body=b"[1, 2]", ContentType="application/json", Accept="application/json")
    assert runtime.invoke_endpoint(**ask)["Body"].read() == b"[2.0, 4.0]"
    sm.update_endpoint(EndpointName="lifecycle", EndpointConfigName="lifecycle-bad")
    assert sm.describe_endpoint(EndpointName="lifecycle")["EndpointStatus"] == "Updating"
    rolled_back = _wait_endpoint(sm, "lifecycle")
    assert rolled_back["EndpointStatus"] == "InService" and "ping health check" in rolled_back["FailureReason"]
    assert rolled_back["EndpointConfigName"] == "lifecycle-good"
    assert runtime.invoke_endpoint(**ask)["Body"].read() == b"[2.0, 4.0]"
    # an update that works switches the model
    sm.update_endpoint(EndpointName="lifecycle", EndpointConfigName="lifecycle-better")
    updated = _wait_endpoint(sm, "lifecycle")
    assert updated["EndpointStatus"] == "InService" and "FailureReason" not in updated
    assert updated["EndpointConfigName"] == "lifecycle-better"
    assert runtime.invoke_endpoint(**ask)["Body"].read() == b"[3.0, 6.0]"
    sm.delete_endpoint(EndpointName="lifecycle")
    with pytest.raises(ClientError):
        sm.describe_endpoint(EndpointName="lifecycle")


def _wait_endpoint(sm, name, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] not in ("Creating", "Updating") or time.monotonic() > deadline:
            return described
        time.sleep(0.2)
