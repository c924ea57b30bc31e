"""One error hierarchy for the tuner.

Step Functions ``Retry``/``Catch`` clauses match on these class names (a Lambda's unhandled
exception becomes the task's error name); ``stacks/workflow.py`` derives its lists from the groups
at the end of this module. A rename is still a contract change for executions already running.
Every message says what was wrong and how to fix it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")


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
        #: Every problem this error stands for, one ``field: message`` line each: this error's own
        #: message, or the lines of the errors ``combined`` into it (``tuner.shapes.validate_input``
        #: sets the lines of a request's shape problems).
        self.problems: Sequence[str] = (str(self),)

    @classmethod
    def combined(cls, errors: Sequence[ValidationError], subject: str) -> ValidationError:
        """One error for the problems of several (at least one): the only error itself, else a
        message listing every problem as ``N problems in <subject>:`` then ``- field: message`` lines
        (the format of ``tuner.shapes.validate_input``). ``field`` is the first problem's; ``code``
        the one every error shares, else ValidationException."""
        if not errors:
            raise ValueError("combined() needs at least one error")
        if len(errors) == 1:
            return errors[0]
        lines = [line for err in errors for line in err.problems]
        codes = {err.code for err in errors}
        err = cls(
            f"{len(lines)} problems in {subject}:\n" + "\n".join(f"- {line}" for line in lines),
            code=codes.pop() if len(codes) == 1 else TuningError.code,
        )
        err.field = errors[0].field
        err.problems = tuple(lines)
        return err


class Problems:
    """The ``ValidationError``s of independent checks, collected to be raised as one.

    ``check`` runs one check and keeps its refusal, so that a request's problems are reported
    together, not one per attempt. A problem that makes the checks after it meaningless (a request
    that is not an object, no training job definition) is raised where it is found; the caller
    ``add``s it to those found so far and raises them all (``raise_any``).
    """

    def __init__(self, subject: str) -> None:
        self.subject = subject  # what is checked, as in "3 problems in <subject>"
        self.errors: list[ValidationError] = []

    def __len__(self) -> int:
        return len(self.errors)

    def add(self, err: ValidationError) -> None:
        self.errors.append(err)

    def check(self, check: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
        """``check(*args, **kwargs)``, or None when it raises ``ValidationError`` (kept)."""
        try:
            return check(*args, **kwargs)
        except ValidationError as err:
            self.errors.append(err)
            return None

    def error(self) -> ValidationError | None:
        """Every problem found as one error (None: none found)."""
        return ValidationError.combined(self.errors, self.subject) if self.errors else None

    def raise_any(self) -> None:
        """Raise every problem found as one ``ValidationError``; nothing when none was found."""
        err = self.error()
        if err is not None:
            raise err


class DuplicateTuningJobError(TuningError):
    """A tuning job with this name exists already; names are unique, like SageMaker's."""

    code = "ResourceInUse"


class TuningJobNotFoundError(TuningError):
    """No tuning job with this name is stored."""

    code = "ResourceNotFound"


class ConcurrentUpdateError(TuningError):
    """An optimistic-lock conflict; transient, the caller retries."""


class TransientBackendError(TuningError):
    """A throttled or briefly unavailable AWS service; the state machine retries the step."""


class ResourceLimitExceededError(TuningError):
    """An account quota refused a training job (SageMaker's ``ResourceLimitExceeded``).

    ``quota``, ``limit``, ``utilization`` and ``delta`` are what SageMaker's message states ("The
    account-level service limit '<quota>' is <limit> Instances, with current utilization of
    <utilization> Instances and a request delta of <delta> Instances"), None when it states none.
    ``sagemaker_message`` is SageMaker's message itself. Not retried by the state machine: a lap
    refused for capacity waits in its own ``Wait`` state (``service.capacity``); raised from a step,
    it fails the tuning job with this message (the quota can never admit the job, or the wait gave up).
    """

    code = "ResourceLimitExceeded"

    def __init__(
        self,
        message: str,
        *,
        quota: str | None = None,
        limit: int | None = None,
        utilization: int | None = None,
        delta: int | None = None,
        sagemaker_message: str = "",
    ) -> None:
        super().__init__(message)
        self.quota = quota
        self.limit = limit
        self.utilization = utilization
        self.delta = delta
        self.sagemaker_message = sagemaker_message


# ---- groups the state machine matches on (stacks/workflow.py derives its Retry/Catch names) ------
#: Transient: the step is retried with backoff (an optimistic-lock conflict, a throttled backend).
TRANSIENT_ERRORS: tuple[type[TuningError], ...] = (ConcurrentUpdateError, TransientBackendError)
#: The request is rejected before any tuning job runs (there may be no record to mark Failed).
REQUEST_ERRORS: tuple[type[TuningError], ...] = (ValidationError, DuplicateTuningJobError)


def error_names(classes: tuple[type[BaseException], ...]) -> list[str]:
    """The Step Functions error names of exception classes (a Lambda's error name is the class name)."""
    return [c.__name__ for c in classes]
