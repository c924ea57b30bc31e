"""One error hierarchy for the tuner.

Step Functions ``Retry``/``Catch`` clauses match on these class names (a Lambda's unhandled
exception becomes the task's error name); ``stacks/workflow.py`` derives its lists from the groups
at the end of this module. A rename is still a contract change for executions already running.
Every message says what was wrong and how to fix it.
"""
from __future__ import annotations


class TuningError(Exception):
    """Base class of every error the tuner raises on purpose.

    ``code`` is the SageMaker API error code the boto3-style client answers with.
    """

    code = "ValidationException"


class ValidationError(TuningError):
    """The request (or a CLI argument) is invalid. ``field`` names the offending member.

    ``code`` overrides the SageMaker error code for this one refusal (a warm-start parent that does
    not exist is ``ResourceNotFound``, as in SageMaker, yet still a refused request).
    """

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None) -> None:
        self.field = field
        if code is not None:
            self.code = code
        super().__init__(f"{field}: {message}" if field else message)


class DuplicateTuningJobError(TuningError):
    """A tuning job with this name exists already; names are unique, like SageMaker's."""

    code = "ResourceInUse"


class TuningJobNotFoundError(TuningError):
    """No tuning job with this name is stored."""

    code = "ResourceNotFound"


class ConcurrentUpdateError(TuningError):
    """An optimistic-lock conflict; transient, the caller retries."""


class TransientBackendError(TuningError):
    """A throttling or capacity error from an AWS service; the state machine retries."""


# ---- groups the state machine matches on (stacks/workflow.py derives its Retry/Catch names) ------
#: Transient: the step is retried with backoff (an optimistic-lock conflict, a throttled backend).
TRANSIENT_ERRORS: tuple[type[TuningError], ...] = (ConcurrentUpdateError, TransientBackendError)
#: The request is rejected before any tuning job runs (there may be no record to mark Failed).
REQUEST_ERRORS: tuple[type[TuningError], ...] = (ValidationError, DuplicateTuningJobError)


def error_names(classes: tuple[type[BaseException], ...]) -> list[str]:
    """The Step Functions error names of exception classes (a Lambda's error name is the class name)."""
    return [c.__name__ for c in classes]
