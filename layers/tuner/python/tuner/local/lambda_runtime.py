"""Runs moto's Lambda functions in-process: the real handler code, no Docker.

moto's ``LambdaFunction._invoke_lambda`` is the one method that talks to Docker. It is replaced
by one that unpacks the function's deployed code (the zip CloudFormation gave moto, i.e. the
synthesized asset), imports its handler module under a unique name, calls it, and returns the
payload or the error. An exception's class name becomes ``errorType``, which Step Functions
uses as the error name (so ``Catch`` on ``ValidationError`` works as on AWS).

The ``tuner`` layer is served by the interpreter's own ``tuner`` package (the same source tree
the layer asset is built from), and the scientific layer by the interpreter's numpy/scipy.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tuner import constants
from tuner.errors import TransientBackendError
from tuner.local.iam import IamTwin

_lock = threading.Lock()


class _Context:
    """The parts of Lambda's context object handlers commonly read."""

    def __init__(self, fn: Any) -> None:
        self.function_name = fn.function_name
        self.memory_limit_in_mb = fn.memory_size
        self.invoked_function_arn = fn.function_arn
        self.aws_request_id = hashlib.sha1(os.urandom(8)).hexdigest()
        self.log_group_name = f"/aws/lambda/{fn.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def tuner_name(fn: Any) -> str:
    """The tuner's name of a deployed function (``next_trial``), else its function name; ``fn`` is
    moto's function or a ListFunctions entry."""
    description = fn["Description"] if isinstance(fn, dict) else fn.description
    for name, text in constants.LAMBDAS.items():
        if description == text:
            return name
    return str(fn["FunctionName"] if isinstance(fn, dict) else fn.function_name)


class InProcessLambdas:
    """Patch moto so every Lambda invocation runs its handler in this process."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)
        # Test hook: ``fault(name, event)`` (``name``: the tuner's, e.g. ``next_trial``) returns
        # None, "before" (the invocation fails before the handler runs), "after" (the handler
        # runs, then the invocation fails: the worker "dies" after its side effects), "twice"
        # (at-least-once: the handler runs twice) or "broken" (a bug: ``RuntimeError`` before
        # the handler runs, which nothing retries). The other failures raise
        # ``TransientBackendError``, which the state machine retries.
        self.fault: Callable[[str, Any], str | None] | None = None
        self._modules: dict[tuple[str, str], ModuleType] = {}
        self._original: Callable[..., Any] | None = None
        self.invocations: list[tuple[str, bool]] = []  # (function name, errored)
        self.errors: list[tuple[str, str]] = []  # (function name, traceback) of handler errors
        # The IAM twin (tuner.local.iam): handlers' calls are evaluated against the function's role.
        self.iam: IamTwin | None = None
        # What the functions consume (tuner.local.metering.Meter): each run's duration and memory.
        self.meter: Any = None

    def install(self) -> InProcessLambdas:
        from moto.awslambda.models import LambdaFunction

        if self._original is None:
            self._original = LambdaFunction._invoke_lambda
            runtime = self

            def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
                return runtime.invoke(fn, event)

            # A monkeypatch: moto's method is replaced by a plain function of another signature.
            LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None

    def __enter__(self) -> InProcessLambdas:
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.uninstall()

    # ------------------------------------------------------------------------------------------
    def _code_dir(self, fn: Any) -> Path:
        code = fn.code_bytes or b""
        digest = hashlib.sha256(code).hexdigest()[:16]
        target = self.cache_dir / f"{fn.function_name}-{digest}"
        with _lock:
            if not target.exists():
                tmp = target.with_suffix(".tmp")
                tmp.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(io.BytesIO(code)) as zf:
                    zf.extractall(tmp)
                tmp.rename(target)
        return target

    def _handler(self, fn: Any) -> Callable[[Any, Any], Any]:
        module_name, _, func = (fn.handler or "handler.handler").rpartition(".")
        code_dir = self._code_dir(fn)
        key = (str(code_dir), module_name)
        with _lock:
            if key not in self._modules:
                path = code_dir / (module_name.replace(".", "/") + ".py")
                unique = f"_lambda_{fn.function_name}_{hashlib.sha1(str(code_dir).encode()).hexdigest()[:8]}"
                spec = importlib.util.spec_from_file_location(unique, path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load handler {fn.handler!r} from {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[unique] = module
                spec.loader.exec_module(module)
                self._modules[key] = module
        return getattr(self._modules[key], func)

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        # Configuration reaches handlers as on Lambda: environment variables. Keys are added
        # (or overwritten with the same values: one stack) and never deleted while threads run.
        for k, v in (fn.environment_vars or {}).items():
            if os.environ.get(k) != str(v):
                os.environ[k] = str(v)
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        acting = self.iam.acting_as(tuner_name(fn), fn.role) if self.iam else contextlib.nullcontext()
        try:
            with acting:
                return self._run(fn, event)
        except Exception as exc:  # the Lambda runtime's error payload
            tb = traceback.format_exc()
            self.invocations.append((fn.function_name, True))
            self.errors.append((fn.function_name, tb))
            payload = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": tb.splitlines()[-20:],
            }
            return json.dumps(payload), True, tb

    def _timed(self, fn: Any, event: Any) -> Any:
        handler = self._handler(fn)
        started = time.perf_counter()
        try:
            return handler(event, _Context(fn))
        finally:
            if self.meter is not None:
                self.meter.invoked(tuner_name(fn), time.perf_counter() - started, int(fn.memory_size or 128))

    def _run(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        fault = self.fault(tuner_name(fn), event) if self.fault else None
        if fault == "before":
            raise TransientBackendError(f"injected fault before {fn.function_name} ran")
        if fault == "broken":
            raise RuntimeError(f"injected permanent fault in {fn.function_name}")
        result = self._timed(fn, event)
        if fault == "twice":
            result = self._timed(fn, event)
        if fault == "after":
            raise TransientBackendError(f"injected fault after {fn.function_name} ran")
        self.invocations.append((fn.function_name, False))
        return json.dumps(result, default=str), False, ""
