"""Run the stop example offline: start a long tuning job, stop it once two jobs run.

    python examples/stop/run.py
"""
import json
import time
from pathlib import Path

from tuner.local.harness import LocalTuner

HERE = Path(__file__).resolve().parent
request = json.loads((HERE / "tuning-job.json").read_text())
name = request["HyperParameterTuningJobName"]

with LocalTuner(sweep_interval=1.0) as lt:
    lt.start(request, base_dir=HERE)
    while lt.describe(name)["TrainingJobStatusCounters"]["InProgress"] < 2:
        time.sleep(0.5)
    lt.stop(name)  # StopHyperParameterTuningJob
    print("after stop:", lt.describe(name)["HyperParameterTuningJobStatus"])
    describe = lt.wait(name, timeout=300)
    print("final:", describe["HyperParameterTuningJobStatus"], describe["TrainingJobStatusCounters"])
