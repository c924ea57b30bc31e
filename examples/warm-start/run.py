"""Run the warm-start example offline: the parent job, then the child warm-started from it.

    python examples/warm-start/run.py

(``tuner local`` runs one request per fresh offline deployment; a warm start needs its parent
in the same deployment, hence this script.)
"""
import json
from pathlib import Path

from tuner.core.results import to_json
from tuner.local.harness import LocalTuner

HERE = Path(__file__).resolve().parent

with LocalTuner(sweep_interval=1.0) as lt:
    for name in ("parent.json", "tuning-job.json"):
        request = json.loads((HERE / name).read_text())
        lt.start(request, base_dir=HERE)
        describe = lt.wait(request["HyperParameterTuningJobName"], timeout=900)
        print(f"{request['HyperParameterTuningJobName']}: {describe['HyperParameterTuningJobStatus']}")
    print("BestTrainingJob:", to_json(describe.get("BestTrainingJob")))
    print("OverallBestTrainingJob:", to_json(describe.get("OverallBestTrainingJob")))
