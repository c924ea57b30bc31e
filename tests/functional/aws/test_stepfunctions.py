"""TaskTokens.succeed: SendTaskSuccess with the output as JSON; a token already used, expired or
of an ended execution is not an error (False), anything else is."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from tuner.aws.stepfunctions import TaskTokens

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAe4d3cjWaOhm"


def test_succeed_sends_the_output_as_json_and_returns_true(stubbed) -> None:
    client, stub = stubbed("stepfunctions")
    stub.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": '{"Done": false, "TrialNumber": 3}'})
    assert TaskTokens(client).succeed(TOKEN, {"Done": False, "TrialNumber": 3}) is True


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_succeed_of_a_used_or_expired_token_returns_false(stubbed, code: str) -> None:
    client, stub = stubbed("stepfunctions")
    stub.add_client_error(
        "send_task_success", code, "gone", expected_params={"taskToken": TOKEN, "output": '{"Done": true}'}
    )
    assert TaskTokens(client).succeed(TOKEN, {"Done": True}) is False


@pytest.mark.parametrize("code", ["InvalidOutput", "ThrottlingException", "AccessDeniedException"])
def test_succeed_other_errors_are_raised(stubbed, code: str) -> None:
    client, stub = stubbed("stepfunctions")
    stub.add_client_error("send_task_success", code, "no")
    with pytest.raises(ClientError) as info:
        TaskTokens(client).succeed(TOKEN, {"Done": True})
    assert info.value.response["Error"]["Code"] == code
