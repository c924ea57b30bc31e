"""Run the warm-start example offline: the parent job, then the child warm-started from it.

    python examples/warm-start/run.py

(``tuner local`` runs one request per fresh offline deployment; a warm start needs its parent
in the same deployment, hence this script.)

What shows the warm start: the child (Bayesian) treats the parent's scored trials as observations
from its first proposal on, so its first trials are already near the parent's best ``x`` instead
of spread at random; ``OverallBestTrainingJob`` is the best of the child and its parent.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import support  # noqa: E402

support.ensure_tuner()

from tuner.core.results import to_json  # noqa: E402
from tuner.local.harness import LocalTuner  # noqa: E402

HERE = Path(__file__).resolve().parent


def first_trials(lt: LocalTuner, name: str, n: int = 3) -> str:
    jobs = sorted(lt.all_training_jobs(name)["TrainingJobSummaries"], key=lambda s: s["TrainingJobName"])
    return ", ".join(f"x={float(s['TunedHyperParameters']['x']):.3g}" for s in jobs[:n])


with LocalTuner(sweep_interval=1.0) as lt:
    print("Deploying the tuner stack into moto (offline) ...", flush=True)
    for file in ("parent.json", "tuning-job.json"):
        request = support.load_request(HERE / file)
        name = request["HyperParameterTuningJobName"]
        parents = [p["HyperParameterTuningJobName"]
                   for p in (request.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs", [])]
        print(f"\n== {name}" + (f", warm-started from {', '.join(parents)}" if parents else ""), flush=True)
        lt.start(request, base_dir=HERE)
        describe = lt.wait(name, timeout=900)
        support.show_jobs(lt, name, describe)
        print(f"{name}: first trials {first_trials(lt, name)}")
    print("\nBestTrainingJob (the child's own):", to_json(describe.get("BestTrainingJob")))
    print("OverallBestTrainingJob (child and parents):", to_json(describe.get("OverallBestTrainingJob")))
