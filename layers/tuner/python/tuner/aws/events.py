"""Publishing the tuner's own events on EventBridge.

PutEvents can answer 200 and still not take an entry: ``FailedEntryCount`` counts them and each
answer entry has an ``ErrorCode``. botocore's retries cover a refused *request* (throttling of the
call, a 5xx), never a refused *entry*. The PutEvents API reference lists which entry errors are
retryable (``InternalFailure``, ``ThrottlingException``) and which are not (``AccessDeniedException``,
``InvalidArgument``, ``MalformedDetail``, ``NotAuthorizedFor...``). So ``EventPublisher`` sends
again only the entries that failed with a retryable code, up to ``ATTEMPTS`` calls in all, waiting
a jittered exponential backoff between them (at most ``BACKOFF_SECONDS * (2**(ATTEMPTS-1) - 1)``,
0.7 s, in all); then it raises. ``Lifecycle.publish`` logs the lost event as the ERROR line the
stack's alarm counts (``tuner.core.tuner_events.NOT_PUBLISHED``).

An entry EventBridge would refuse for its size (256 KB, see ``tuner.core.tuner_events``) is never
sent: the detail is fitted before (``Queries.state_change_detail``), and an entry that still does not
fit raises here.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from tuner.constants import TUNING_STATE_CHANGE
from tuner.core.tuner_events import MAX_ENTRY_BYTES, entry, entry_size
from tuner.errors import TransientBackendError, TuningError

#: Entry error codes worth sending again (PutEventsResultEntry.ErrorCode, PutEvents API reference).
RETRYABLE_ENTRY_ERRORS = frozenset({"InternalFailure", "ThrottlingException"})
#: PutEvents calls per entry at most (the first and the retries).
ATTEMPTS = 4
#: The first retry waits up to this long; each next one up to twice as long (full jitter).
BACKOFF_SECONDS = 0.1


class EventPublisher:
    def __init__(
        self,
        client: Any,
        bus: str = "default",
        *,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.events = client
        self.bus = bus
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep

    def tuning_job_state_change(self, detail: dict[str, Any], resources: list[str]) -> None:
        self.put([entry(detail, resources, self.bus)])

    def put(self, entries: Sequence[dict[str, Any]]) -> None:
        """PutEvents of ``entries``; the entries refused with a retryable code are sent again.

        Raises ``TuningError`` for an entry too large to send, ``TransientBackendError`` naming the
        error code of each entry still refused after the retries (or refused for good)."""
        for e in entries:
            if entry_size(e) >= MAX_ENTRY_BYTES:
                raise TuningError(
                    f"a {e.get('DetailType')} entry of {entry_size(e)} bytes: EventBridge takes less than "
                    f"{MAX_ENTRY_BYTES}; fit its detail first (tuner.core.tuner_events.fit)"
                )
        pending = list(entries)
        refused: list[str] = []
        for attempt in range(1, self.attempts + 1):
            r = self.events.put_events(Entries=pending)
            if not r.get("FailedEntryCount"):
                pending = []
                break
            answers: list[dict[str, Any]] = list(r.get("Entries") or [])
            answers += [{"ErrorCode": "Unknown"}] * (len(pending) - len(answers))
            retry = []
            for sent, answer in zip(pending, answers, strict=False):
                code = answer.get("ErrorCode")
                if not code:
                    continue
                if code in RETRYABLE_ENTRY_ERRORS:
                    retry.append((sent, f"{code}: {answer.get('ErrorMessage', '')}"))
                else:
                    refused.append(f"{code}: {answer.get('ErrorMessage', '')}")
            pending = [sent for sent, _ in retry]
            if not pending:
                break
            if attempt == self.attempts:
                refused += [why for _, why in retry]
                break
            self.sleep(random.uniform(0, self.backoff * 2 ** (attempt - 1)))
        if refused:
            kind = entries[0].get("DetailType", TUNING_STATE_CHANGE) if entries else TUNING_STATE_CHANGE
            raise TransientBackendError(
                f"PutEvents did not take {len(refused)} {kind} event(s) after up to {self.attempts} "
                f"attempts: {'; '.join(refused)}"
            )
