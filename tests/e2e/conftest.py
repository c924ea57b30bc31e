"""One offline deployment for the e2e package: synth (cached) + deploy into moto, shared by all e2e tests.

IAM is enforced on every call the tuner's Lambdas and state machine make (``tuner.local.iam``): a
refused call fails the test that made it (``no_access_denied``), and the calls of the whole package
are written to ``build/iam/e2e-calls.json`` for the grant coverage check
(``test_iam.py::test_every_grant_is_exercised_or_documented``, run after every other e2e test).

What the tests build and the start-and-wait helper are in tests/builders.py."""
from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path

import pytest
from tuner.local import offline_client
from tuner.local.harness import LocalTuner

ROOT = Path(__file__).resolve().parents[2]
IAM_RECORD = ROOT / "build" / "iam" / "e2e-calls.json"


@pytest.fixture(scope="package")
def local_tuner(tmp_path_factory: pytest.TempPathFactory):
    """Package-scoped: moto's state is global, so the mock must end before other test folders run."""
    with LocalTuner(tmp_path_factory.mktemp("local-tuner"), sweep_interval=2.0) as lt:
        yield lt
        IAM_RECORD.parent.mkdir(parents=True, exist_ok=True)
        IAM_RECORD.write_text(json.dumps(lt.iam_record(), indent=1, sort_keys=True))


@pytest.fixture(autouse=True)
def no_access_denied(request: pytest.FixtureRequest):
    """A call the deployed roles refuse fails the test, naming the function, call and grant."""
    if "local_tuner" not in request.fixturenames:
        yield
        return
    lt = request.getfixturevalue("local_tuner")
    before = len(lt.iam_denials())
    yield
    refused = lt.iam_denials()[before:]
    assert not refused, "calls refused by IAM (offline twin):\n" + lt.iam.report(refused)


@pytest.fixture(scope="module")
def session(local_tuner):
    """The SageMaker SDK v2 on the offline deployment: ``(sagemaker.Session, its TunerClient)``."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sagemaker = pytest.importorskip("sagemaker", reason="the SageMaker SDK is a test dependency")
    with offline_client(local_tuner=local_tuner, sweep_interval=2.0) as sm:
        yield sagemaker.Session(boto_session=sm.session, sagemaker_client=sm), sm


class LambdaFaults:
    """Faults of the tuner's Lambdas by tuning job: ``plan[job] = {invocation number: fault}`` for
    NextTrial, ``plan[(function, job)]`` for another function (faults: ``InProcessLambdas.fault``)."""

    def __init__(self) -> None:
        self.plan: dict[str | tuple[str, str], dict[int, str]] = {}
        self.count: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, function: str, event: dict) -> str | None:
        if not isinstance(event, dict):
            return None
        job = event.get("TuningJobName") or event.get("HyperParameterTuningJobName") or ""
        key: str | tuple[str, str] = job if function == "next_trial" else (function, job)
        with self._lock:
            if key not in self.plan:
                return None
            self.count[key] += 1
            return self.plan[key].get(self.count[key])


@pytest.fixture(scope="module")
def lambda_faults(local_tuner):
    hook = LambdaFaults()
    local_tuner.lambdas.fault = hook
    yield hook
    local_tuner.lambdas.fault = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``after_e2e`` run after every other e2e test, still inside the package (so the
    package's ``local_tuner``, and what it recorded, is the one they read)."""
    here = Path(__file__).resolve().parent
    last = [i for i in items if i.get_closest_marker("after_e2e")]
    if not last:
        return
    rest = [i for i in items if i not in last]
    in_package = [n for n, i in enumerate(rest) if here in Path(str(i.fspath)).resolve().parents]
    at = in_package[-1] + 1 if in_package else len(rest)
    items[:] = rest[:at] + last + rest[at:]
