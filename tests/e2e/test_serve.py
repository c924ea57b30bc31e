"""The offline deployment served to other processes (``tuner.local.serve``, ``tuner local --serve``):
another process, with only the environment ``ServedDeployment.environment()`` gives it, reads the
tuning job with the CLI, the boto3-style client and the SageMaker Python SDK's
``HyperparameterTuner.attach``, through the project's own API (the stack's outputs and table)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tuner.local.serve import ServedDeployment

from tests.builders import ROOT, start_and_wait, tuning_request

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(local_tuner):
    describe = start_and_wait(local_tuner, tuning_request("served-job", source="quick", max_jobs=2, max_parallel=2))
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    with ServedDeployment(port=0, region=local_tuner.region) as endpoint:
        yield endpoint, describe


def _other_process(endpoint: ServedDeployment, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(endpoint.environment(), SAGEMAKER_SUPPRESS_V2_WARNING="1")
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


def test_the_cli_in_another_process_describes_and_lists_the_served_job(served):
    endpoint, describe = served
    shown = _other_process(endpoint, sys.executable, "-m", "tuner.cli", "describe", "served-job")
    assert shown.returncode == 0, shown.stderr
    answer = json.loads(shown.stdout)
    assert answer["HyperParameterTuningJobStatus"] == "Completed"
    assert answer["BestTrainingJob"]["TrainingJobName"] == describe["BestTrainingJob"]["TrainingJobName"]
    jobs = _other_process(endpoint, sys.executable, "-m", "tuner.cli", "training-jobs", "served-job")
    assert jobs.returncode == 0, jobs.stderr
    assert len(json.loads(jobs.stdout)["TrainingJobSummaries"]) == 2


def test_the_sagemaker_sdk_in_another_process_attaches_through_the_tuner_client(served):
    pytest.importorskip("sagemaker", reason="the SageMaker SDK is a test dependency")
    endpoint, describe = served
    script = (
        "import json, sagemaker\n"
        "from sagemaker.tuner import HyperparameterTuner\n"
        "from tuner.client import TunerClient\n"
        "sm = TunerClient()\n"
        "session = sagemaker.Session(sagemaker_client=sm)\n"
        "tuner = HyperparameterTuner.attach('served-job', sagemaker_session=session)\n"
        "d = tuner.describe()\n"
        "print(json.dumps([type(sm).__name__, d['HyperParameterTuningJobStatus'], tuner.best_training_job()]))\n"
    )
    run = _other_process(endpoint, sys.executable, "-c", script)
    assert run.returncode == 0, run.stderr[-3000:]
    kind, status, best = json.loads(run.stdout.strip().splitlines()[-1])
    assert (kind, status) == ("TunerClient", "Completed")  # the project's API, not moto's canned one
    assert best == describe["BestTrainingJob"]["TrainingJobName"]


def test_a_busy_port_is_refused_with_a_clear_error(served):
    endpoint, _ = served
    with pytest.raises(RuntimeError, match=f"cannot serve on 127.0.0.1:{endpoint.port}.*--port"):
        ServedDeployment(port=endpoint.port).start()
