"""The SageMaker Python SDK v2, unchanged, through sagemaker.Session(sagemaker_client=TunerClient),
against the offline loop: fit (sources uploaded to moto S3), wait, describe, best_training_job,
analytics, attach, the warm-start helpers and stop_tuning_job."""

from __future__ import annotations

import os

import pytest
from tuner.shapes import assert_valid_output

from tests.builders import IMAGE, LOSS, SDK_ANALYTICS_COLUMNS, sdk_estimator

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker = pytest.importorskip(
    "sagemaker", reason="the SageMaker SDK is a test dependency: pip install 'sagemaker<3'"
)
pytestmark = pytest.mark.e2e


def make_tuner(sess, **kw):
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    estimator = sdk_estimator(sess)
    return HyperparameterTuner(
        estimator,
        "loss",
        {"x": ContinuousParameter(0.5, 8)},
        metric_definitions=LOSS,
        objective_type="Minimize",
        strategy="Random",
        random_seed=5,
        max_jobs=3,
        max_parallel_jobs=2,
        **kw,
    )


def test_sdk_tuner_fit_wait_describe_best_analytics_attach_warm_start_stop(session):
    from sagemaker.tuner import HyperparameterTuner, WarmStartTypes

    sess, sm = session
    # GIVEN a script-mode estimator and a tuner, as in any SageMaker notebook
    tuner = make_tuner(sess)
    # WHEN it is fitted and waited for
    tuner.fit(job_name="sdk-e2e", wait=False)
    sm.wait_for_tuning_job("sdk-e2e", poll=0.5, timeout=180)  # a bound: never hang the suite
    tuner.wait()
    # THEN the tuning job ran through the tuner stack, with SageMaker's shapes
    raw = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="sdk-e2e")
    assert_valid_output("DescribeHyperParameterTuningJob", raw)
    description = tuner.describe()
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 3
    # the SDK sent HyperParameterTuningResourceConfig and Auto scaling; the request was accepted as is
    definition = description["TrainingJobDefinition"]
    assert "HyperParameterTuningResourceConfig" in definition
    assert (
        description["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0][
            "ScalingType"
        ]
        == "Auto"
    )
    best = tuner.best_training_job()
    assert best == description["BestTrainingJob"]["TrainingJobName"]
    job = sm.describe_training_job(TrainingJobName=best)  # delegated: the local SageMaker stand-in
    assert job["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert job["HyperParameters"]["sagemaker_submit_directory"].startswith('"s3://')  # uploaded by the SDK
    # analytics: the SDK's own DataFrame, the same columns as tuner.analytics
    df = tuner.analytics().dataframe()
    assert len(df) == 3 and df["FinalObjectiveValue"].notna().all()
    for column in ("x", *SDK_ANALYTICS_COLUMNS):
        assert column in df.columns
    from tuner.analytics import TuningJobAnalytics

    ours = TuningJobAnalytics("sdk-e2e", sm).dataframe()
    assert set(ours.columns) == set(df.columns)
    assert sorted(ours["FinalObjectiveValue"]) == pytest.approx(sorted(df["FinalObjectiveValue"]))
    assert df["FinalObjectiveValue"].min() == pytest.approx(
        description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )

    # attach rebuilds the tuner (and its estimator) from describe
    attached = HyperparameterTuner.attach("sdk-e2e", sagemaker_session=sess)
    assert attached.objective_metric_name == "loss" and attached.objective_type == "Minimize"
    assert attached.estimator.image_uri == IMAGE and attached.max_jobs == 3
    assert attached.best_training_job() == best

    # warm start from the attached tuner; stopped right after it starts
    warm = attached.identical_dataset_and_algorithm_tuner()
    assert warm.warm_start_config.type == WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM
    warm.fit(job_name="sdk-warm", wait=False)
    warm.stop_tuning_job()
    sm.wait_for_tuning_job("sdk-warm", poll=0.5, timeout=180)
    warm.wait()
    w = warm.describe()
    assert w["HyperParameterTuningJobStatus"] == "Stopped"
    assert w["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [
        {"HyperParameterTuningJobName": "sdk-e2e"}
    ]
    transfer = attached.transfer_learning_tuner()
    assert transfer.warm_start_config.type == WarmStartTypes.TRANSFER_LEARNING


def test_sdk_errors_are_client_errors(session):
    from botocore.exceptions import ClientError

    sess, _ = session
    with pytest.raises(ClientError) as err:
        sess.describe_tuning_job("no-such-tuning-job")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
