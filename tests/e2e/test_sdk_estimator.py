"""The SageMaker Python SDK v2 (unchanged) gets its estimators back from the offline loop:
``HyperparameterTuner.best_estimator()`` and ``HyperparameterTuner.attach()`` for a plain
``Estimator`` and a framework estimator (``SKLearn``), one definition or several, through
``sagemaker.Session(sagemaker_client=TunerClient)``. Both need the training job's describe in
SageMaker's shape (``OutputDataConfig.KmsKeyId``) and ``ListTags`` on the training job; the tags of
the tuning job itself are answered by ``TunerClient`` (the tuning job is the tuner's, not
SageMaker's).

The tuners here are built by the SDK, which always sends ``TrainingJobEarlyStoppingType`` and all
three ``ParameterRanges`` lists: ``attach`` reads them back from the describe (which shows them for
a request without them too, as AMT does: docs/parity.md, tests/e2e/test_parity.py)."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError
from tuner import constants
from tuner.shapes import assert_valid_output

from tests.builders import IMAGE, LOSS, SCRIPTS, SDK_ROLE, sdk_estimator

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker = pytest.importorskip(
    "sagemaker", reason="the SageMaker SDK is a test dependency: pip install 'sagemaker<3'"
)
pytestmark = pytest.mark.e2e

ROLE = SDK_ROLE
TAGS = [{"Key": "team", "Value": "ml"}, {"Key": "project", "Value": "best-estimator"}]


@pytest.fixture(scope="module")
def owned(local_tuner):
    """The tag the tuner adds after a tuning job's own on each of its training jobs (the deployment's:
    its grants and training-event rule are scoped by it, docs/security.md)."""
    return {"Key": constants.DEPLOYMENT_TAG, "Value": local_tuner.deployment.table_name}
SKLEARN_VERSION = "1.2-1"  # any version the SDK knows: the stand-in runs the script with this Python


def sklearn_estimator(sess):
    from sagemaker.sklearn import SKLearn

    return SKLearn(
        entry_point="train.py",
        source_dir=str(SCRIPTS / "quick"),
        framework_version=SKLEARN_VERSION,
        py_version="py3",
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"epochs": 2},
        sagemaker_session=sess,
    )


def run(sm, tuner, name, **fit):
    tuner.fit(job_name=name, wait=False, **fit)
    described = sm.wait_for_tuning_job(name, poll=0.5, timeout=240)  # a bound: never hang the suite
    tuner.wait()
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    return described


@pytest.fixture(scope="module")
def plain(session):
    """One finished tuning job of a plain Estimator, tagged (shared by the tests below)."""
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    sess, sm = session
    tuner = HyperparameterTuner(
        sdk_estimator(sess),
        "loss",
        {"x": ContinuousParameter(0.5, 8)},
        metric_definitions=LOSS,
        objective_type="Minimize",
        strategy="Random",
        random_seed=11,
        max_jobs=3,
        max_parallel_jobs=2,
        tags=TAGS,
    )
    return tuner, run(sm, tuner, "sdk-best-plain")


def check_estimator(estimator, sm, training_job_name):
    """``estimator`` is attached to ``training_job_name`` and built from its describe."""
    job = sm.describe_training_job(TrainingJobName=training_job_name)
    assert_valid_output("DescribeTrainingJob", job)
    assert estimator.latest_training_job.name == training_job_name
    assert estimator.model_data == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert estimator.model_data.endswith(f"/{training_job_name}/output/model.tar.gz")
    assert estimator.role == ROLE and estimator.instance_type == "ml.m5.large"
    assert estimator.output_kms_key == job["OutputDataConfig"]["KmsKeyId"] == ""
    return job


# ---- one definition: a plain Estimator ---------------------------------------------------------
def test_best_estimator_of_a_plain_estimator(session, plain, owned):
    from sagemaker.estimator import Estimator

    sess, sm = session
    tuner, described = plain
    best_name = described["BestTrainingJob"]["TrainingJobName"]
    # WHEN the SDK builds the best training job's estimator (DescribeTrainingJob + ListTags)
    best = tuner.best_estimator()
    # THEN it is an Estimator of that job: its artifacts, image, hyperparameters and tags
    assert type(best) is Estimator
    job = check_estimator(best, sm, best_name)
    assert best.image_uri == job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert best.hyperparameters() == job["HyperParameters"]
    tuned = described["BestTrainingJob"]["TunedHyperParameters"]
    assert {k: best.hyperparameters()[k] for k in tuned} == tuned
    assert best.tags == [*TAGS, owned]  # the tuning job's tags, given to each of its training jobs
    # the SDK's own helpers agree
    assert sess.list_tags(job["TrainingJobArn"]) == [*TAGS, owned]


def test_attach_rebuilds_the_tuner_and_its_best_estimator(session, plain):
    from sagemaker.tuner import HyperparameterTuner

    sess, sm = session
    _, described = plain
    best_name = described["BestTrainingJob"]["TrainingJobName"]
    # WHEN another process attaches to the tuning job by name
    attached = HyperparameterTuner.attach("sdk-best-plain", sagemaker_session=sess)
    # THEN the tuner and its estimator are rebuilt from the describe
    assert attached.objective_metric_name == "loss" and attached.objective_type == "Minimize"
    assert attached.max_jobs == 3 and attached.max_parallel_jobs == 2
    assert attached.early_stopping_type == "Off"
    assert set(attached._hyperparameter_ranges) == {"x"}
    assert attached.estimator.image_uri == IMAGE
    assert attached.estimator.output_kms_key == ""  # the SDK fills it for a definition
    assert attached.best_training_job() == best_name
    # AND its best estimator is the best training job's
    best = attached.best_estimator()
    check_estimator(best, sm, best_name)
    assert best.hyperparameters() == sm.describe_training_job(TrainingJobName=best_name)["HyperParameters"]


# ---- tags of a tuning job -----------------------------------------------------------------------
def test_tuning_job_tags_are_the_tuners(session, plain, owned):
    sess, sm = session
    _, described = plain
    arn = described["HyperParameterTuningJobArn"]
    best_arn = described["BestTrainingJob"]["TrainingJobArn"]
    # GIVEN the tags the tuning job was created with
    listed = sm.list_tags(ResourceArn=arn)
    assert_valid_output("ListTags", listed)
    assert listed["Tags"] == TAGS and sess.list_tags(arn) == TAGS
    try:
        # WHEN tags are added (a key given again is overwritten) and deleted
        added = sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "infra"}, {"Key": "stage", "Value": "dev"}])
        assert_valid_output("AddTags", added)
        assert added["Tags"] == [
            {"Key": "team", "Value": "infra"},
            {"Key": "project", "Value": "best-estimator"},
            {"Key": "stage", "Value": "dev"},
        ]
        deleted = sm.delete_tags(ResourceArn=arn, TagKeys=["stage", "no-such-key"])
        assert_valid_output("DeleteTags", deleted)
        # THEN the tuning job has them, its earlier training jobs keep theirs (as SageMaker documents)
        assert sm.list_tags(ResourceArn=arn)["Tags"] == [
            {"Key": "team", "Value": "infra"},
            {"Key": "project", "Value": "best-estimator"},
        ]
        assert sm.list_tags(ResourceArn=best_arn)["Tags"] == [*TAGS, owned]
        # AND the job's describe is unchanged in shape
        assert_valid_output(
            "DescribeHyperParameterTuningJob",
            sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="sdk-best-plain"),
        )
    finally:
        sm.delete_tags(ResourceArn=arn, TagKeys=["team", "project", "stage"])
        sm.add_tags(ResourceArn=arn, Tags=TAGS)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == TAGS
    # checks like SageMaker's: at most 50 tags, the model's patterns; an unknown job is refused
    for call in (
        lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)]),
        lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a#b", "Value": "v"}]),
        lambda: sm.list_tags(ResourceArn=arn, NextToken="not-issued"),
        lambda: sm.list_tags(ResourceArn=arn.replace("sdk-best-plain", "no-such-tuning-job")),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ValidationException"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == TAGS


def test_tags_added_while_running_reach_later_training_jobs(session, owned):
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    sess, sm = session
    tuner = HyperparameterTuner(
        sdk_estimator(sess),
        "loss",
        {"x": ContinuousParameter(0.5, 8)},
        metric_definitions=LOSS,
        objective_type="Minimize",
        strategy="Random",
        random_seed=3,
        max_jobs=3,
        max_parallel_jobs=1,
        tags=TAGS,
    )
    # GIVEN a tuning job just created (the record may not be stored yet: AddTags waits for it)
    tuner.fit(job_name="sdk-tags-later", wait=False)
    arn = sm.tuning_job_arn("sdk-tags-later")
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "late"}])
    sm.wait_for_tuning_job("sdk-tags-later", poll=0.5, timeout=240)
    tuner.wait()
    # THEN the training jobs started after AddTags carry the tag (one job at a time: the last one
    # started long after AddTags returned)
    jobs = sorted(sm.all_training_jobs("sdk-tags-later"), key=lambda s: s["CreationTime"])
    assert len(jobs) == 3
    last = sm.list_tags(ResourceArn=jobs[-1]["TrainingJobArn"])["Tags"]
    assert last == [*TAGS, {"Key": "stage", "Value": "late"}, owned]
    # AND the estimator of the best job has the tags of its training job
    best = tuner.best_estimator()
    assert best.tags == sm.list_tags(ResourceArn=tuner.describe()["BestTrainingJob"]["TrainingJobArn"])["Tags"]


# ---- several definitions: a plain Estimator and a framework estimator ---------------------------
def test_best_estimator_per_definition_and_attach_with_a_framework_estimator(session):
    from sagemaker.estimator import Estimator
    from sagemaker.sklearn import SKLearn
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    sess, sm = session
    tuner = HyperparameterTuner.create(
        estimator_dict={"plain": sdk_estimator(sess), "sk": sklearn_estimator(sess)},
        objective_metric_name_dict={"plain": "loss", "sk": "loss"},
        hyperparameter_ranges_dict={
            "plain": {"x": ContinuousParameter(0.5, 8)},
            "sk": {"x": ContinuousParameter(1, 5)},
        },
        metric_definitions_dict={"plain": LOSS, "sk": LOSS},
        objective_type="Minimize",
        strategy="Random",
        random_seed=5,
        max_jobs=4,
        max_parallel_jobs=2,
    )
    described = run(sm, tuner, "sdk-best-multi", include_cls_metadata={})  # a dict with several (SDK's rule)
    assert {d["DefinitionName"] for d in described["TrainingJobDefinitions"]} == {"plain", "sk"}
    summaries = [s for s in sm.all_training_jobs("sdk-best-multi") if s["TrainingJobStatus"] == "Completed"]
    best_of = {
        definition: min(
            (s for s in summaries if s["TrainingJobDefinitionName"] == definition),
            key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        )
        for definition in ("plain", "sk")
    }
    # WHEN the SDK builds each definition's best estimator
    built = {
        definition: tuner.best_estimator(
            {"TrainingJobName": s["TrainingJobName"], "TrainingJobDefinitionName": definition}
        )
        for definition, s in best_of.items()
    }
    # THEN each is of its definition's class, attached to that training job
    assert type(built["plain"]) is Estimator and type(built["sk"]) is SKLearn
    for definition, estimator in built.items():
        check_estimator(estimator, sm, best_of[definition]["TrainingJobName"])
    sk = built["sk"]
    assert sk.entry_point == "train.py"
    assert sk.source_dir.startswith("s3://") and sk.source_dir.endswith("/sourcedir.tar.gz")
    assert sk.framework_version == SKLEARN_VERSION and sk.py_version == "py3"
    assert sk.hyperparameters()["x"] == best_of["sk"]["TunedHyperParameters"]["x"]
    # the overall best, without arguments
    overall = described["BestTrainingJob"]
    assert tuner.best_estimator().latest_training_job.name == overall["TrainingJobName"]

    # WHEN another process attaches (naming the framework class, as the SDK asks for a non-built-in
    # image) THEN the estimators and the best estimator come back
    attached = HyperparameterTuner.attach(
        "sdk-best-multi", sagemaker_session=sess, estimator_cls={"sk": "sagemaker.sklearn.SKLearn"}
    )
    assert set(attached.estimator_dict) == {"plain", "sk"}
    assert type(attached.estimator_dict["sk"]) is SKLearn
    assert type(attached.estimator_dict["plain"]) is Estimator
    again = attached.best_estimator()
    assert type(again) is type(built[overall["TrainingJobDefinitionName"]])
    check_estimator(again, sm, overall["TrainingJobName"])
