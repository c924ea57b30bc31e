"""Fail fast (``core.fail_fast``): no training job succeeded after N attempts ends the tuning job."""
from __future__ import annotations

import pytest
from tuner.core.fail_fast import (
    QUOTE_LIMIT,
    REASON_NO_SUCCESS,
    attempts_allowed,
    most_common_failure,
    no_success_reason,
    quote,
)
from tuner.core.records import COMPLETED, FAILED, IN_PROGRESS, PENDING, STOPPED, TrialRecord

CRASH = "AlgorithmError: ExecuteUserScriptError: exit code 1\nKeyError: 'SM_CHANNEL_TRAINING'"


def trial(n: int, status: str = FAILED, *, reason: str | None = CRASH, value: float | None = None,
          recorded: bool | None = None, definition: str | None = None, attempt: int = 0) -> TrialRecord:
    return TrialRecord(
        job="j", number=n, params={"x": str(n)}, training_job_name=f"j-{n:03d}-00000000", definition=definition,
        status=status, failure_reason=reason if status == FAILED else None, final_objective=value,
        objective_status="Succeeded" if value is not None else ("Failed" if status != PENDING else "Pending"),
        recorded=status not in (PENDING, IN_PROGRESS) if recorded is None else recorded, attempt=attempt,
    )


def failures(count: int, start: int = 1, **kw) -> list[TrialRecord]:
    return [trial(n, **kw) for n in range(start, start + count)]


@pytest.mark.parametrize("max_parallel, attempts", [(1, 5), (2, 5), (4, 5), (5, 6), (10, 11), (100, 101)])
def test_attempts_are_amts_five_or_one_more_than_run_at_once(max_parallel, attempts):
    assert attempts_allowed(max_parallel) == attempts


def test_attempts_refuse_a_parallelism_below_one():
    with pytest.raises(ValueError, match="MaxParallelTrainingJobs must be at least 1"):
        attempts_allowed(0)


@pytest.mark.parametrize(
    "case, trials, max_parallel, fails",
    [
        ("4 failures: one short", failures(4), 1, False),
        ("5 failures", failures(5), 1, True),
        ("5 failures, 5 at once: one short of 6", failures(5), 5, False),
        ("6 failures, 5 at once", failures(6), 5, True),
        ("a Completed job among them", [*failures(5), trial(6, COMPLETED, value=1.0)], 1, False),
        ("a Completed job first, then failures", [trial(1, COMPLETED, value=1.0), *failures(6, 2)], 1, False),
        ("Completed without the objective is a success", [trial(1, COMPLETED), *failures(5, 2)], 1, False),
        ("Stopped with a value is a success", [trial(1, STOPPED, value=2.0), *failures(5, 2)], 1, False),
        ("Stopped without a value is no attempt", [trial(1, STOPPED), *failures(4, 2)], 1, False),
        ("Stopped without a value beside 5 failures", [trial(1, STOPPED), *failures(5, 2)], 1, True),
        ("running trials are not counted", [*failures(4), trial(5, IN_PROGRESS)], 1, False),
        ("a retry waiting is not finished",
         [*failures(4), trial(5, PENDING, attempt=1, recorded=False)], 1, False),
        ("retries exhausted count as failed",
         [*failures(4), trial(5, reason="InternalServerError: We encountered an internal error.")], 1, True),
        ("a Failed trial not yet recorded is not counted", [*failures(4), trial(5, recorded=False)], 1, False),
        ("ClientError failures count too", failures(5, reason="ClientError: no s3:ListBucket"), 1, True),
    ],
)
def test_the_rule(case, trials, max_parallel, fails):
    reason = no_success_reason(trials, max_parallel)
    assert (reason is not None) is fails, case
    if fails:
        assert reason.startswith(f"{REASON_NO_SUCCESS} after {attempts_allowed(max_parallel)} attempts. ")


@pytest.mark.parametrize(
    "per_definition, fails",
    [
        ({"a": 5}, False),  # b has not failed yet: it may work
        ({"a": 4, "b": 1}, True),
        ({"a": 3, "b": 1}, False),  # 4 < 5 attempts
    ],
)
def test_with_several_definitions_every_definition_must_have_failed(per_definition, fails):
    trials, n = [], 1
    for name, count in per_definition.items():
        for _ in range(count):
            trials.append(trial(n, definition=name))
            n += 1
    assert (no_success_reason(trials, 1, ["a", "b"]) is not None) is fails


def test_with_several_definitions_one_success_keeps_the_job_running():
    trials = [*failures(8, definition="a"), trial(9, definition="b"), trial(10, COMPLETED, value=1.0, definition="b")]
    assert no_success_reason(trials, 1, ["a", "b"]) is None


def test_the_reason_is_amts_sentence_and_the_most_common_failure_quoted():
    trials = [trial(1, reason="AlgorithmError: other"), *failures(4, 2)]
    reason = no_success_reason(list(reversed(trials)), 1)  # any order: read in number order
    assert reason == (
        "No training job succeeded after 5 attempts. Please take a look at the training job failures "
        f'to get more details. The most common failure (4 of 5 failed training jobs): "{CRASH}"'
    )


def test_ties_go_to_the_earliest_trial_and_a_missing_reason_is_named():
    trials = [trial(2, reason="B"), trial(1, reason="A"), trial(3, reason=None), trial(4, reason="B"),
              trial(5, reason="A")]
    assert most_common_failure(sorted(trials, key=lambda t: t.number)) == ("A", 2)
    assert most_common_failure([trial(1, reason=None)]) == ("(no failure reason)", 1)


def test_a_long_failure_keeps_its_start_and_its_end_and_fits_describe():
    traceback = "AlgorithmError: ExecuteUserScriptError: exit code 1\n" + "  frame\n" * 400 + "ValueError: bad"
    quoted = quote(traceback)
    assert len(quoted) == QUOTE_LIMIT
    assert quoted.startswith("AlgorithmError: ExecuteUserScriptError") and quoted.endswith("ValueError: bad")
    assert " [...] " in quoted
    reason = no_success_reason(failures(5, reason=traceback), 1)
    assert reason is not None and len(reason) <= 1024
    assert quote("short") == "short"
