"""Publishing the tuner's own events on EventBridge."""
from __future__ import annotations

import json
from typing import Any

from tuner.constants import TUNER_SOURCE, TUNING_STATE_CHANGE


class EventPublisher:
    def __init__(self, client: Any, bus: str = "default") -> None:
        self.events = client
        self.bus = bus

    def tuning_job_state_change(self, detail: dict[str, Any], resources: list[str]) -> None:
        self.events.put_events(
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
