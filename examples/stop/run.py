"""Run the stop example offline: start a long tuning job, stop it once two training jobs run.

    python examples/stop/run.py

StopHyperParameterTuningJob makes the tuning job ``Stopping`` at once; its running training jobs
are stopped (they end ``Stopped``, keeping the last objective value they printed), no new one
starts, and the tuning job ends ``Stopped``.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import support  # noqa: E402

support.ensure_tuner()

from tuner.local.harness import LocalTuner  # noqa: E402

HERE = Path(__file__).resolve().parent
request = support.load_request(HERE / "tuning-job.json")
name = request["HyperParameterTuningJobName"]

with LocalTuner(sweep_interval=1.0) as lt:
    print(f"Deploying the tuner stack into moto (offline) and starting {name} ...", flush=True)
    lt.start(request, base_dir=HERE)
    # two training jobs running and a few epochs into their training (a stopped job keeps its last value)
    while sum(t.status == "InProgress" for t in lt.service.store.open_trials(name)) < 2:
        time.sleep(0.5)
    time.sleep(3)
    print(f"2 training jobs running: StopHyperParameterTuningJob {name}")
    lt.stop(name)
    print("right after the stop:", lt.describe(name)["HyperParameterTuningJobStatus"])
    describe = lt.wait(name, timeout=300)
    print("final:", describe["HyperParameterTuningJobStatus"], describe["TrainingJobStatusCounters"])
    print()
    support.show_jobs(lt, name, describe)
