"""Built-in algorithms and AlgorithmName on fakes: what reaches CreateTrainingJob, how a finished
job's metrics are read (SageMaker's FinalMetricDataList wins over the tuner's own log parse when they
disagree), and the DescribeAlgorithm rules of the create use case."""
from __future__ import annotations

import pytest
from tuner.errors import ValidationError
from tuner.service.record import LogSettle, RecordResult

from tests.builders import LOSS, continuous, tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"
AUC_LINES = ["[0]#011train-auc:0.90000#011validation-auc:0.88000",
             "[1]#011train-auc:0.95000#011validation-auc:0.93000"]


def builtin_job(aws: FakeAws, name: str = "bx") -> str:
    """Create a one-trial built-in XGBoost job and start its trial; the training job's name."""
    channels = [{"ChannelName": c, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://d/{c}"}}}
                for c in ("train", "validation")]
    request = tuning_request(name, builtin="xgboost", objective_type="Maximize", max_jobs=1,
                             ranges=continuous(0.1, 0.5, name="eta"), InputDataConfig=channels)
    aws.service.create_job(request, EXEC + name)
    return str(aws.service.next_trial(name, 1, 0, "token")["TrainingJobName"])


def recorder(aws: FakeAws) -> RecordResult:
    return RecordResult(aws.service.ports, aws.service.limits, settle=LogSettle(interval=1.0, max_wait=0.0),
                        sleep=lambda s: None)


def test_a_built_in_s_training_job_gets_no_metric_definitions_and_amt_s_reserved_objective():
    aws = FakeAws()
    training = builtin_job(aws)
    started = aws.backend.started[training]
    assert "MetricDefinitions" not in started["AlgorithmSpecification"]
    assert started["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"


def test_when_sagemaker_s_value_and_the_log_parse_disagree_sagemaker_s_wins():
    aws = FakeAws()
    training = builtin_job(aws)
    # GIVEN logs whose last validation-auc is 0.93, and SageMaker reporting 0.94 (its own parse of
    # the algorithm's logs, e.g. of lines the tuner's read did not get)
    aws.logs.by_job[training] = AUC_LINES
    aws.backend.finish(training, FinalMetricDataList=[{"MetricName": "validation:auc", "Value": 0.94},
                                                      {"MetricName": "train:auc", "Value": 0.95}])
    recorder(aws).record_training_job(training)
    trial = aws.store.get_trial("bx", 1)
    # THEN the reported value is the objective; the series is the logs' ending with it
    assert trial.final_objective == 0.94 and trial.objective_status == "Succeeded"
    assert trial.series == [0.88, 0.93, 0.94]
    assert trial.metrics["validation:auc"] == 0.94 and "train:auc" not in trial.metrics
    assert aws.service.describe("bx")["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize", "MetricName": "validation:auc", "Value": 0.94}


def test_without_a_reported_value_the_registry_s_regex_reads_the_logs():
    aws = FakeAws()
    training = builtin_job(aws)
    aws.logs.by_job[training] = AUC_LINES
    aws.backend.finish(training)
    recorder(aws).record_training_job(training)
    trial = aws.store.get_trial("bx", 1)
    assert trial.final_objective == 0.93 and trial.series == [0.88, 0.93]


# ---- AlgorithmName ------------------------------------------------------------------------------
ALGORITHM = {
    "AlgorithmName": "my-algo",
    "TrainingSpecification": {
        "MetricDefinitions": [{"Name": "validation:f1", "Regex": "f1=([0-9.]+)"},
                              {"Name": "train:loss", "Regex": "loss=([0-9.]+)"},
                              {"Name": "bad", "Regex": "(a+)+$"}],
        "SupportedTuningJobObjectiveMetrics": [{"Type": "Maximize", "MetricName": "validation:f1"}],
    },
}


def algorithm_request(name: str = "algo", **kw):
    kw.setdefault("objective_metric", "validation:f1")
    kw.setdefault("objective_type", "Maximize")
    return tuning_request(name, algorithm_name="my-algo", max_jobs=1, **kw)


@pytest.fixture
def aws() -> FakeAws:
    aws = FakeAws()
    aws.backend.algorithms["my-algo"] = ALGORITHM
    return aws


def test_an_algorithm_s_own_definitions_are_stored_and_parse_its_logs_but_never_reach_the_training_job(aws):
    aws.service.submit(algorithm_request())
    # the execution's input (what the state machine stores) carries the algorithm's runnable definitions
    stored = aws.executions.describe("algo")
    assert '"validation:f1"' in stored["input"] and "(a+)+$" not in stored["input"]
    aws.service.create_job(algorithm_request(), EXEC + "algo")
    spec = aws.store.get_job("algo").request["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert [m["Name"] for m in spec["MetricDefinitions"]] == ["validation:f1", "train:loss"]
    training = aws.service.next_trial("algo", 1, 0, "token")["TrainingJobName"]
    assert aws.backend.started[training]["AlgorithmSpecification"] == {
        "TrainingInputMode": "File", "AlgorithmName": "my-algo"}
    aws.logs.by_job[training] = ["f1=0.5", "f1=0.7"]
    aws.backend.finish(training)
    recorder(aws).record_training_job(training)
    assert aws.store.get_trial("algo", 1).final_objective == 0.7


def test_the_objective_must_be_one_the_algorithm_supports_in_its_direction(aws):
    with pytest.raises(ValidationError, match=r"supports the objective metrics \['validation:f1'\]") as err:
        aws.service.submit(algorithm_request(objective_metric="train:loss", objective_type="Minimize"))
    assert err.value.field == "TrainingJobDefinition.AlgorithmSpecification.AlgorithmName"
    with pytest.raises(ValidationError, match="set the objective's Type to Maximize"):
        aws.service.submit(algorithm_request(objective_type="Minimize"))


def test_an_unknown_algorithm_is_refused_and_the_refusal_stored(aws):
    request = tuning_request("gone", algorithm_name="no-such-algo", objective_metric="validation:f1")
    with pytest.raises(ValidationError, match="SageMaker has no algorithm 'no-such-algo'"):
        aws.service.create_job(request, EXEC + "gone")
    job = aws.store.get_job("gone")
    assert job.status == "Failed" and "no-such-algo" in job.failure_reason


def test_metric_definitions_given_with_an_algorithm_must_be_its_own(aws):
    with pytest.raises(ValidationError, match="refuses to override them") as err:
        aws.service.submit(algorithm_request(metric_definitions=LOSS, objective_metric="loss"))
    assert err.value.field == "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions"
    own = [{"Name": "validation:f1", "Regex": "f1=([0-9.]+)"}]
    assert aws.service.submit(algorithm_request(name="ok", metric_definitions=own)).endswith(":ok")


def test_an_algorithm_without_supported_objectives_takes_any_of_its_metrics(aws):
    aws.backend.algorithms["open-algo"] = {"TrainingSpecification": {
        "MetricDefinitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}]}}
    request = tuning_request("open", algorithm_name="open-algo", objective_metric="acc", objective_type="Maximize")
    assert aws.service.submit(request).endswith(":open")
