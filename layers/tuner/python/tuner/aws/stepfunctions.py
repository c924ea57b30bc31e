"""Task tokens: wake a waiting worker. A token that is already used or expired is not an error."""
from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class TaskTokens:
    def __init__(self, client: Any) -> None:
        self.sfn = client

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        """Complete a waiting task. False if the token was already used or has expired."""
        try:
            self.sfn.send_task_success(taskToken=token, output=json.dumps(output))
            return True
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _GONE:
                return False
            raise
