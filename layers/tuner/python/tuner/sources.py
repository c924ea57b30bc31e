"""Upload local training sources and data referenced by a tuning request, like the SageMaker SDK.

``prepare_request_sources`` returns a copy of a ``CreateHyperParameterTuningJob`` request in which

* a ``sagemaker_submit_directory`` static hyperparameter (in ``TrainingJobDefinition`` or in each
  of ``TrainingJobDefinitions``) that names a local path (relative to ``base_dir``, absolute, or
  ``file://``) is packed as ``sourcedir.tar.gz`` (a directory: its contents at the archive root; a
  ``.tar.gz`` file: uploaded as is; any other file: that file alone), uploaded to
  ``s3://<bucket>/<prefix>/<definition>/source/sourcedir.tar.gz`` and replaced by that URI;
* an ``InputDataConfig`` channel whose ``S3Uri`` is a local path is uploaded under
  ``s3://<bucket>/<prefix>/<definition>/input/<channel>/`` (a directory: its files, recursively; a
  file: that file) and its ``S3Uri`` replaced.

``s3://`` values are left alone. A JSON-encoded value (``'"./src"'``, as the SageMaker SDK writes
hyperparameters) stays JSON-encoded after the rewrite.
"""
from __future__ import annotations

import copy
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

from tuner.errors import ValidationError

SUBMIT_DIR = "sagemaker_submit_directory"


def prepare_request_sources(request: dict, base_dir: Path, s3_client: Any, bucket: str,
                            prefix: str) -> dict:
    out = copy.deepcopy(request)
    base = Path(base_dir)
    root = prefix.strip("/")
    definitions: list[tuple[str, str, dict]] = []
    if isinstance(out.get("TrainingJobDefinition"), dict):
        definitions.append(("TrainingJobDefinition", "training", out["TrainingJobDefinition"]))
    for i, definition in enumerate(out.get("TrainingJobDefinitions") or []):
        name = definition.get("DefinitionName") or f"definition-{i}"
        definitions.append((f"TrainingJobDefinitions[{i}]", name, definition))
    for field, name, definition in definitions:
        key_base = "/".join(p for p in (root, _safe(name)) if p)
        _prepare_submit_dir(definition, field, base, s3_client, bucket, key_base)
        _prepare_channels(definition, field, base, s3_client, bucket, key_base)
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", name) or "definition"


def _local_path(value: str, base: Path) -> Path | None:
    """The local path ``value`` names, or None for an ``s3://`` URI."""
    if value.startswith("s3://"):
        return None
    if value.startswith("file://"):
        value = value[len("file://"):]
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _prepare_submit_dir(definition: dict, field: str, base: Path, s3: Any, bucket: str,
                        key_base: str) -> None:
    hps = definition.get("StaticHyperParameters")
    if not isinstance(hps, dict) or SUBMIT_DIR not in hps:
        return
    raw = hps[SUBMIT_DIR]
    encoded = False
    value = raw
    if isinstance(raw, str):
        try:
            decoded = json.loads(raw)
            if isinstance(decoded, str):
                value, encoded = decoded, True
        except ValueError:
            pass
    if not isinstance(value, str) or not value:
        raise ValidationError(f"must be a local path or an s3:// URI, got {raw!r}",
                              field=f"{field}.StaticHyperParameters.{SUBMIT_DIR}")
    path = _local_path(value, base)
    if path is None:
        return
    if not path.exists():
        raise ValidationError(
            f"the source directory {value!r} does not exist (resolved to {path}); give an existing "
            "directory (relative to the request file), a .tar.gz, or an s3:// URI",
            field=f"{field}.StaticHyperParameters.{SUBMIT_DIR}")
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        body = path.read_bytes()
    else:
        body = _tar(path)
    key = f"{key_base}/source/sourcedir.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    uri = f"s3://{bucket}/{key}"
    hps[SUBMIT_DIR] = json.dumps(uri) if encoded else uri


def _prepare_channels(definition: dict, field: str, base: Path, s3: Any, bucket: str,
                      key_base: str) -> None:
    for i, channel in enumerate(definition.get("InputDataConfig") or []):
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not isinstance(source, dict) or not isinstance(source.get("S3Uri"), str):
            continue
        path = _local_path(source["S3Uri"], base)
        if path is None:
            continue
        where = f"{field}.InputDataConfig[{i}].DataSource.S3DataSource.S3Uri"
        if not path.exists():
            raise ValidationError(
                f"the local data path {source['S3Uri']!r} does not exist (resolved to {path}); "
                "give an existing file or directory, or an s3:// URI", field=where)
        channel_name = _safe(channel.get("ChannelName") or f"channel-{i}")
        prefix = f"{key_base}/input/{channel_name}"
        if path.is_file():
            key = f"{prefix}/{path.name}"
            s3.upload_file(str(path), bucket, key)
            source["S3Uri"] = f"s3://{bucket}/{key}"
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            raise ValidationError(f"the local data directory {source['S3Uri']!r} is empty",
                                  field=where)
        for file in files:
            s3.upload_file(str(file), bucket, f"{prefix}/{file.relative_to(path).as_posix()}")
        source["S3Uri"] = f"s3://{bucket}/{prefix}/"


def _tar(path: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        if path.is_file():
            tar.add(path, arcname=path.name)
        else:
            for item in sorted(path.rglob("*")):
                rel = item.relative_to(path)
                if "__pycache__" in rel.parts or item.suffix == ".pyc":
                    continue
                tar.add(item, arcname=rel.as_posix(), recursive=False)
    return buf.getvalue()
