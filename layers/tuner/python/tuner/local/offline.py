"""``offline_client()``: the boto3-style ``TunerClient`` bound to the offline loop (no AWS account).

    from tuner.local import offline_client

    with offline_client() as sm:                      # synth + deploy into moto (~10-20 s)
        sm.create_hyper_parameter_tuning_job(**request)
        sm.wait_for_tuning_job(request["HyperParameterTuningJobName"])

        import sagemaker                              # the SageMaker Python SDK, unchanged
        session = sagemaker.Session(boto_session=sm.session, sagemaker_client=sm)

Inside the block every boto3 client of the process talks to moto (``moto.mock_aws``): the tuner
stack, S3 (the SDK's default bucket, sources, model artifacts), CloudWatch Logs and the local
SageMaker stand-in that runs training scripts as processes. moto schedules never fire, so a
background thread invokes the sweeper Lambda every ``sweep_interval`` seconds, as its schedule rule
would on AWS. ``local_tuner=`` reuses a running ``LocalTuner`` (one deployment, many clients); it
is then neither entered nor exited here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tuner.client import TunerClient
from tuner.local.harness import LocalTuner


class OfflineTunerClient(TunerClient):
    """A ``TunerClient`` on a ``LocalTuner``: the request's output buckets are created in moto and
    local source paths are uploaded (AWS has those buckets already; moto starts empty)."""

    def __init__(self, local_tuner: LocalTuner) -> None:
        if local_tuner.deployment is None:
            raise RuntimeError("enter the LocalTuner first (with LocalTuner(...) as lt:)")
        super().__init__(
            region_name=local_tuner.region,
            stack_name=local_tuner.deployment.stack_name,
            session=local_tuner.session,
            outputs=local_tuner.deployment.outputs,
        )
        self.local_tuner = local_tuner

    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        self.local_tuner._create_output_buckets(request)
        return super().create_hyper_parameter_tuning_job(**request)

    def start_local(self, request: Mapping[str, Any], base_dir: Path | str = ".") -> dict[str, Any]:
        """Upload local sources named in ``request`` (relative to ``base_dir``), then create."""
        return self.create_hyper_parameter_tuning_job(**self.upload_sources(request, base_dir))


class _Sweeper(threading.Thread):
    def __init__(self, lt: LocalTuner, interval: float) -> None:
        super().__init__(name="tuner-offline-sweeper", daemon=True)
        self.lt = lt
        self.interval = interval
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            try:
                self.lt.sweep()
            except Exception:  # the mock may be going away; the next tick retries
                pass


@contextlib.contextmanager
def offline_client(
    work_dir: Path | str | None = None,
    *,
    local_tuner: LocalTuner | None = None,
    sweep_interval: float = 5.0,
    **local_tuner_kwargs: Any,
) -> Iterator[OfflineTunerClient]:
    """Yield a ``TunerClient`` bound to an offline deployment (see the module docstring)."""
    with contextlib.ExitStack() as stack:
        lt = local_tuner
        if lt is None:
            lt = stack.enter_context(
                LocalTuner(work_dir, sweep_interval=sweep_interval, **local_tuner_kwargs)
            )
        sweeper = _Sweeper(lt, sweep_interval)
        sweeper.start()
        try:
            yield OfflineTunerClient(lt)
        finally:
            sweeper.halt.set()
            sweeper.join(timeout=30)


__all__ = ["OfflineTunerClient", "offline_client"]
