"""The differences from AMT that docs/parity.md lists, through the offline loop: a Grid job created
with the boto3-style client (mixed-case name, no MaxNumberOfTrainingJobs, no RandomSeed) is listed
right after create, refuses a case variant of its name, runs its combinations in lexicographic order
under training jobs that carry its name as created, and the SageMaker SDK attaches to it; the SDK's
``HyperparameterTuner(autotune=True)`` runs the ranges Autotune's rule chose."""

from __future__ import annotations

import os

import pytest

from tests.builders import LOSS, categorical, sdk_estimator, source_dir, tuning_request

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker = pytest.importorskip(
    "sagemaker", reason="the SageMaker SDK is a test dependency: pip install 'sagemaker<3'"
)
pytestmark = pytest.mark.e2e


def test_a_boto3_grid_job_is_listed_unique_in_any_case_ordered_and_attachable(session):
    from sagemaker.tuner import HyperparameterTuner

    sess, sm = session
    # GIVEN a Grid request as boto3 users write it: categorical ranges only, no job count, no seed
    request = tuning_request(
        "Grid-Case", source="quick", strategy="Grid", ranges=categorical("4", "2.5"), max_jobs=None, seed=None
    )
    request["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] = "1"
    # WHEN it is created
    sm.start_local(request, base_dir=source_dir(request))
    # THEN the list shows it at once, as describe does
    listed = sm.list_hyper_parameter_tuning_jobs(NameContains="grid-case")["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in listed] == ["Grid-Case"]
    # AND its name in another case is taken
    again = tuning_request("grid-case", source="quick", strategy="Grid", ranges=categorical("1"), max_jobs=None)
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.start_local(again, base_dir=source_dir(again))
    d = sm.wait_for_tuning_job("GRID-CASE", poll=0.5, timeout=180)
    assert d["HyperParameterTuningJobStatus"] == "Completed" and d["HyperParameterTuningJobName"] == "Grid-Case"
    assert d["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 2
    # AND the combinations ran in the order given, under training jobs named after the job as created
    jobs = sm.all_training_jobs("grid-case", SortBy="Name", SortOrder="Ascending")
    assert [j["TrainingJobName"][: len("Grid-Case-001")] for j in jobs] == ["Grid-Case-001", "Grid-Case-002"]
    assert [j["TunedHyperParameters"]["x"] for j in jobs] == ["4", "2.5"]
    # AND the SageMaker SDK attaches to it (it reads MaxNumberOfTrainingJobs, the early stopping
    # type and all three range lists back from describe)
    attached = HyperparameterTuner.attach("Grid-Case", sagemaker_session=sess)
    assert (attached.strategy, attached.max_jobs, attached.early_stopping_type) == ("Grid", 2, "Off")
    assert attached.best_training_job() == d["BestTrainingJob"]["TrainingJobName"]
    assert d["BestTrainingJob"]["TunedHyperParameters"] == {"x": "2.5"}  # |x - 3| is smaller


def test_the_sdk_autotune_tuner_runs_the_ranges_the_rule_chose(session):
    from sagemaker.tuner import HyperparameterTuner

    sess, sm = session
    # GIVEN HyperparameterTuner(autotune=True): every estimator hyperparameter becomes an
    # AutoParameter (the SDK's own sagemaker_program and sagemaker_submit_directory too)
    estimator = sdk_estimator(sess, {"x": 4.0, "epochs": 1})
    tuner = HyperparameterTuner(
        estimator, "loss", {}, metric_definitions=LOSS, objective_type="Minimize", strategy="Random",
        max_jobs=2, max_parallel_jobs=2, autotune=True, hyperparameters_to_keep_static=["epochs"],
    )
    # WHEN it is fitted
    tuner.fit(job_name="sdk-autotune", wait=False)
    d = sm.wait_for_tuning_job("sdk-autotune", poll=0.5, timeout=180)
    # THEN x was tuned on the range the rule chose from its hint, the rest ran as given
    assert d["HyperParameterTuningJobStatus"] == "Completed" and d["Autotune"] == {"Mode": "Enabled"}
    ranges = d["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"] == [
        {"Name": "x", "MinValue": "0.4", "MaxValue": "40", "ScalingType": "Logarithmic"}
    ]
    static = d["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["sagemaker_program"] == '"train.py"' and static["epochs"] == "1"
    df = tuner.analytics().dataframe()
    assert len(df) == 2 and df["x"].between(0.4, 40).all() and df["FinalObjectiveValue"].notna().all()
