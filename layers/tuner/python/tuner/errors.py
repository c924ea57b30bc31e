"""One error hierarchy for the tuner.

Step Functions ``Catch`` clauses match on these class names (a Lambda's unhandled exception
becomes the task's error name), so names are part of the contract: do not rename them.
Every message says what was wrong and how to fix it.
"""
from __future__ import annotations


class TuningError(Exception):
    """Base class of every error the tuner raises on purpose."""


class ValidationError(TuningError):
    """The request (or a CLI argument) is invalid. ``field`` names the offending member."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class DuplicateTuningJobError(TuningError):
    """A tuning job with this name exists already; names are unique, like SageMaker's."""


class TuningJobNotFoundError(TuningError):
    """No tuning job with this name is stored."""


class ConcurrentUpdateError(TuningError):
    """An optimistic-lock conflict; transient, the caller retries."""


class TransientBackendError(TuningError):
    """A throttling or capacity error from an AWS service; the state machine retries."""
