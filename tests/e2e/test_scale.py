"""Scale: Step Functions history events per trial, measured in the offline loop, and the quota
arithmetic for the largest tuning job SageMaker allows (10,000 training jobs, 100 in parallel).

E(N, P) = fixed + per_worker * P + per_trial * N is fitted from three small runs; the quota is
25,000 events per execution and 256 KB per state payload. docs/reliability.md explains the
numbers and the design change they call for.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .conftest import SCRIPTS, quick_request

pytestmark = pytest.mark.e2e
HISTORY_QUOTA = 25_000
PAYLOAD_QUOTA = 256 * 1024
RANGES = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "5"}]}


def _events(lt, name: str, max_jobs: int, parallel: int) -> list[dict]:
    request = quick_request(
        name,
        strategy="Random",
        ranges=RANGES,
        max_jobs=max_jobs,
        max_parallel=parallel,
        static={"epochs": "1"},
    )
    lt.start(request, base_dir=SCRIPTS)
    describe = lt.wait(name, timeout=300)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"]["Completed"] == max_jobs
    return lt.history(name)


def _largest_payload(events: list[dict]) -> int:
    largest = 0
    for e in events:
        for key, details in e.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output", "parameters"):
                    if isinstance(details.get(field), str):
                        largest = max(largest, len(details[field].encode()))
    return largest


@pytest.fixture(scope="module")
def measured(local_tuner):
    runs = {
        (3, 1): _events(local_tuner, "scale-a", 3, 1),
        (6, 1): _events(local_tuner, "scale-b", 6, 1),
        (6, 3): _events(local_tuner, "scale-c", 6, 3),
    }
    return {k: (len(v), _largest_payload(v), Counter(e["type"] for e in v)) for k, v in runs.items()}


def test_history_events_grow_linearly_per_trial_and_per_worker(measured):
    e31, e61, e63 = measured[(3, 1)][0], measured[(6, 1)][0], measured[(6, 3)][0]
    per_trial = (e61 - e31) / 3
    per_worker = (e63 - e61) / 2
    fixed = e31 - 3 * per_trial - per_worker
    print(
        f"history events: E(3,1)={e31} E(6,1)={e61} E(6,3)={e63}; "
        f"per trial {per_trial:g}, per worker {per_worker:g}, fixed {fixed:g}"
    )
    assert per_trial == int(per_trial) and per_worker == int(per_worker)  # exact, deterministic
    assert 5 <= per_trial <= 20


def test_one_execution_cannot_hold_10000_trials_so_the_design_must_split_it(measured):
    """The arithmetic of docs/reliability.md: how many trials fit in one execution."""
    e31, e61, e63 = measured[(3, 1)][0], measured[(6, 1)][0], measured[(6, 3)][0]
    per_trial, per_worker = (e61 - e31) / 3, (e63 - e61) / 2
    fixed = e31 - 3 * per_trial - per_worker
    events_10k = fixed + 100 * per_worker + 10_000 * per_trial
    max_trials = int((HISTORY_QUOTA - fixed - 100 * per_worker) // per_trial)
    print(
        f"10,000 trials x 100 workers: {events_10k:,.0f} events; at most {max_trials:,} trials per execution"
    )
    assert events_10k > HISTORY_QUOTA  # one execution per tuning job is not enough ...
    assert 750 <= max_trials < 10_000  # ... but ~1,000+ trials per (child) execution are safe


def test_payloads_stay_small_whatever_the_number_of_trials(measured):
    # names and numbers only: the largest state input/output does not grow with trials or workers
    sizes = {k: v[1] for k, v in measured.items()}
    print(f"largest payload per run: {sizes}")
    assert max(sizes.values()) < 8 * 1024
    assert sizes[(6, 1)] <= sizes[(3, 1)] + 64  # no per-trial growth
    assert max(sizes.values()) < PAYLOAD_QUOTA
