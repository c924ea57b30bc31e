"""Upload local training sources and data referenced by a tuning request, like the SageMaker SDK.

``prepare_request_sources`` returns a copy of a ``CreateHyperParameterTuningJob`` request in which

* a ``sagemaker_submit_directory`` static hyperparameter (in ``TrainingJobDefinition`` or in each
  of ``TrainingJobDefinitions``) that names a local path (relative to ``base_dir``, absolute, or
  ``file://``) is packed as ``sourcedir.tar.gz`` (a directory: its contents at the archive root; a
  ``.tar.gz`` file: uploaded as is; any other file: that file alone), uploaded to
  ``s3://<bucket>/<prefix>/<definition>/source/sourcedir.tar.gz`` and replaced by that URI. A
  directory must hold the definition's ``sagemaker_program`` script (a file: be it), so that a
  path resolved against the wrong base (``"."`` from the root of a checkout) is refused instead of
  packing every file below it;
* an ``InputDataConfig`` channel whose ``S3Uri`` is a local path is uploaded under
  ``s3://<bucket>/<prefix>/<definition>/input/<channel>/`` (a directory: its files, recursively; a
  file: that file) and its ``S3Uri`` replaced.

``s3://`` values are left alone. A JSON-encoded value (``'"./src"'``, as the SageMaker SDK writes
hyperparameters) stays JSON-encoded after the rewrite. ``report``, when given, is called with one
line per upload (what was uploaded, from where, to which URI).
"""
from __future__ import annotations

import copy
import io
import json
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.errors import ValidationError

SUBMIT_DIR = "sagemaker_submit_directory"
PROGRAM = "sagemaker_program"


Report = Callable[[str], None]


def prepare_request_sources(request: dict, base_dir: Path, s3_client: Any, bucket: str,
                            prefix: str, report: Report | None = None) -> dict:
    out = copy.deepcopy(request)
    base = Path(base_dir).resolve()
    say: Report = report or (lambda line: None)
    root = prefix.strip("/")
    definitions: list[tuple[str, str, dict]] = []
    if isinstance(out.get("TrainingJobDefinition"), dict):
        definitions.append(("TrainingJobDefinition", "training", out["TrainingJobDefinition"]))
    for i, definition in enumerate(out.get("TrainingJobDefinitions") or []):
        name = definition.get("DefinitionName") or f"definition-{i}"
        definitions.append((f"TrainingJobDefinitions[{i}]", name, definition))
    for field, name, definition in definitions:
        key_base = "/".join(p for p in (root, _safe(name)) if p)
        _prepare_submit_dir(definition, field, base, s3_client, bucket, key_base, say)
        _prepare_channels(definition, field, base, s3_client, bucket, key_base, say)
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", name) or "definition"


def _exists(path: Path) -> bool:
    """Whether a local path exists; a path the file system cannot even look up (too long, an
    invalid name) does not."""
    try:
        return path.exists()
    except OSError:
        return False


def _local_path(value: str, base: Path) -> Path | None:
    """The local path ``value`` names, or None for an ``s3://`` URI."""
    if value.startswith("s3://"):
        return None
    if value.startswith("file://"):
        value = value[len("file://"):]
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _prepare_submit_dir(definition: dict, field: str, base: Path, s3: Any, bucket: str,
                        key_base: str, say: Report) -> None:
    hps = definition.get("StaticHyperParameters")
    if not isinstance(hps, dict) or SUBMIT_DIR not in hps:
        return
    raw = hps[SUBMIT_DIR]
    value, encoded = _decoded(raw)
    where = f"{field}.StaticHyperParameters.{SUBMIT_DIR}"
    if not isinstance(value, str) or not value:
        raise ValidationError(f"must be a local path or an s3:// URI, got {raw!r}", field=where)
    path = _local_path(value, base)
    if path is None:
        return
    if not _exists(path):
        raise ValidationError(
            f"the source directory {value!r} does not exist (resolved to {path}); give an existing "
            f"directory (relative to {base}), a .tar.gz, or an s3:// URI", field=where)
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        body = path.read_bytes()
    else:
        _check_holds_program(path, value, _decoded(hps.get(PROGRAM))[0], base, where)
        body = _tar(path)
    key = f"{key_base}/source/sourcedir.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    uri = f"s3://{bucket}/{key}"
    hps[SUBMIT_DIR] = json.dumps(uri) if encoded else uri
    say(f"uploaded {field}'s {SUBMIT_DIR} {value!r} ({path}) to {uri}")


def _decoded(raw: Any) -> tuple[Any, bool]:
    """``(value, was JSON-encoded)``: the SageMaker SDK writes string hyperparameters JSON-encoded."""
    if isinstance(raw, str):
        try:
            decoded = json.loads(raw)
        except ValueError:
            return raw, False
        if isinstance(decoded, str):
            return decoded, True
    return raw, False


def _check_holds_program(path: Path, value: str, program: Any, base: Path, where: str) -> None:
    """A local source folder must hold the ``sagemaker_program`` script (a single file must be it)."""
    if not isinstance(program, str) or not program:
        raise ValidationError(
            f"the local source {value!r} (resolved to {path}) is uploaded for script mode, which "
            f"needs the static hyperparameter {PROGRAM} naming the training script in it; add it, "
            "or give an s3:// URI", field=where)
    if (path.name == program) if path.is_file() else (path / program).is_file():
        return
    raise ValidationError(
        f"{'the file' if path.is_file() else 'the folder'} {value!r} (resolved to {path}) does not "
        f"hold the training script {program!r} ({PROGRAM}), so it is not uploaded (a folder above "
        f"the sources would pack every file below it); name the folder that holds the script "
        f"(relative paths are resolved against {base}) or give an s3:// URI", field=where)


def _prepare_channels(definition: dict, field: str, base: Path, s3: Any, bucket: str,
                      key_base: str, say: Report) -> None:
    for i, channel in enumerate(definition.get("InputDataConfig") or []):
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not isinstance(source, dict) or not isinstance(source.get("S3Uri"), str):
            continue
        path = _local_path(source["S3Uri"], base)
        if path is None:
            continue
        where = f"{field}.InputDataConfig[{i}].DataSource.S3DataSource.S3Uri"
        if not _exists(path):
            raise ValidationError(
                f"the local data path {source['S3Uri']!r} does not exist (resolved to {path}); "
                "give an existing file or directory, or an s3:// URI", field=where)
        channel_name = _safe(channel.get("ChannelName") or f"channel-{i}")
        prefix = f"{key_base}/input/{channel_name}"
        if path.is_file():
            key = f"{prefix}/{path.name}"
            s3.upload_file(str(path), bucket, key)
            source["S3Uri"] = f"s3://{bucket}/{key}"
            say(f"uploaded {field}'s channel {channel_name!r} ({path}) to {source['S3Uri']}")
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            raise ValidationError(f"the local data directory {source['S3Uri']!r} is empty",
                                  field=where)
        for file in files:
            s3.upload_file(str(file), bucket, f"{prefix}/{file.relative_to(path).as_posix()}")
        source["S3Uri"] = f"s3://{bucket}/{prefix}/"
        say(f"uploaded {field}'s channel {channel_name!r} ({path}, {len(files)} files) to {source['S3Uri']}")


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
