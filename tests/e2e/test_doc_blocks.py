"""Every fenced code block of the README and the docs runs in a test, or says why it does not.

The blocks are those of ``DOCS``. Each one is marked by an HTML comment on the line before its fence
(GitHub does not render it), indented like the fence:

    <!-- doc-test: KIND [details] -->

``KIND`` is one of (``MARKERS``):

* ``run``: Python that needs no AWS, executed as is in this process from the checkout's root; it
  must make no AWS call.
* ``offline``: Python that deploys its own offline stack (``LocalTuner``, ``offline_client``), run
  as a script in a subprocess from a copy of ``examples/`` with smaller sizes (``SIZES``).
* ``shell``: shell commands that need no AWS, run with bash from the checkout's root, the
  environment's ``bin/`` first on ``PATH``.
* ``aws (service:Operation, ...)``: needs a deployed stack; the parentheses list the AWS calls the
  block makes. Python and ``tuner`` command lines run against the e2e package's offline deployment
  (the same stack in moto, ``local_tuner``), from the copy of ``examples/``, while the block's own
  botocore calls are recorded (not those of the tuner's Lambdas, its state machine or the SageMaker
  stand-in): the recorded set must be the listed one. A call to the stack's front door (a Lambda
  function URL) is ``lambda:InvokeFunctionUrl``, the IAM action it needs. An ``aws SERVICE
  COMMAND`` line (the AWS CLI, not installed here) is resolved through botocore's service model.
* ``listed: WHY``: not run, for the reason given (it builds or deploys: ``make``, ``cdk deploy``).
* ``output``: what a command printed, shown; not run.
* ``text``: a diagram or a file tree.
* ``json``: parsed as JSON.

An unmarked block fails ``test_every_block_is_marked`` with the line to add.
"""
from __future__ import annotations

import contextlib
import contextvars
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.builders import EXAMPLES, ROOT

pytestmark = pytest.mark.e2e

DOCS = ["README.md", "docs/*.md", "examples/README.md", "layers/README.md", "benchmarks/README.md"]
MARKERS = {
    "run": "python needing no AWS, executed",
    "offline": "python deploying its own offline stack, run in a subprocess",
    "shell": "shell commands needing no AWS, run",
    "aws": "needs a deployed stack; lists its AWS calls: aws (service:Operation, ...)",
    "listed": "not run; say why: listed: WHY",
    "output": "shown program output",
    "text": "a diagram or a file tree",
    "json": "parsed as JSON",
}
LANGUAGES = {"run": {"python"}, "offline": {"python"}, "shell": {"bash", "sh"}, "aws": {"python", "bash", "sh"},
             "json": {"json"}}
TIMEOUT = 300
# the copy of examples/: {request file: its ResourceLimits}, and the family's budget
ONE_JOB = {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}
SIZES = {"xgboost/tuning-job.json": ONE_JOB}
# smaller sizes in a block's text: {as documented: as run}; each must occur in some block
TEXT_SIZES = {"max_jobs=20, max_parallel_jobs=2": "max_jobs=1, max_parallel_jobs=1",
              '{"MaxNumberOfTrainingJobs": 5}': '{"MaxNumberOfTrainingJobs": 1}'}
FRONT_DOOR = "lambda:InvokeFunctionUrl"

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<body>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: str
    line: int  # of the opening fence, 1-based
    lang: str
    text: str  # without the fence's indentation
    marker: str | None  # the marker comment's body

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def kind(self) -> str:
        return re.split(r"[\s:(]", self.marker or "", maxsplit=1)[0]

    @property
    def detail(self) -> str:
        return (self.marker or "")[len(self.kind):].strip()

    def listed_calls(self) -> set[str]:
        inner = re.fullmatch(r"\((.*)\)", self.detail, re.S)
        return {c.strip() for c in inner.group(1).split(",") if c.strip()} if inner else set()


def doc_files() -> list[Path]:
    files: list[Path] = []
    for pattern in DOCS:
        found = sorted(ROOT.glob(pattern))
        assert found, f"{pattern} matches no file"
        files.extend(found)
    return files


def blocks_of(path: Path, root: Path = ROOT) -> list[Block]:
    lines = path.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip().startswith(fence) and not lines[j].strip().strip(fence[0])), None)
        assert end is not None, f"{path}:{i + 1}: a fence that never closes"
        body = [x[len(indent):] if x.startswith(indent) else x.lstrip() for x in lines[i + 1:end]]
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = _MARKER.match(before)
        out.append(Block(str(path.relative_to(root)), i + 1, opening["lang"].lower(), "\n".join(body) + "\n",
                         marker["body"] if marker else None))
        i = end + 1
    return out


BLOCKS = [b for f in doc_files() for b in blocks_of(f)]


def of_kind(kind: str) -> list[Any]:
    return [pytest.param(b, id=b.id) for b in BLOCKS if b.kind == kind]


def sized(block: Block) -> str:
    text = block.text
    for documented, run in TEXT_SIZES.items():
        text = text.replace(documented, run)
    return text


# ---- the markers ---------------------------------------------------------------------------------
def marking_problems(blocks: list[Block]) -> str:
    """What is wrong with the blocks' markers, with how to mark a block; "" when nothing is."""
    problems = []
    for b in blocks:
        if b.marker is None:
            problems.append(f"{b.id}: an unmarked ```{b.lang} block")
        elif b.kind not in MARKERS:
            problems.append(f"{b.id}: unknown kind in <!-- doc-test: {b.marker} -->")
        elif b.kind in LANGUAGES and b.lang not in LANGUAGES[b.kind]:
            problems.append(f"{b.id}: a ```{b.lang} block cannot be {b.kind!r} "
                            f"(fence it as {' or '.join(sorted(LANGUAGES[b.kind]))})")
        elif b.kind == "listed" and not b.detail.lstrip(":").strip():
            problems.append(f"{b.id}: say why it is not run: <!-- doc-test: listed: WHY -->")
        elif b.kind == "aws" and not b.listed_calls():
            problems.append(f"{b.id}: list its AWS calls: <!-- doc-test: aws (service:Operation, ...) -->")
    if not problems:
        return ""
    kinds = "\n".join(f"  <!-- doc-test: {k} -->   {what}" for k, what in MARKERS.items())
    return ("\n".join(problems) + "\nPut one of these on the line before the fence (tests/e2e/"
            f"test_doc_blocks.py explains each):\n{kinds}")


def test_every_block_is_marked() -> None:
    assert BLOCKS and not marking_problems(BLOCKS), marking_problems(BLOCKS)


def test_an_unmarked_or_mismarked_block_is_reported_with_how_to_mark_it(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Intro\n\n```python\nprint(1)\n```\n\n- item\n  <!-- doc-test: listed -->\n  ```bash\n"
                    "  make x\n  ```\n\n<!-- doc-test: run -->\n```bash\nls\n```\n")
    found = blocks_of(page, tmp_path)
    assert [(b.line, b.lang, b.kind) for b in found] == [(3, "python", ""), (9, "bash", "listed"), (14, "bash", "run")]
    assert found[1].text == "make x\n"
    report = marking_problems(found)
    assert "page.md:3: an unmarked ```python block" in report
    assert "page.md:9: say why it is not run" in report
    assert "page.md:14: a ```bash block cannot be 'run'" in report
    assert "<!-- doc-test: offline -->" in report  # how to mark it


def test_smaller_sizes_still_match_the_docs() -> None:
    stale = [d for d in TEXT_SIZES if not any(d in b.text for b in BLOCKS if b.kind in ("aws", "offline"))]
    assert not stale, f"TEXT_SIZES entries no block contains any more: {stale}"


def test_aws_calls_are_botocore_operations() -> None:
    """The listing: every block that needs AWS, with its calls, each one an operation of botocore's
    model (or the front door's function URL)."""
    listing = []
    for b in BLOCKS:
        if b.kind != "aws":
            continue
        unknown = [c for c in sorted(b.listed_calls()) if c != FRONT_DOOR and not _is_operation(c)]
        assert not unknown, f"{b.id}: not an operation of botocore's service model: {unknown}"
        listing.append(f"{b.id}: {', '.join(sorted(b.listed_calls()))}")
    assert listing
    print("\nblocks that need AWS:\n" + "\n".join(listing))


def test_json_blocks_parse() -> None:
    for b in BLOCKS:
        if b.kind == "json":
            json.loads(b.text)


# ---- recording the AWS calls of a block ----------------------------------------------------------
_SERVICES: dict[str, str | None] = {}


def _service_signing_as(prefix: str) -> str | None:
    """The botocore service whose signing name (the IAM prefix) is ``prefix``, if any. Services
    named like the prefix are read first: reading every model takes seconds."""
    if prefix not in _SERVICES:
        import botocore.session

        session = botocore.session.get_session()
        names = sorted(session.get_available_services(), key=lambda n: (n != prefix, n[0] != prefix[0], n))
        _SERVICES[prefix] = next(
            (n for n in names if session.get_service_model(n).signing_name == prefix), None)
    return _SERVICES[prefix]


def _is_operation(call: str) -> bool:
    import botocore.session

    prefix, _, operation = call.partition(":")
    service = _service_signing_as(prefix)
    if service is None:
        return False
    return operation in botocore.session.get_session().get_service_model(service).operation_names


def cli_call(argv: list[str]) -> str:
    """``aws SERVICE COMMAND ...`` (the AWS CLI) as ``signing-name:Operation``, from botocore's model."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    assert argv[1] in session.get_available_services(), f"aws {argv[1]}: not a botocore service"
    model = session.get_service_model(argv[1])
    operation = next((o for o in model.operation_names if xform_name(o, "-") == argv[2]), None)
    assert operation, f"aws {argv[1]} {argv[2]}: not an operation of {argv[1]}"
    return f"{model.signing_name}:{operation}"


class CallRecorder:
    """The botocore calls made by this thread, outside the tuner's own principals, not nested in another call."""

    def __init__(self) -> None:
        self.calls: set[str] = set()
        self._inside: contextvars.ContextVar[bool] = contextvars.ContextVar("doc_block_call", default=False)

    @contextlib.contextmanager
    def recording(self) -> Iterator[CallRecorder]:
        from botocore.client import BaseClient
        from tuner.local.iam import STATE_MACHINE_ACCESS_KEY, acting_principal

        original = BaseClient._make_api_call
        thread = threading.get_ident()
        recorder = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
            if (threading.get_ident() != thread or recorder._inside.get() or acting_principal() is not None
                    or getattr(credentials, "access_key", None) == STATE_MACHINE_ACCESS_KEY):
                return original(client, operation, params)
            if ".lambda-url." in (client.meta.endpoint_url or ""):
                recorder.calls.add(FRONT_DOOR)
            else:
                recorder.calls.add(f"{client.meta.service_model.signing_name}:{operation}")
            token = recorder._inside.set(True)
            try:
                return original(client, operation, params)
            finally:
                recorder._inside.reset(token)

        BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]


# ---- running the blocks --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/ (under ``<root>/examples``) with the smaller sizes of ``SIZES``. The family
    has no ``AutoDeploy``: the e2e package's deployment does not grant it (registration would be
    refused, docs/retuning.md), and a deployment is the retune Lambda's call, not the block's."""
    root = tmp_path_factory.mktemp("doc-blocks")
    shutil.copytree(EXAMPLES, root / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    for file, limits in SIZES.items():
        path = root / "examples" / file
        request = json.loads(path.read_text())
        request["HyperParameterTuningJobConfig"]["ResourceLimits"] = limits
        path.write_text(json.dumps(request))
    family = root / "examples" / "retuning" / "family.json"
    spec = json.loads(family.read_text())
    spec["Budget"] = ONE_JOB
    spec["BaseRequest"]["HyperParameterTuningJobConfig"]["ResourceLimits"] = ONE_JOB
    del spec["AutoDeploy"]
    family.write_text(json.dumps(spec))
    return root


@pytest.mark.parametrize("block", of_kind("run"))
def test_run_block(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with CallRecorder().recording() as recorder:
        exec(compile(block.text, block.id, "exec"), {"__name__": "__doc_block__"})  # noqa: S102
    assert not recorder.calls, f"{block.id} calls AWS ({sorted(recorder.calls)}): mark it aws (...)"


@pytest.mark.parametrize("block", of_kind("shell"))
def test_shell_block(block: Block) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{block.id} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("block", of_kind("offline"))
def test_offline_block(block: Block, copy_root: Path, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(sized(block))
    run_dir = tmp_path / "cwd"
    shutil.copytree(copy_root, run_dir)
    result = subprocess.run([sys.executable, str(script)], cwd=run_dir, capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, f"{block.id} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr


@pytest.fixture(scope="module")
def aws_world(local_tuner: Any, copy_root: Path) -> Path:
    """What an account has before the docs' blocks run: the example requests' output bucket, and the
    family's source archive at the s3:// URI its spec names."""
    s3 = local_tuner.session.client("s3")
    spec = json.loads((copy_root / "examples" / "retuning" / "family.json").read_text())
    uris = {json.loads((copy_root / "examples" / "xgboost" / "tuning-job.json").read_text())
            ["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"],
            spec["BaseRequest"]["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"]}
    for uri in uris:
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=uri[5:].split("/", 1)[0])
    source = spec["BaseRequest"]["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"]
    bucket, key = source[5:].split("/", 1)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(copy_root / "examples" / "xgboost" / "train.py", arcname="train.py")
    s3.put_object(Bucket=bucket, Key=key, Body=archive.getvalue())
    return copy_root


def _running(lt: Any) -> set[str]:
    pages = lt.sfn.get_paginator("list_executions").paginate(
        stateMachineArn=lt.deployment.state_machine_arn, statusFilter="RUNNING")
    return {e["name"] for page in pages for e in page["executions"]}


def _until_training(lt: Any, name: str, timeout: float = 120.0) -> None:
    """Wait until tuning job ``name`` has a training job in progress: ``tuner stop`` right after
    ``tuner create`` stops one only if the job got that far, which a loaded machine may not have
    reached yet (the README stops a running job)."""
    from tuner.errors import TuningJobNotFoundError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            jobs = lt.all_training_jobs(name)["TrainingJobSummaries"]
        except TuningJobNotFoundError:
            jobs = []
        if any(j["TrainingJobStatus"] == "InProgress" for j in jobs):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} started no training job within {timeout:.0f} s")


def _finish(lt: Any, name: str) -> None:
    """Let a tuning job the block started end (one training job here), so that the next block finds
    the same state on every run (a family's parents: Completed)."""
    from tuner.errors import TuningJobNotFoundError

    deadline = time.monotonic() + 30
    while True:  # its record may be a moment behind its execution
        try:
            lt.wait(name, timeout=TIMEOUT)
            return
        except TuningJobNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _commands(text: str) -> list[list[str]]:
    """The block's command lines (a quoted argument or a backslash may continue a line)."""
    commands, pending = [], ""
    for line in text.splitlines():
        pending += line + "\n"
        try:
            argv = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open
            continue
        if pending.rstrip().endswith("\\"):
            continue
        if argv:
            commands.append(argv)
        pending = ""
    assert not pending.strip(), f"an unfinished command: {pending}"
    return commands


#: Calls a block makes only the first time in an account: SageMaker SDK's default bucket.
FIRST_USE_ONLY = frozenset({"s3:CreateBucket"})


@pytest.mark.parametrize("block", of_kind("aws"))
def test_aws_block(block: Block, local_tuner: Any, aws_world: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    from tuner import cli

    monkeypatch.chdir(aws_world)
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    if "import sagemaker" in block.text:  # the SDK polls a new endpoint every 1 s here, not every 30 s
        from sagemaker.session import Session

        wait = Session.wait_for_endpoint
        monkeypatch.setattr(Session, "wait_for_endpoint",
                            lambda self, endpoint, poll=30, **kw: wait(self, endpoint, poll=1, **kw))
    if "retune" in block.text:  # a family retunes at most once a second (FamilyBusyError: "retry in a second")
        time.sleep(1.1)
    before = _running(local_tuner)
    calls: set[str] = set()
    try:
        with CallRecorder().recording() as recorder:
            if block.lang == "python":
                exec(compile(sized(block), block.id, "exec"), {"__name__": "__doc_block__"})  # noqa: S102
            else:
                for argv in _commands(sized(block)):
                    if argv[0] == "aws":
                        calls.add(cli_call(argv))
                    else:
                        assert argv[0] == "tuner", f"{block.id}: {argv[0]} in an aws block (tuner or aws commands)"
                        if argv[1:2] == ["stop"]:
                            _until_training(local_tuner, argv[2])
                        code = cli.main(argv[1:])
                        assert code == 0, f"{block.id}: {shlex.join(argv)} exited {code}:\n{capsys.readouterr()}"
    finally:
        for name in _running(local_tuner) - before:  # what the block started and left running
            _finish(local_tuner, name)
    calls |= recorder.calls
    assert calls, f"{block.id} calls no deployed stack: mark it run"
    listed = block.listed_calls()
    # a call made only on first use of an account (the SDK's default bucket) may be missing when an
    # earlier test made it: listed, it must be one of those
    assert calls <= listed and listed - calls <= FIRST_USE_ONLY, (
        f"{block.id} makes these AWS calls; list them in its marker:\n"
        f"<!-- doc-test: aws ({', '.join(sorted(calls))}) -->")
