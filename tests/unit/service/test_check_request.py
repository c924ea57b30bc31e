"""``service.create.check_request``: the one validation path of ``tuner validate``, ``tuner local``
(before it deploys) and the state machine's create step (``CreateJob.check``), every problem at once."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tuner.core.request import REQUEST_SUBJECT
from tuner.errors import ValidationError
from tuner.service.create import LOCAL_PATH_BUCKET, check_request, local_paths

from tests.builders import SCRIPTS, from_shape, input_shape, mutated, tuning_request
from tests.fakes import FakeAws

EXEC = "arn:aws:states:us-east-1:123456789012:execution:Tuner:"
LIMITS = "HyperParameterTuningJobConfig.ResourceLimits"
SUBMIT = "TrainingJobDefinition.StaticHyperParameters.sagemaker_submit_directory"
CHANNEL = "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri"


def channel(uri: str) -> list[dict[str, Any]]:
    return [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}]


def refusal(request: Any, **kwargs: Any) -> list[str]:
    """The problem lines of the request's refusal (one line for a single problem)."""
    with pytest.raises(ValidationError) as info:
        check_request(request, **kwargs)
    return list(info.value.problems)


def test_shape_semantic_and_local_path_problems_come_in_one_error(tmp_path):
    # GIVEN three independent problems: a missing local data folder, a shape problem, a semantic one
    request = tuning_request("three", source="quick", objective_metric="nope", InputDataConfig=channel("no-data"))
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = "four"
    # WHEN it is checked as tuner validate / tuner local do
    with pytest.raises(ValidationError) as info:
        check_request(request, local_dir=SCRIPTS)
    # THEN one error lists the three, each once, with its field
    assert [line.split(": ")[0] for line in info.value.problems] == [
        CHANNEL,
        f"{LIMITS}.MaxParallelTrainingJobs",  # the shape's problem; the same rule's own is not repeated
        "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions",
    ]
    assert str(info.value).startswith(f"3 problems in {REQUEST_SUBJECT}:\n- {CHANNEL}: the local data path 'no-data'")


def test_local_paths_are_accepted_with_a_local_dir_and_listed(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("1,2\n")
    request = tuning_request("local", source="quick", InputDataConfig=channel(str(tmp_path / "data")))
    req = check_request(request, local_dir=SCRIPTS)
    assert local_paths(req, request) == [(SUBMIT, "quick"), (CHANNEL, str(tmp_path / "data"))]
    assert request["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] == "quick"
    # without a local folder (the state machine's view: requests arrive uploaded) a local data path is refused
    assert [line.split(": ")[0] for line in refusal(request)] == [CHANNEL]
    # and an s3:// request has no local path to list
    s3 = tuning_request("s3", InputDataConfig=channel("s3://bucket/data/"))
    assert local_paths(check_request(s3, local_dir=tmp_path), s3) == []


def test_every_missing_local_path_is_reported_once(tmp_path):
    request = tuning_request("gone", source="quick", InputDataConfig=channel("missing-data"))
    request["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] = "missing-src"
    lines = refusal(request, local_dir=tmp_path)
    assert [line.split(": ")[0] for line in lines] == [SUBMIT, CHANNEL]  # no "does not match the pattern" as well
    assert "does not exist" in lines[0] and "does not exist" in lines[1]
    assert not any(LOCAL_PATH_BUCKET in line for line in lines)


def test_hyperband_without_max_resource_is_refused_by_the_validate_path():
    request = tuning_request("hb", source="quick", strategy="Hyperband", static={"sleep": "0"})
    del request["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"]
    lines = refusal(request, local_dir=SCRIPTS)
    assert len(lines) == 1 and lines[0].startswith(
        "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource: MaxResource is missing"
    )


def test_the_create_step_reports_the_rules_that_need_its_ports_with_the_others():
    # GIVEN a request over the quota whose warm-start parent does not exist: two problems, the
    # second only the store can tell
    aws = FakeAws()
    request = tuning_request("child", max_jobs=100_000, warm_start=["ghost"])
    lines = refusal(request)  # tuner validate: no store, so the parent is not checked
    assert [line.split(": ")[0] for line in lines] == [f"{LIMITS}.MaxNumberOfTrainingJobs"]
    # WHEN the create step checks it, THEN both, and the job is stored Failed saying both
    with pytest.raises(ValidationError) as info:
        aws.service.create_job(request, EXEC + "child")
    assert [line.split(": ")[0] for line in info.value.problems] == [
        f"{LIMITS}.MaxNumberOfTrainingJobs",
        "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName",
    ]
    assert aws.store.get_job("child").failure_reason == str(info.value)


def test_the_create_step_refuses_what_validate_refuses_with_the_same_lines():
    aws = FakeAws()
    request = tuning_request("same", objective_metric="nope", max_parallel=0, seed=-1)
    validate = refusal(request, local_dir=SCRIPTS)
    with pytest.raises(ValidationError) as info:
        aws.service.create_job(request, EXEC + "same")
    assert list(info.value.problems) == validate and len(validate) == 3


# ---- hostile input: nothing but a ValidationError, whatever the request ---------------------------
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _check_any(request: Any, base: Path) -> None:
    """Accepted, or one ValidationError listing each problem once (no traceback of another kind:
    a rule that cannot run on a member the shape check refused is left out, an unreadable local
    path is a problem)."""
    try:
        check_request(request, local_dir=base)
    except ValidationError as err:
        assert err.problems and all(line.strip() for line in err.problems)
        assert len(set(err.problems)) == len(err.problems), err.problems


@FUZZ
@given(from_shape(input_shape()))
def test_a_request_generated_from_the_shape_gets_a_validation_error_or_passes(request):
    _check_any(request, SCRIPTS)


def test_an_unreadable_local_path_is_a_problem_not_a_traceback():
    request = tuning_request("long", InputDataConfig=channel("x" * 300))  # longer than a file name may be
    lines = refusal(request, local_dir=SCRIPTS)
    # the file system cannot look such a name up: it does not exist, and the refusal names the member
    # (the line shortens the long value in its middle)
    field = "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri"
    assert any(line.startswith(f"{field}: the local data path 'xxx") and "give an existing file or directory" in line
               for line in lines), lines


@FUZZ
@given(mutated())
def test_a_mutated_example_gets_a_validation_error_or_passes(request):
    _check_any(request, SCRIPTS)

