"""Publishing the tuner's own events on EventBridge."""
from __future__ import annotations

import json
from typing import Any

from tuner.constants import TUNER_SOURCE, TUNING_STATE_CHANGE
from tuner.errors import TransientBackendError


class EventPublisher:
    def __init__(self, client: Any, bus: str = "default") -> None:
        self.events = client
        self.bus = bus

    def tuning_job_state_change(self, detail: dict[str, Any], resources: list[str]) -> None:
        r = self.events.put_events(
            Entries=[
                {
                    "Source": TUNER_SOURCE,
                    "DetailType": TUNING_STATE_CHANGE,
                    "Detail": json.dumps(detail, default=str),
                    "Resources": resources,
                    "EventBusName": self.bus,
                }
            ]
        )
        if r.get("FailedEntryCount"):  # PutEvents answers 200 and names each entry it did not take
            failed: dict[str, Any] = next((e for e in r.get("Entries", []) if e.get("ErrorCode")), {})
            raise TransientBackendError(
                f"PutEvents did not take the {TUNING_STATE_CHANGE} event: "
                f"{failed.get('ErrorCode', 'unknown')}: {failed.get('ErrorMessage', '')}"
            )
