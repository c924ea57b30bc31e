"""Fail fast: a tuning job whose training jobs all fail from the start ends Failed (pure).

AMT ends such a tuning job ``Failed`` with "No training job succeeded after 5 attempts. Please
take a look at the training job failures to get more details." instead of running the rest of
``MaxNumberOfTrainingJobs``. AMT documents no rule; the sentence is known from public reports of
AMT runs (docs/parity.md, "Fail fast"). This rebuild's rule, evaluated over the tuning job's own
trials (a warm start's parents are other tuning jobs: their results say nothing about this one's
script or data):

* **Attempts** ``N = max(5, MaxParallelTrainingJobs + 1)`` (``attempts_allowed``). The first
  ``MaxParallelTrainingJobs`` trials start together, before any result is known; with one more,
  at least one failed attempt was started after a failure had been seen. For up to 4 jobs in
  parallel this is AMT's 5.
* **A failed attempt** is a finished trial whose training job ``Failed``: recorded with that
  status, whatever the cause (``AlgorithmError``, ``ClientError``, or ``InternalServerError`` whose
  retries ran out; the public reports show AMT ending jobs on ``ClientError`` failures too). A
  trial waiting for a retry (``RetryStrategy``: Pending, unrecorded) is not finished, nor is one
  still running; a ``Stopped`` trial is no attempt (a stop says nothing about the script).
* **A success** is a trial whose training job ``Completed``, with or without the objective
  metric, or a ``Stopped`` trial that reported an objective value. A ``Completed`` job without
  the metric counts as a success: its training job succeeded (AMT's word), and a metric that is
  missing only for some hyperparameters (a diverged run printing ``nan``) must not end the job.
  A job where no trial ever emits the metric still ends ``Failed`` at the end
  (``Lifecycle.finalize``).
* **Several definitions**: every definition must have at least one failed attempt. A broken
  definition beside a working, slower one does not end the job before the working one's first
  result (``core.allocation`` gives every definition one of the first trials).

The rule holds when no trial is a success, there are at least ``N`` failed attempts and every
definition failed at least once. Its ``FailureReason`` is AMT's sentence followed by the most
common failure reason among the failed attempts (ties: the earliest trial's), quoted and trimmed
(``QUOTE_LIMIT``), so that describe shows the script's error within SageMaker's 1,024 characters.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tuner.core.records import COMPLETED, FAILED, STOPPED, TrialRecord

#: AMT's attempts before it gives up on a tuning job none of whose training jobs succeeded.
AMT_ATTEMPTS = 5
#: The start of the reason (stable: what the state-change event and the CLI match on).
REASON_NO_SUCCESS = "No training job succeeded"
#: The longest quoted failure reason (the whole reason stays under describe's 1,024 characters).
QUOTE_LIMIT = 640
#: Of a trimmed failure reason, the characters kept from its start (the kind of error); the rest
#: of ``QUOTE_LIMIT`` comes from its end, where a traceback names the exception.
QUOTE_HEAD = 160
_ELLIPSIS = " [...] "


def attempts_allowed(max_parallel: int) -> int:
    """``N``: failed attempts, none succeeding, after which the tuning job ends Failed."""
    if max_parallel < 1:
        raise ValueError(f"MaxParallelTrainingJobs must be at least 1, not {max_parallel}")
    return max(AMT_ATTEMPTS, max_parallel + 1)


def succeeded(trial: TrialRecord) -> bool:
    """The trial's training job succeeded: Completed, or Stopped with an objective value."""
    if trial.status == COMPLETED:
        return True
    return trial.status == STOPPED and trial.objective_status == "Succeeded"


def failed_attempt(trial: TrialRecord) -> bool:
    """The trial is a finished attempt whose training job Failed (a pending retry is not)."""
    return trial.recorded and trial.status == FAILED


def failed_fast(completion_reason: str | None) -> bool:
    """The job's completion reason says it ended by this rule (so it ends Failed with that reason)."""
    return bool(completion_reason) and str(completion_reason).startswith(REASON_NO_SUCCESS)


def no_success_reason(
    trials: Sequence[TrialRecord], max_parallel: int, definitions: Sequence[str | None] = (None,)
) -> str | None:
    """The tuning job's FailureReason when no training job succeeded after ``N`` attempts, else None.

    ``trials``: the tuning job's trials, in any order (read in number order); ``max_parallel``:
    MaxParallelTrainingJobs; ``definitions``: the request's definition names (``(None,)`` for the
    single TrainingJobDefinition).
    """
    ordered = sorted(trials, key=lambda t: t.number)
    if any(succeeded(t) for t in ordered):
        return None
    attempts = attempts_allowed(max_parallel)
    failures = [t for t in ordered if failed_attempt(t)]
    if len(failures) < attempts:
        return None
    if len(definitions) > 1 and not set(definitions) <= {t.definition for t in failures}:
        return None  # a definition not yet seen failing may still work
    reason, count = most_common_failure(failures)
    return (
        f"{REASON_NO_SUCCESS} after {attempts} attempts. Please take a look at the training job "
        f"failures to get more details. The most common failure ({count} of {len(failures)} failed "
        f'training jobs): "{quote(reason)}"'
    )


def most_common_failure(failures: Sequence[TrialRecord]) -> tuple[str, int]:
    """The failure reason the most trials share, and how many; ties go to the earliest trial's.

    ``failures`` in number order; a trial without a reason counts as "(no failure reason)"."""
    reasons = [(t.failure_reason or "").strip() or "(no failure reason)" for t in failures]
    counts = Counter(reasons)
    best = max(counts.values())
    first = next(r for r in reasons if counts[r] == best)
    return first, best


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` as it is when it fits ``limit`` characters; else its start and its end, joined
    by a marker, ``limit`` characters in all."""
    if len(text) <= limit:
        return text
    head = min(QUOTE_HEAD, limit // 2)
    tail = limit - head - len(_ELLIPSIS)
    return f"{text[:head].rstrip()}{_ELLIPSIS}{text[-tail:].lstrip()}"
