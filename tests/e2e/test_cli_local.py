"""`tuner local` as a user runs it: a subprocess, interrupted with Ctrl-C (SIGINT) or by --timeout.

Each test deploys the stack into moto in its own process (~20 s+). What an interruption must leave:
the tuning job stopped cleanly (no traceback), describe.json, training-jobs.json and the report with
the jobs that finished, each job's output under training-jobs/, and the documented exit code.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tuner.cli import EXIT_INTERRUPTED, EXIT_TIMEOUT, TRAINING_LOGS

from tests.builders import ROOT, SCRIPTS, categorical, tuning_request

pytestmark = pytest.mark.e2e

# Grid runs each value once, one job at a time (~2 s each; the quick script: loss |x - 3| + 1/epoch),
# among them a crash and a job that prints no metric.
VALUES = ("fail", "silent", "3", "2", "4", "1", "5", "6", "0", "7")


def request(path: Path, name: str) -> Path:
    r = tuning_request(
        name,
        source="quick",
        strategy="Grid",
        max_jobs=None,
        ranges=categorical(*VALUES),
        static={"sagemaker_submit_directory": str(SCRIPTS / "quick"), "epochs": "4", "sleep": "0.5"},
    )
    path.write_text(json.dumps(r))
    return path


class Run:
    """`tuner local` in a subprocess; its stdout read line by line as it comes."""

    def __init__(self, *argv: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tuner.cli", "local", *argv], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "tuner local ended early:\n" + "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no {text!r} after {timeout} s:\n" + "\n".join(self.lines)
            time.sleep(0.1)

    def end(self, timeout: float = 180) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        assert self.proc.stderr is not None
        return code, "\n".join(self.lines), self.proc.stderr.read()


def finished(out: Path) -> tuple[dict, list[dict]]:
    describe = json.loads((out / "describe.json").read_text())
    jobs = json.loads((out / "training-jobs.json").read_text())["TrainingJobSummaries"]
    return describe, jobs


def test_ctrl_c_stops_the_job_and_keeps_what_finished(tmp_path):
    out = tmp_path / "out"
    run = Run(str(request(tmp_path / "r.json", "cli-sigint")), "--output-dir", str(out), "--sweep-interval", "1")
    # GIVEN some jobs done, among them the crash and the silent one (the progress line counts both)
    run.wait_for("failed 1  no metric 1", timeout=240)
    done = int(re.findall(r"done (\d+)/", "\n".join(run.lines))[-1])
    # WHEN the user presses Ctrl-C
    run.proc.send_signal(signal.SIGINT)
    code, stdout, stderr = run.end()
    # THEN a clean stop: exit 130, no traceback, the job Stopped with what finished kept
    assert code == EXIT_INTERRUPTED, stdout + stderr
    assert "Traceback" not in stderr + stdout, stderr
    assert "Interrupted (Ctrl-C): stopping cli-sigint" in stdout
    describe, jobs = finished(out)
    assert describe["HyperParameterTuningJobStatus"] == "Stopped"
    assert all(j["TrainingJobStatus"] != "InProgress" for j in jobs)
    ended = [j for j in jobs if j["TrainingJobStatus"] in ("Completed", "Failed")]
    assert done <= len(ended) < len(VALUES)
    by_x = {j["TunedHyperParameters"]["x"]: j for j in jobs}
    assert by_x["fail"]["TrainingJobStatus"] == "Failed"
    assert by_x["silent"]["TrainingJobStatus"] == "Completed" and by_x["silent"]["ObjectiveStatus"] == "Failed"
    scored = [j for j in jobs if "FinalHyperParameterTuningJobObjectiveMetric" in j]
    best = min(scored, key=lambda j: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert describe["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert best["TrainingJobName"] in (out / "report" / "index.html").read_text()
    # each job's output is kept; the progress said which failed, why, and where its output is
    for j in ended:
        assert (out / TRAINING_LOGS / f"{j['TrainingJobName']}.log").is_file()
    crash = out / TRAINING_LOGS / f"{by_x['fail']['TrainingJobName']}.log"
    assert "deliberate failure: bad hyperparameter x=fail" in crash.read_text()
    assert f"{by_x['fail']['TrainingJobName']} failed; output: {crash}" in stdout
    assert "    deliberate failure: bad hyperparameter x=fail" in stdout  # the failure reason's tail
    assert f"{by_x['silent']['TrainingJobName']} completed without an objective value" in stdout
    # and the leaderboard counts what has no value
    assert "without an objective value: failed 1, no metric 1" in stdout


def test_timeout_stops_the_job_writes_what_finished_and_exits_3(tmp_path):
    out = tmp_path / "out"
    run = Run(str(request(tmp_path / "r.json", "cli-timeout")), "--output-dir", str(out), "--timeout", "9")
    code, stdout, stderr = run.end()
    assert code == EXIT_TIMEOUT, stdout + stderr
    assert "Traceback" not in stderr + stdout, stderr
    assert "Timed out after 9 s (--timeout)" in stdout
    describe, jobs = finished(out)
    assert describe["HyperParameterTuningJobStatus"] == "Stopped"
    assert 0 < len(jobs) < len(VALUES) and all(j["TrainingJobStatus"] != "InProgress" for j in jobs)
    counters = describe["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and sum(counters.values()) == len(jobs)
    for j in jobs:  # every job whose script ran kept its output (a job stopped sooner printed nothing)
        if j["TrainingJobStatus"] in ("Completed", "Failed"):
            assert (out / TRAINING_LOGS / f"{j['TrainingJobName']}.log").is_file()


def test_serve_answers_another_terminal_while_the_job_runs_and_after_until_ctrl_c(tmp_path):
    """`tuner local --serve`: `tuner describe` from another process sees the job run and end; the
    report is rewritten as it runs (and reloads itself); Ctrl-C after the end stops the server."""
    path = tmp_path / "request.json"
    r = tuning_request("served-cli", source="quick", max_jobs=3, max_parallel=1,
                       static={"sagemaker_submit_directory": str(SCRIPTS / "quick"), "epochs": "4", "sleep": "0.5"})
    path.write_text(json.dumps(r))
    run = Run(str(path), "--output-dir", str(tmp_path / "out"), "--serve", "--port", "0")
    run.wait_for("serving the offline deployment on http://127.0.0.1:", timeout=180)
    url = next(m.group(0) for line in run.lines if (m := re.search(r"http://127\.0\.0\.1:\d+", line)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1")

    def describe() -> dict:
        shown = subprocess.run([sys.executable, "-m", "tuner.cli", "describe", "served-cli"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60, check=False)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    seen = {describe()["HyperParameterTuningJobStatus"]}
    run.wait_for("Still serving on", timeout=240)
    final = describe()
    seen.add(final["HyperParameterTuningJobStatus"])
    assert seen == {"InProgress", "Completed"}  # watched while it ran, and after it ended
    assert final["TrainingJobStatusCounters"]["Completed"] == 3
    run.proc.send_signal(signal.SIGINT)
    code, out, err = run.end()
    assert code == 0, err
    assert "Traceback" not in err
    page = (tmp_path / "out" / "report" / "index.html").read_text()
    assert "http-equiv='refresh'" not in page  # the final report: the job has ended
