"""``offline_client()``: the boto3-style ``TunerClient`` bound to the offline loop (no AWS account).

    from tuner.local import offline_client

    with offline_client() as sm:                      # synth + deploy into moto (~10-20 s)
        sm.create_hyper_parameter_tuning_job(**request)   # local paths: relative to the current directory
        sm.wait_for_tuning_job(request["HyperParameterTuningJobName"])

        import sagemaker                              # the SageMaker Python SDK, unchanged
        session = sagemaker.Session(boto_session=sm.session, sagemaker_client=sm)

Inside the block every boto3 client of the process talks to moto (``moto.mock_aws``): the tuner
stack, S3 (the SDK's default bucket, sources, model artifacts), CloudWatch Logs and the local
SageMaker stand-in that runs training scripts as processes. moto schedules never fire, so a
background thread invokes the sweeper Lambda every ``sweep_interval`` seconds, as its schedule rule
would on AWS. ``local_tuner=`` reuses a running ``LocalTuner`` (one deployment, many clients); it
is then neither entered nor exited here.

Local paths in a request are uploaded the way ``tuner create`` and ``LocalTuner.prepare`` upload them
(``tuner.sources``; AWS would refuse anything but ``s3://`` URIs there): a local
``sagemaker_submit_directory`` (the folder that holds the ``sagemaker_program`` script; any other
folder is refused, so that ``"."`` from the wrong directory never packs a whole checkout) and
local ``InputDataConfig`` ``S3Uri`` paths. ``create_hyper_parameter_tuning_job`` resolves relative
paths against the current directory; ``start_local(request, base_dir)`` against ``base_dir``. Each
upload is reported as one line on standard error (``stream=``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from tuner.client import OPERATIONS, TunerClient
from tuner.local.harness import LocalTuner


class OfflineTunerClient(TunerClient):
    """A ``TunerClient`` on a ``LocalTuner``: the request's output buckets are created in moto and
    local source and data paths are uploaded first (AWS has those buckets already, and would refuse
    local paths; moto starts empty). ``stream``: where each upload is reported (default stderr)."""

    def __init__(self, local_tuner: LocalTuner, *, stream: TextIO | None = None) -> None:
        if local_tuner.deployment is None:
            raise RuntimeError("enter the LocalTuner first (with LocalTuner(...) as lt:)")
        super().__init__(
            region_name=local_tuner.region,
            stack_name=local_tuner.deployment.stack_name,
            session=local_tuner.session,
            outputs=local_tuner.deployment.outputs,
        )
        self.local_tuner = local_tuner
        self._stream = stream

    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        """CreateHyperParameterTuningJob, after uploading the request's local paths relative to the
        current directory (see the module docstring); a path that cannot be uploaded is refused as
        a ``ValidationException`` that names the field."""
        return self._create(request, Path.cwd())

    def start_local(self, request: Mapping[str, Any], base_dir: Path | str = ".") -> dict[str, Any]:
        """Create, with the request's local paths relative to ``base_dir`` (the request file's folder,
        as ``tuner create`` takes them)."""
        return self._create(request, Path(base_dir))

    def _create(self, request: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
        with self._errors(OPERATIONS["create_hyper_parameter_tuning_job"]):
            prepared = self.upload_sources(request, base_dir, report=self._report)
        self.local_tuner._create_output_buckets(prepared)
        return super().create_hyper_parameter_tuning_job(**prepared)

    def _report(self, line: str) -> None:
        print(f"tuner: {line}", file=self._stream or sys.stderr)


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
