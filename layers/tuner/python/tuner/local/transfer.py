"""The stand-in's S3 transfers for a training job: its sources and input channels in, its model out.

A mixin of ``training_process._ProcessRunner`` (which provides ``_client``, ``_lock`` and
``_closed``). Every failure becomes a ``_JobError`` with the ``ClientError: ...`` reason SageMaker
gives for it, which ends the job Failed.
"""
from __future__ import annotations

import io
import shutil
import tarfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.local.training_job import _Job


class _JobError(Exception):
    """Ends a job as Failed with ``reason`` (setup problems before the script; a failed upload)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _S3Transfer:
    _lock: threading.RLock
    _closed: bool

    if TYPE_CHECKING:
        def _client(self, service: str, region: str) -> Any: ...

    def _s3_parts(self, uri: str) -> tuple[str, str]:
        if not uri.startswith("s3://"):
            raise _JobError(f"ClientError: {uri!r} is not an s3:// URI")
        bucket, _, key = uri[5:].partition("/")
        return bucket, key

    def _fetch_sources(self, job: _Job, submit: str, code: Path) -> None:
        try:
            unpack(submit, code, self._client("s3", job.region))
        except Exception as exc:  # noqa: BLE001
            raise _JobError(f"ClientError: could not download or extract sagemaker_submit_directory "
                            f"{submit}: {exc}") from exc

    def _fetch_channels(self, job: _Job, channels: list[dict[str, Any]], data_dir: Path
                        ) -> dict[str, str]:
        s3 = self._client("s3", job.region)
        dirs: dict[str, str] = {}
        for channel in channels:
            cname = channel["ChannelName"]
            target = data_dir / cname
            target.mkdir(parents=True, exist_ok=True)
            dirs[cname] = str(target)
            source = (channel.get("DataSource") or {}).get("S3DataSource")
            if not source:
                raise _JobError(f"ClientError: channel {cname}: only S3DataSource is supported "
                                "by the local stand-in")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise _JobError(f"ClientError: channel {cname}: only S3DataType S3Prefix is "
                                "supported by the local stand-in")
            bucket, prefix = self._s3_parts(source["S3Uri"])
            count = 0
            try:
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                         Prefix=prefix):
                    for obj in page.get("Contents", []):
                        key = obj["Key"]
                        if key.endswith("/"):
                            continue
                        rel = key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]
                        dest = target / rel
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        s3.download_file(bucket, key, str(dest))
                        count += 1
            except Exception as exc:  # noqa: BLE001
                raise _JobError(f"ClientError: Data download failed: channel {cname} "
                                f"({source['S3Uri']}): {exc}") from exc
            if count == 0:
                raise _JobError(f"ClientError: No S3 objects found under S3 URL "
                                f"\"{source['S3Uri']}\" given in input data source. Please ensure "
                                "that the bucket exists in the selected region, that objects exist "
                                "under that S3 prefix, and that the role has s3:ListBucket "
                                "permissions on that bucket.")
        return dirs

    def _upload_outputs(self, job: _Job, ml: Path) -> None:
        out = (job.request.get("OutputDataConfig") or {}).get("S3OutputPath")
        if not out or self._closed:
            return
        bucket, prefix = self._s3_parts(out)
        base = "/".join(p for p in (prefix.strip("/"), job.training_job_name, "output") if p)
        s3 = self._client("s3", job.region)
        try:
            s3.put_object(Bucket=bucket, Key=f"{base}/model.tar.gz", Body=_tar_dir(ml / "model"))
            if any((ml / "output/data").iterdir()):
                s3.put_object(Bucket=bucket, Key=f"{base}/output.tar.gz",
                              Body=_tar_dir(ml / "output/data"))
        except Exception as exc:  # noqa: BLE001
            raise _JobError(f"ClientError: could not upload the model to {out}: {exc}") from exc
        with self._lock:
            job.model_artifacts = {"S3ModelArtifacts": f"s3://{bucket}/{base}/model.tar.gz"}


def unpack(uri: str, dest: Path, s3: Any) -> None:
    """Extract the tar archive at ``uri`` into ``dest``: ``s3://`` (through the client ``s3``),
    ``file://`` or a path; a folder is copied as it is. Raises ``ValueError`` for another scheme."""
    if uri.startswith("file://") or uri.startswith("/"):
        path = Path(uri[7:] if uri.startswith("file://") else uri)
        if path.is_dir():
            shutil.copytree(path, dest, dirs_exist_ok=True)
            return
        data = path.read_bytes()
    elif uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        raise ValueError(f"{uri!r} is not an s3:// URI")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        tar.extractall(dest, filter="data")


def _tar_dir(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buf.getvalue()
