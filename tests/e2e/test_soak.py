"""Soak: many tuning jobs through one offline deployment, a few at a time, mixed strategies, and not
one internal error (issue 12: moto's DynamoDB raced under such a load; ``tuner.local.atomic``).

The jobs cycle through Random, Grid (one trial that fails on purpose), Bayesian, Hyperband, Random
with a RetryStrategy (its first training job fails with an injected InternalServerError, the retry
succeeds) and Random with early stopping, all on tests/e2e/scripts/quick/train.py. A driver keeps
``concurrency`` of them running (starting the next as one ends), invokes the sweeper as its
schedule would, and watches each running job as a client does (describes it, from before its
record exists, and lists its training jobs: reads that race the loop's writes).

Then, for every job: it ended as its request implies, its trials are numbered 1..N with one
training job each, every training job is listed and counted once, no trial failed for a reason it
was not given. And for the whole run: no error in the watching client, no Lambda error of a kind
the state machine does not retry on purpose (``tuner.errors.TRANSIENT_ERRORS``), no EventBridge
delivery error, no error in the local SageMaker's job threads.

Size: ``TUNER_SOAK_JOBS`` and ``TUNER_SOAK_CONCURRENCY`` (environment). ``test_soak`` (in
``make test``) runs ``FAST_JOBS`` jobs by default, about a minute on 2 cores; ``test_soak_full``
(``make soak``, marked slow) runs ``FULL_JOBS``.
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from tuner.errors import TRANSIENT_ERRORS, error_names
from tuner.local import atomic, eventbridge

from tests.builders import SCRIPTS, categorical, continuous, max_concurrent, tuning_request

pytestmark = pytest.mark.e2e
FAST_JOBS, FULL_JOBS, CONCURRENCY = 6, 30, 3
TERMINAL = ("Completed", "Failed", "Stopped")
ALLOWED_LAMBDA_ERRORS = set(error_names(TRANSIENT_ERRORS))  # retried by the state machine by design
INJECTED = "InternalServerError"


def _size(default_jobs: int) -> tuple[int, int]:
    return (int(os.environ.get("TUNER_SOAK_JOBS", default_jobs)),
            int(os.environ.get("TUNER_SOAK_CONCURRENCY", CONCURRENCY)))


# ---- the mix ----------------------------------------------------------------------------------
def _request(name: str, kind: str, seed: int) -> dict[str, Any]:
    common: dict[str, Any] = {"source": "quick", "seed": seed, "max_parallel": 2}
    if kind == "grid":  # x=fail exits non-zero: one NonRetryableError, the job still Completed
        return tuning_request(name, strategy="Grid", ranges=categorical("1", "2", "3", "fail"), max_jobs=4, **common)
    if kind == "bayesian":
        return tuning_request(name, strategy="Bayesian", ranges=continuous(0, 10), max_jobs=4, **common)
    if kind == "hyperband":
        return tuning_request(name, strategy="Hyperband", ranges=continuous(0, 10), max_jobs=4, static={"epochs": "4"},
                              strategy_config={"HyperbandStrategyConfig": {"MinResource": 1}}, **common)
    if kind == "retry":  # see SoakFaults: trial 1's first training job fails with InternalServerError
        return tuning_request(name, ranges=continuous(0, 10), max_jobs=3, retry_attempts=1, **common)
    if kind == "early":
        return tuning_request(name, ranges=continuous(0, 10), max_jobs=4, early_stopping="Auto",
                              static={"epochs": "5"}, **common)
    return tuning_request(name, ranges=continuous(0, 10), max_jobs=3, **common)


KINDS = ("random", "grid", "bayesian", "hyperband", "retry", "early")


def _mix(label: str, jobs: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (kind, request); names are unique per label (a session may run both soaks)."""
    out = {}
    for i in range(jobs):
        kind = KINDS[i % len(KINDS)]
        name = f"soak-{label}-{i:02d}-{kind}"
        out[name] = (kind, _request(name, kind, seed=i + 1))
    return out


class SoakFaults:
    """The tuner's SageMaker fault hook: the first training job of trial 1 of every ``retry`` job
    fails with InternalServerError (retried by the tuner); everything else runs normally."""

    def __init__(self) -> None:
        self.injected: set[str] = set()  # tuning jobs whose fault was injected
        self._lock = threading.Lock()

    def __call__(self, training_job: str, _request: dict[str, Any]) -> str | None:
        tuning_job, _, rest = training_job.rpartition("-")[0].rpartition("-")
        if not (tuning_job.startswith("soak-") and tuning_job.endswith("-retry") and rest == "001"):
            return None
        with self._lock:
            if tuning_job in self.injected:
                return None
            self.injected.add(tuning_job)
            return INJECTED


# ---- running ---------------------------------------------------------------------------------
@dataclass
class Soak:
    jobs: dict[str, tuple[str, dict[str, Any]]]
    concurrency: int
    seconds: float = 0.0
    executions: dict[str, str] = field(default_factory=dict)  # name -> final execution status
    client_errors: list[str] = field(default_factory=list)  # what the watching client saw fail
    lambda_errors: list[tuple[str, str]] = field(default_factory=list)  # (function, traceback)
    delivery_errors: list[str] = field(default_factory=list)
    sagemaker_errors: list[str] = field(default_factory=list)


@pytest.fixture()
def soak_tuner(local_tuner) -> Iterator[Any]:
    """The package's tuner with the soak's fault hook and a faster sweeper."""
    saved = local_tuner.fault, local_tuner.sweep_interval
    local_tuner.fault = SoakFaults()
    local_tuner.sweep_interval = 1.0
    try:
        yield local_tuner
    finally:
        local_tuner.fault, local_tuner.sweep_interval = saved


def watch(lt: Any, name: str, soak: Soak) -> None:
    """What a client does while its job runs (``tuner local``, the SDK's ``wait``): describe it,
    from the very start (before the job's record exists), and list its training jobs."""
    try:
        lt.describe(name)
        lt.list_training_jobs(name, MaxResults=10)
    except Exception as exc:  # noqa: BLE001 - a job not created yet is refused; anything else is a fault
        if type(exc).__name__ != "TuningJobNotFoundError":
            soak.client_errors.append(f"{name}: {type(exc).__name__}: {exc}")


def run_soak(lt: Any, jobs: dict[str, tuple[str, dict[str, Any]]], concurrency: int, timeout: float) -> Soak:
    """Start the jobs in order, ``concurrency`` at a time; return when all have ended."""
    assert atomic.installed(), "moto's DynamoDB must be locked (tuner.local.atomic)"
    soak = Soak(jobs, concurrency)
    marks = len(lt.lambdas.errors), len(eventbridge.delivery_errors()), len(lt.sagemaker.errors)
    pending, running = list(jobs), set[str]()
    t0 = time.monotonic()
    next_sweep = t0 + lt.sweep_interval
    while pending or running:
        while pending and len(running) < concurrency:
            name = pending.pop(0)
            lt.start(jobs[name][1], base_dir=SCRIPTS)
            running.add(name)
        for name in sorted(running):
            watch(lt, name, soak)
            status = lt.execution(name)["status"]
            if status != "RUNNING":
                soak.executions[name] = status
                running.discard(name)
        if time.monotonic() >= next_sweep:
            lt.sweep()
            next_sweep = time.monotonic() + lt.sweep_interval
        assert time.monotonic() - t0 < timeout, f"soak still running after {timeout:.0f} s: {sorted(running)}"
        time.sleep(0.2)
    assert lt.sagemaker.wait_idle(30)
    eventbridge.wait_deliveries(10.0)
    soak.seconds = time.monotonic() - t0
    soak.lambda_errors = list(lt.lambdas.errors[marks[0]:])
    soak.delivery_errors = eventbridge.delivery_errors()[marks[1]:]
    soak.sagemaker_errors = list(lt.sagemaker.errors[marks[2]:])
    return soak


# ---- checking --------------------------------------------------------------------------------
def error_kind(traceback_text: str) -> str:
    """The exception class of a Lambda error's traceback (its last line: ``module.Class: message``)."""
    last = [line for line in traceback_text.strip().splitlines() if line.strip()][-1]
    return last.split(":", 1)[0].strip().rpartition(".")[2]


def job_problems(lt: Any, name: str, kind: str, request: dict[str, Any], execution: str) -> list[str]:
    """What is wrong with one finished soak job (nothing, if it ended as its request implies)."""
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(f"{name}: {what}")

    describe = lt.describe(name)
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    max_jobs, max_parallel = limits["MaxNumberOfTrainingJobs"], limits["MaxParallelTrainingJobs"]
    check(execution == "SUCCEEDED", f"execution {execution}")
    check(describe["HyperParameterTuningJobStatus"] == "Completed",
          f"status {describe['HyperParameterTuningJobStatus']} ({describe.get('FailureReason')})")
    # every trial once, numbered 1..N, one training job each, all recorded
    trials = lt.service.store.list_trials(name)
    check([t.number for t in trials] == list(range(1, max_jobs + 1)), f"trials {[t.number for t in trials]}")
    check(len({t.training_job_name for t in trials}) == len(trials), "a training job shared by two trials")
    check(all(t.recorded for t in trials), "a trial's result never recorded")
    # every training job started once, listed once (a retried attempt is the trial's history, not listed)
    started = [job for _, job, s in lt.sagemaker.transitions if job.startswith(name + "-") and s == "InProgress"]
    listed = [s["TrainingJobName"] for s in lt.all_training_jobs(name)["TrainingJobSummaries"]]
    retried = [a["TrainingJobName"] for t in trials for a in t.attempts]
    check(len(started) == len(set(started)), "a training job started twice")
    check(len(listed) == len(set(listed)) == len(trials), f"{len(listed)} listed for {len(trials)} trials")
    check(sorted(set(listed) | set(retried)) == sorted(set(started)), "listed + retried != started")
    check(len(retried) == (1 if kind == "retry" else 0), f"{len(retried)} retried attempts")
    check(max_concurrent(lt.sagemaker.transitions, name) <= max_parallel, "more than MaxParallelTrainingJobs")
    # the counters: each listed training job once, as SageMaker reports it
    sm = lt.session.client("sagemaker")
    real: Counter[str] = Counter()
    for n in listed:
        try:
            real[sm.describe_training_job(TrainingJobName=n)["TrainingJobStatus"]] += 1
        except sm.exceptions.ClientError as err:  # a listed training job SageMaker does not have
            trial = next((t for t in trials if t.training_job_name == n), None)
            check(False, f"{n} is listed but SageMaker has none ({err}); its trial: {trial}")
    counters = describe["TrainingJobStatusCounters"]
    check(counters["InProgress"] == 0 and set(real) <= set(TERMINAL), f"not finished: {dict(real)}")
    check(counters["Completed"] == real["Completed"] and counters["Stopped"] == real["Stopped"]
          and counters["RetryableError"] + counters["NonRetryableError"] == real["Failed"],
          f"counters {counters} vs SageMaker {dict(real)}")
    check(sum(counters.values()) == len(listed), f"counters {counters} for {len(listed)} jobs")
    check(sum(describe["ObjectiveStatusCounters"].values()) == len(listed)
          and describe["ObjectiveStatusCounters"]["Pending"] == 0, f"objectives {describe['ObjectiveStatusCounters']}")
    # the only failure is the one the request asks for: Grid's x=fail (an AlgorithmError)
    failed = {t.params.get("x"): t.failure_reason for t in trials if t.status == "Failed"}
    expected_failed = {"fail"} if kind == "grid" else set()
    check(set(failed) == expected_failed, f"failed trials {failed}")
    check(all(str(r).startswith("AlgorithmError") for r in failed.values()), f"failure reasons {failed}")
    check("BestTrainingJob" in describe, "no best training job")
    return problems


def internal_errors(soak: Soak, problems: list[str]) -> dict[str, int]:
    lambda_kinds = Counter(error_kind(tb) for _, tb in soak.lambda_errors)
    return {
        "lambda": sum(n for k, n in lambda_kinds.items() if k not in ALLOWED_LAMBDA_ERRORS),
        "client": len(soak.client_errors),
        "delivery": len(soak.delivery_errors),
        "sagemaker": len(soak.sagemaker_errors),
        "jobs": len({p.split(":", 1)[0] for p in problems}),
    }


def check_soak(lt: Any, label: str, default_jobs: int, report: Callable[[str], None]) -> None:
    jobs, concurrency = _size(default_jobs)
    mix = _mix(label, jobs)
    soak = run_soak(lt, mix, concurrency, timeout=120 + 30 * jobs)
    problems = [p for name, (kind, req) in mix.items()
                for p in job_problems(lt, name, kind, req, soak.executions[name])]
    counts = internal_errors(soak, problems)
    kinds = Counter(error_kind(tb) for _, tb in soak.lambda_errors)
    report(f"soak {label}: {jobs} jobs, {concurrency} concurrent, {soak.seconds:.0f} s; "
           f"internal errors {sum(counts.values())} {counts}; Lambda errors by kind {dict(kinds)}; "
           f"injected retries {len(lt.fault.injected)}")
    unexpected = [tb for _, tb in soak.lambda_errors if error_kind(tb) not in ALLOWED_LAMBDA_ERRORS]
    assert not unexpected, "Lambda errors:\n" + "\n".join(unexpected[:3])
    assert not soak.client_errors, soak.client_errors[:5]
    assert not soak.delivery_errors, soak.delivery_errors[:5]
    assert not soak.sagemaker_errors, soak.sagemaker_errors[:5]
    assert not problems, "\n".join(problems)
    assert len(lt.fault.injected) == sum(1 for kind, _ in mix.values() if kind == "retry")


# ---- the race itself, in isolation ------------------------------------------------------------
def test_moto_dynamodb_reads_do_not_race_transactions(local_tuner):
    """What the soak hits by chance, forced: claim-like transactions (moto deep-copies the table
    for each) beside reads of partitions that do not exist yet (moto's ``defaultdict`` inserts
    them) and in-place updates beside queries. With writes locked and reads not (the lock before
    issue 12) the transactions raised ``RuntimeError: dictionary changed size during iteration``
    66 times in these 3 s; with every call locked: never."""
    ddb = local_tuner.session.client("dynamodb")
    table = "soak-race"
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    attributes = [{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")]
    ddb.create_table(TableName=table, KeySchema=keys, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST")
    for i in range(200):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"job{i % 20}"}, "sk": {"S": f"TRIAL#{i}"}})
    errors: Counter = Counter()
    done = Counter()
    stop = time.monotonic() + 3.0

    def claim(i: int) -> None:
        claim_sk = f"CLAIM#{threading.get_ident()}-{i}"
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "job0"}, "sk": {"S": "TRIAL#0"}},
                        "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": str(i)}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "job0"}, "sk": {"S": claim_sk}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}])

    def read_new(i: int) -> None:
        ddb.get_item(TableName=table, Key={"pk": {"S": f"new-{threading.get_ident()}-{i}"}, "sk": {"S": "JOB"}})

    def update_and_query(i: int) -> None:
        ddb.update_item(TableName=table, Key={"pk": {"S": "job1"}, "sk": {"S": "TRIAL#1"}},
                        UpdateExpression=f"SET a{i % 20} = :v REMOVE a{(i + 10) % 20}",
                        ExpressionAttributeValues={":v": {"N": str(i)}})
        ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "job1"}})

    def loop(fn: Callable[[int], None]) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            try:
                fn(i)
                done[fn.__name__] += 1
            except Exception as exc:  # noqa: BLE001 - counted, asserted below
                errors[f"{fn.__name__}: {type(exc).__name__}: {exc}"] += 1

    threads = [threading.Thread(target=loop, args=(fn,)) for fn in (claim, claim, read_new, update_and_query)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ddb.delete_table(TableName=table)
    assert not errors, dict(errors)
    assert all(done[fn] > 0 for fn in ("claim", "read_new", "update_and_query")), dict(done)


def test_soak(soak_tuner, capsys):
    """``make test``'s soak: ``FAST_JOBS`` jobs (``TUNER_SOAK_JOBS``), 3 at a time."""
    with capsys.disabled():
        check_soak(soak_tuner, "fast", FAST_JOBS, lambda line: print(f"\n{line}"))


@pytest.mark.slow
def test_soak_full(soak_tuner, capsys):
    """``make soak``: ``FULL_JOBS`` jobs (``TUNER_SOAK_JOBS``), 3 at a time (``TUNER_SOAK_CONCURRENCY``)."""
    with capsys.disabled():
        check_soak(soak_tuner, "full", FULL_JOBS, lambda line: print(f"\n{line}"))
