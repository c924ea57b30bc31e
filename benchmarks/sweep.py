"""One sweep of the monitor over N running trials with long logs: the old path against the new one.

    python -m benchmarks.sweep                                  # 100 trials, 20,000 lines each, 20 ms a call
    python -m benchmarks.sweep --trials 100 --history 50000 --new 60 --latency 0.05

Both paths read the same logs through the real ``CloudWatchLogSource``, over a CloudWatch Logs
client that pages (``--page`` events a page; AWS: up to 10,000 events or 1 MB), hands out
per-stream tokens, counts every call and waits ``--latency`` seconds in each (the network round
trip a call costs on AWS; in-process calls have none) (``tests/logs_client.py``). Every trial has
``--history`` lines already; before each measured sweep every trial prints ``--new`` more.

* **old**: what the monitor did before: for each running trial, one after another, every line of
  its log from the start (``CloudWatchLogSource.lines``), parsed with ``parse_metrics``. Only the
  reads are timed, so this is a lower bound of the old sweep.
* **new**: ``Monitor.sweep`` as the sweeper Lambda runs it (the whole sweep: trial enumeration,
  reads from each trial's stored cursor on ``MAX_CONCURRENT_READS`` threads, the median rule,
  the cursor writes), after one sweep that caught up with the history (its cost printed apart).

The trials belong to tuning jobs of 10 running trials each (MaxParallelTrainingJobs' default
quota) with early stopping on. Wall time is measured on this machine, side by side; the figures
that matter are the ratios.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from tuner.aws.logs import CloudWatchLogSource
from tuner.core.metrics import parse_metrics
from tuner.service.monitor import MAX_CONCURRENT_READS

from tests.builders import LOSS, tuning_request
from tests.fakes import FakeAws
from tests.logs_client import FakeLogsClient

PER_JOB = 10
EPOCH = 1_700_000_000


def _setup(trials: int, history: int, page: int, latency: float) -> tuple[FakeAws, FakeLogsClient, list[Any]]:
    client = FakeLogsClient(page_events=page)
    aws = FakeAws(logs=CloudWatchLogSource(client))  # type: ignore[arg-type]
    jobs = (trials + PER_JOB - 1) // PER_JOB
    for j in range(jobs):
        n = min(PER_JOB, trials - j * PER_JOB)
        name = f"bench{j}"
        request = tuning_request(name, max_jobs=n + 1, max_parallel=n, early_stopping="Auto")
        aws.service.create_job(request, f"arn:aws:states:us-east-1:123456789012:execution:T:{name}")
        for lap in range(1, n + 1):
            aws.service.next_trial(name, lap, 0, f"token-{name}-{lap}")
    running = [t for job in aws.store.list_jobs() for t in aws.store.list_trials(job.name)]
    lines = [f"epoch {i} loss: {1.0 / (i + 1):.6f}" for i in range(history)]  # shared by every trial
    for t in running:
        client.put(f"{t.training_job_name}/algo-1-{EPOCH}", *lines)
    client.latency = latency
    return aws, client, running


def _add(client: FakeLogsClient, running: list[Any], start: int, count: int) -> None:
    lines = [f"epoch {i} loss: {1.0 / (i + 1):.6f}" for i in range(start, start + count)]
    for t in running:
        client.put(f"{t.training_job_name}/algo-1-{EPOCH}", *lines)


def _measure(client: FakeLogsClient, run: Any) -> dict[str, Any]:
    client.reset_counts()
    began = time.perf_counter()
    run()
    return {"seconds": time.perf_counter() - began, "calls": sum(client.calls.values()),
            "by_operation": dict(client.calls), "events": client.events_returned}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--trials", type=int, default=100, help="running trials")
    parser.add_argument("--history", type=int, default=20_000, help="log lines each trial has already")
    parser.add_argument("--new", type=int, default=60, help="lines each trial prints between two sweeps")
    parser.add_argument("--page", type=int, default=10_000, help="events a GetLogEvents page holds")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds each Logs call waits")
    parser.add_argument("--sweeps", type=int, default=3, help="measured sweeps of each path")
    parser.add_argument("--concurrency", type=int, default=MAX_CONCURRENT_READS, help="the new path's reads at once")
    args = parser.parse_args(argv)
    if min(args.trials, args.history, args.new, args.page, args.sweeps, args.concurrency) < 1 or args.latency < 0:
        parser.error("--trials, --history, --new, --page, --sweeps and --concurrency must be positive, "
                     "--latency not negative")

    aws, client, running = _setup(args.trials, args.history, args.page, args.latency)
    aws.service.monitor.concurrency = args.concurrency
    source = CloudWatchLogSource(client)
    printed = args.history

    def old_sweep() -> None:
        for t in running:
            parse_metrics(source.lines(t.training_job_name), LOSS)

    old, new = [], []
    for _ in range(args.sweeps):
        _add(client, running, printed, args.new)
        printed += args.new
        old.append(_measure(client, old_sweep))
    catch_up = _measure(client, aws.service.sweep)  # the new path's first sweep reads the history once
    for _ in range(args.sweeps):
        _add(client, running, printed, args.new)
        printed += args.new
        new.append(_measure(client, aws.service.sweep))

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r[key] for r in rows))

    result = {
        "trials": args.trials, "history_lines": args.history, "new_lines": args.new, "page_events": args.page,
        "latency_s": args.latency, "concurrency": args.concurrency,
        "old": {"seconds": median(old, "seconds"), "calls": median(old, "calls"), "events": median(old, "events")},
        "new": {"seconds": median(new, "seconds"), "calls": median(new, "calls"), "events": median(new, "events"),
                "by_operation": new[-1]["by_operation"]},
        "new_catch_up": {k: catch_up[k] for k in ("seconds", "calls", "events")},
    }
    result["ratio_old_over_new"] = {
        k: round(result["old"][k] / result["new"][k], 1) if result["new"][k] else None
        for k in ("seconds", "calls", "events")
    }
    print(f"{args.trials} running trials, {args.history:,} lines each, +{args.new} per sweep, "
          f"{args.page:,} events a page, {args.latency * 1000:g} ms a call, new path {args.concurrency} reads at "
          f"once (median of {args.sweeps} sweeps)")
    print(f"{'':>10} {'wall s':>8} {'Logs calls':>11} {'events read':>12}")
    for label in ("old", "new"):
        r = result[label]
        print(f"{label:>10} {r['seconds']:>8.2f} {r['calls']:>11.0f} {r['events']:>12,.0f}")
    ratio = result["ratio_old_over_new"]
    print(f"{'old / new':>10} {ratio['seconds']:>7}x {ratio['calls']:>10}x {ratio['events']:>11}x")
    print(f"new path's first sweep (catching up the history once): {catch_up['seconds']:.2f} s, "
          f"{catch_up['calls']} calls, {catch_up['events']:,} events")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
