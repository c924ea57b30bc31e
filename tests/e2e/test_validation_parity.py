"""The deployed state machine's create step refuses what ``tuner validate`` refuses, with the same
problem lines (one validation path: ``service.create.check_request``)."""
from __future__ import annotations

from typing import Any

import pytest
from tuner.errors import ValidationError
from tuner.service.create import check_request

from tests.builders import SCRIPTS, start_and_wait, tuning_request


def channel(uri: str) -> list[dict[str, Any]]:
    return [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}]


def test_the_create_step_lists_the_problems_validate_lists(local_tuner):
    # GIVEN a request with three independent problems (its local source folder is fine: uploaded)
    request = tuning_request(
        "parity-e2e", source="quick", objective_metric="nope", seed=-1, InputDataConfig=channel("s3://bucket/data/")
    )
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = "four"
    with pytest.raises(ValidationError) as validate:  # what tuner validate / tuner local print
        check_request(request, local_dir=SCRIPTS)
    assert len(validate.value.problems) == 3
    # WHEN the deployed state machine runs it
    describe = start_and_wait(local_tuner, request, timeout=600)
    # THEN the job fails with every problem, as validate lists them, and runs nothing
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert describe["FailureReason"] == str(validate.value)
    assert local_tuner.service.store.list_trials("parity-e2e") == []
