"""One offline deployment for the e2e package: synth (cached) + deploy into moto, shared by all e2e tests.

What the tests build and the start-and-wait helper are in tests/builders.py."""
from __future__ import annotations

import pytest
from tuner.local.harness import LocalTuner


@pytest.fixture(scope="package")
def local_tuner(tmp_path_factory: pytest.TempPathFactory):
    """Package-scoped: moto's state is global, so the mock must end before other test folders run."""
    with LocalTuner(tmp_path_factory.mktemp("local-tuner"), sweep_interval=2.0) as lt:
        yield lt
