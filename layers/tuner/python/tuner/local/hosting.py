"""SageMaker hosting in the local stand-in: endpoints that serve the model they were given.

moto (5.2.5) stores models, endpoint configurations and endpoints, but says every endpoint is
``InService`` at once, has no ``UpdateEndpoint``, and answers ``InvokeEndpoint`` with canned bodies.
``LocalHosting`` (installed by ``LocalSageMaker``) makes them behave like SageMaker hosting:

* ``CreateEndpoint``: moto stores the endpoint, which is ``Creating`` while the stand-in starts its
  model server, one process per endpoint (``tuner/local/serving.py``, SageMaker's container
  contract: ``GET /ping``, ``POST /invocations``) for the configuration's production variant:
  the model's ``ModelDataUrl`` (a ``model.tar.gz`` in moto S3) extracted as ``/opt/ml/model``, and

  - **script mode** when the container's ``Environment`` names ``SAGEMAKER_PROGRAM``: the program
    from ``SAGEMAKER_SUBMIT_DIRECTORY`` (an ``s3://`` ``sourcedir.tar.gz``, or a folder inside the
    model such as ``/opt/ml/model/code``, where the SDK repacks code) is imported, and its
    ``model_fn`` / ``input_fn`` / ``predict_fn`` / ``output_fn`` (or ``transform_fn``) serve, as
    the framework containers' inference toolkit does;
  - the **built-in XGBoost** algorithm when the image is the built-in XGBoost's
    (``tuner.core.builtins``) and no program is named: the booster is served with the built-in
    container's content types (``text/csv``, ``text/libsvm``) and answers;
  - any other image: the endpoint fails, saying what the stand-in can serve.

  The endpoint is ``InService`` once the server answers ``/ping``; if the server exits first (a
  ``model_fn`` that raises, a model that cannot be loaded), it is ``Failed`` with SageMaker's
  reason, and the server's output is in CloudWatch Logs, group ``/aws/sagemaker/Endpoints/<name>``,
  stream ``<variant>/<instance id>``, as SageMaker writes it.
* ``UpdateEndpoint`` (new): ``Updating`` while the new configuration's server starts; then the
  endpoint serves it, ``InService``. If the new server fails, the old one keeps serving and the
  endpoint is ``InService`` with a ``FailureReason``, as SageMaker rolls back a failed update.
* ``DeleteEndpoint`` stops the server.
* ``InvokeEndpoint`` (``sagemaker-runtime``): the body, ``ContentType`` and ``Accept`` go to the
  server; a 2xx answer is returned with its content type and ``InvokedProductionVariant``; any
  other answer is SageMaker's ``ModelError`` (HTTP 424) with ``OriginalStatusCode``,
  ``OriginalMessage`` and ``LogStreamArn``. An endpoint that does not exist or is not serving
  yet is ``ValidationError`` ("Endpoint NAME of account ACCOUNT not found.").

One process serves each endpoint whatever its ``InitialInstanceCount``; an endpoint configuration
with several production variants is refused (the stand-in serves one). Serverless, asynchronous
and multi-model endpoints are not emulated.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.core import arns
from tuner.core.builtins import builtin_of_image
from tuner.local.transfer import unpack

ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints"
SERVER = Path(__file__).with_name("serving.py")
PING_FAILED = ("The primary container for production variant {variant} did not pass the ping health "
               "check. Please check CloudWatch logs for this endpoint.")
INVOCATION_TIMEOUT = 60.0  # seconds: SageMaker's limit for a real-time invocation
_MODEL_PREFIX = "/opt/ml/model"
_SERVED_ALGORITHMS = {"xgboost": "xgboost"}  # built-in algorithms the server emulates


class _SetupError(Exception):
    """A model that cannot be served: the endpoint fails with this reason."""


@dataclass
class _Server:
    """One model server process: the endpoint configuration and production variant it serves."""

    config_name: str
    variant: str
    directory: Path
    log_stream: str
    process: subprocess.Popen[str] | None = None
    port: int | None = None
    lines: list[str] = field(default_factory=list)


@dataclass
class _Endpoint:
    account: str
    region: str
    name: str
    serving: _Server | None = None  # the server answering invocations
    generation: int = 0  # bumped by every deployment, so a superseded one gives up


class LocalHosting:
    """Endpoints that serve their model. See the module docstring.

    ``work_dir``: one folder per endpoint deployment. ``python``: the servers' interpreter.
    ``client(service, region)``: the stand-in's boto3 clients (moto S3 and CloudWatch Logs).
    ``startup_timeout``: seconds a server has to answer ``/ping``.
    """

    def __init__(self, work_dir: Path, *, python: str, client: Callable[[str, str], Any],
                 error: Callable[[str], None], startup_timeout: float = 120.0) -> None:
        self.work_dir = Path(work_dir).resolve()
        self.python = python
        self.startup_timeout = startup_timeout
        self._client = client
        self._error = error
        self._lock = threading.RLock()
        self._endpoints: dict[tuple[str, str, str], _Endpoint] = {}
        self._threads: list[threading.Thread] = []
        self._saved: dict[tuple[type, str], Any] = {}

    # -- install / uninstall ------------------------------------------------------------------
    def install(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        patches: dict[tuple[type, str], Any] = {
            (SageMakerResponse, "create_endpoint"): as_method(self._api_create),
            (SageMakerResponse, "update_endpoint"): as_method(self._api_update),
            (SageMakerResponse, "delete_endpoint"): as_method(self._api_delete),
            (SageMakerRuntimeResponse, "invoke_endpoint"): as_method(self._api_invoke),
            # a request body is bytes (a .npy payload is not UTF-8): moto must not decode it
            (SageMakerRuntimeResponse, "use_raw_body"): True,
        }
        for (cls, name), value in patches.items():
            self._saved[(cls, name)] = cls.__dict__.get(name)
            setattr(cls, name, value)

    def uninstall(self) -> None:
        """Stop every server and restore moto."""
        with self._lock:
            endpoints = list(self._endpoints.values())
            self._endpoints.clear()
            threads, self._threads = self._threads, []
        for endpoint in endpoints:
            endpoint.generation += 1
            _stop(endpoint.serving)
        for thread in threads:
            thread.join(timeout=10)
        for (cls, name), original in self._saved.items():
            restore(cls, name, original)
        self._saved.clear()

    # -- SageMaker API --------------------------------------------------------------------------
    def _api_create(self, resp: Any) -> Any:
        from moto.sagemaker.exceptions import ValidationError

        name = resp._get_param("EndpointName")
        backend = _backend(resp)
        if name in backend.endpoints:
            arn = arns.sagemaker_arn(resp.region, resp.current_account, "endpoint", name)
            raise ValidationError(f'Cannot create already existing endpoint "{arn}".')
        result = self._saved[(type(resp), "create_endpoint")](resp)
        endpoint = _Endpoint(resp.current_account, resp.region, name)
        with self._lock:
            self._endpoints[(resp.current_account, resp.region, name)] = endpoint
        self._set_status(endpoint, "Creating")
        self._deploy(endpoint, resp._get_param("EndpointConfigName"))
        return result

    def _api_update(self, resp: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.sagemaker.exceptions import ValidationError

        name = resp._get_param("EndpointName")
        config = resp._get_param("EndpointConfigName")
        backend = _backend(resp)
        stored = backend.endpoints.get(name)
        arn = arns.sagemaker_arn(resp.region, resp.current_account, "endpoint", name)
        if stored is None:
            raise ValidationError(f"Could not find endpoint \"{arn}\".")
        backend.describe_endpoint_config(config)  # ValidationException when it does not exist
        with self._lock:
            endpoint = self._endpoints.get((resp.current_account, resp.region, name))
            if endpoint is None or stored.endpoint_status != "InService":
                raise ValidationError(f"Cannot update in-progress endpoint \"{arn}\".")
        self._set_status(endpoint, "Updating")
        self._deploy(endpoint, config)
        return ActionResult({"EndpointArn": arn})

    def _api_delete(self, resp: Any) -> Any:
        name = resp._get_param("EndpointName")
        result = self._saved[(type(resp), "delete_endpoint")](resp)  # ValidationException if unknown
        with self._lock:
            endpoint = self._endpoints.pop((resp.current_account, resp.region, name), None)
        if endpoint is not None:
            endpoint.generation += 1
            _stop(endpoint.serving)
        return result

    def _api_invoke(self, resp: Any) -> tuple[int, dict[str, str], Any]:
        params = resp._get_params()
        name = params.get("EndpointName") or resp.path.split("/")[2]
        with self._lock:
            endpoint = self._endpoints.get((resp.current_account, resp.region, name))
            server = endpoint.serving if endpoint else None
        if server is None or server.port is None:
            return _runtime_error(400, "ValidationError",
                                  f"Endpoint {name} of account {resp.current_account} not found.")
        body = resp.raw_body if isinstance(resp.raw_body, bytes) else (resp.raw_body or "").encode()
        headers = {k: v for k, v in (("Content-Type", resp.headers.get("Content-Type")),
                                     ("Accept", resp.headers.get("Accept"))) if v}
        # http.client, not urllib: urllib gives a POST without a content type a form-encoded one
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=INVOCATION_TIMEOUT)
        try:
            connection.request("POST", "/invocations", body=body, headers=headers)
            answer = connection.getresponse()
            status, data = answer.status, answer.read()
            if 200 <= status < 300:
                content_type = answer.getheader("Content-Type") or "application/octet-stream"
                return 200, {"Content-Type": content_type,
                             "x-Amzn-Invoked-Production-Variant": server.variant}, data
            message = data.decode("utf-8", "replace")
        except OSError as err:  # the server is gone, or too slow
            status, message = 0, f"the model server did not answer: {err}"
        finally:
            connection.close()
        kind = "client" if 400 <= status < 500 else "server"
        group = f"{ENDPOINT_LOG_GROUP}/{name}"
        console = (f"https://{resp.region}.console.aws.amazon.com/cloudwatch/home?region={resp.region}"
                   f"#logEventViewer:group={group}")
        return _runtime_error(424, "ModelError",
                      f'Received {kind} error ({status}) from primary with message "{message}". '
                      f"See {console} in account {resp.current_account} for more information.",
                      OriginalStatusCode=status, OriginalMessage=message,
                      LogStreamArn=f"arn:aws:logs:{resp.region}:{resp.current_account}:log-group:{group}")

    # -- deployments ----------------------------------------------------------------------------
    def _deploy(self, endpoint: _Endpoint, config_name: str) -> None:
        with self._lock:
            endpoint.generation += 1
            thread = threading.Thread(target=self._run_deployment, args=(endpoint, config_name, endpoint.generation),
                                      name=f"sagemaker-endpoint-{endpoint.name}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _run_deployment(self, endpoint: _Endpoint, config_name: str, generation: int) -> None:
        server: _Server | None = None
        try:
            server = self._start(endpoint, config_name, generation)
            reason = None
        except _SetupError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - the endpoint fails; the stand-in keeps running
            self._error(f"deploying endpoint {endpoint.name} failed: {exc!r}")
            reason = f"ClientError: the local stand-in could not deploy the endpoint: {exc}"
        with self._lock:
            if endpoint.generation != generation:  # deleted or superseded meanwhile
                _stop(server)
                return
            old = endpoint.serving
            if server is not None:
                endpoint.serving = server
        if server is not None:
            _stop(old)
            self._set_status(endpoint, "InService", config_name=config_name)
        else:
            # a failed update leaves the old configuration serving, as SageMaker rolls back
            self._set_status(endpoint, "InService" if old is not None else "Failed", reason=reason)

    def _start(self, endpoint: _Endpoint, config_name: str, generation: int) -> _Server:
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[endpoint.account][endpoint.region]
        variants = backend.endpoint_configs[config_name].production_variants
        if len(variants) != 1:
            raise _SetupError("ClientError: the local SageMaker stand-in serves endpoint configurations "
                              f"with one production variant; {config_name} has {len(variants)}")
        variant = variants[0]
        model = backend._models.get(variant["ModelName"])
        if model is None:
            raise _SetupError(f"ClientError: Could not find model \"{variant['ModelName']}\".")
        container = model.primary_container or (model.containers or [{}])[0]
        directory = self.work_dir / endpoint.name / f"{generation}-{config_name}"
        server = _Server(config_name, variant["VariantName"], directory,
                         f"{variant['VariantName']}/i-{uuid.uuid4().hex[:17]}")
        self._open_log(endpoint, server)
        command = self._command(endpoint, container, server)
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (container.get("Environment") or {}).items()})
        port_file = directory / "port"
        server.process = subprocess.Popen([*command, "--port-file", str(port_file)], cwd=directory, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                          start_new_session=True)
        reader = threading.Thread(target=self._read_output, args=(endpoint, server), daemon=True,
                                  name=f"sagemaker-endpoint-{endpoint.name}-log")
        reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not port_file.exists():
            if server.process.poll() is not None or time.monotonic() > deadline or endpoint.generation != generation:
                _stop(server)
                reader.join(timeout=5)
                raise _SetupError(PING_FAILED.format(variant=server.variant))
            time.sleep(0.05)
        server.port = int(port_file.read_text())
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/ping", timeout=10) as ping:
            if ping.status != 200:
                _stop(server)
                raise _SetupError(PING_FAILED.format(variant=server.variant))
        return server

    def _command(self, endpoint: _Endpoint, container: dict[str, Any], server: _Server) -> list[str]:
        """Fetch the model (and the code) into the server's folder: its command line."""
        model_dir = server.directory / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        s3 = self._client("s3", endpoint.region)
        data = container.get("ModelDataUrl")
        if data:
            try:
                unpack(data, model_dir, s3)
            except Exception as exc:  # noqa: BLE001
                raise _SetupError(f"ClientError: Failed to download model data {data}: {exc}") from exc
        command = [self.python, str(SERVER), "--model-dir", str(model_dir)]
        env = container.get("Environment") or {}
        program, submit = env.get("SAGEMAKER_PROGRAM"), env.get("SAGEMAKER_SUBMIT_DIRECTORY")
        if program:
            if submit and submit.startswith(_MODEL_PREFIX):  # code repacked into the model
                code = model_dir / submit[len(_MODEL_PREFIX):].lstrip("/")
            elif submit:
                code = server.directory / "code"
                try:
                    unpack(submit, code, s3)
                except Exception as exc:  # noqa: BLE001
                    raise _SetupError(f"ClientError: Failed to download SAGEMAKER_SUBMIT_DIRECTORY {submit}: "
                                      f"{exc}") from exc
            else:
                code = model_dir / "code"
            if not (code / program).is_file():
                raise _SetupError(f"ClientError: SAGEMAKER_PROGRAM {program} is not in the model's code ({submit})")
            return [*command, "--code-dir", str(code), "--program", program]
        builtin = builtin_of_image(container.get("Image"))
        if builtin is not None and builtin.name in _SERVED_ALGORITHMS:
            return [*command, "--algorithm", _SERVED_ALGORITHMS[builtin.name]]
        raise _SetupError(
            f"ClientError: the local SageMaker stand-in serves script-mode models (SAGEMAKER_PROGRAM and "
            f"SAGEMAKER_SUBMIT_DIRECTORY in the container's Environment) and the built-in XGBoost; image "
            f"{container.get('Image')} is neither. Deploy this model on AWS.")

    # -- state and logs -------------------------------------------------------------------------
    def _set_status(self, endpoint: _Endpoint, status: str, *, reason: str | None = None,
                    config_name: str | None = None) -> None:
        """Update moto's endpoint (DescribeEndpoint / ListEndpoints read it)."""
        from moto.core.utils import utcnow
        from moto.sagemaker.models import sagemaker_backends

        with self._lock:
            stored: Any = sagemaker_backends[endpoint.account][endpoint.region].endpoints.get(endpoint.name)
            if stored is None:
                return
            stored.endpoint_status = status
            stored.failure_reason = reason
            stored.last_modified_time = utcnow()
            if config_name is not None and config_name != stored.endpoint_config_name:
                stored.endpoint_config_name = config_name
                config = sagemaker_backends[endpoint.account][endpoint.region].endpoint_configs[config_name]
                stored.production_variants = stored._process_production_variants(config.production_variants)

    def _open_log(self, endpoint: _Endpoint, server: _Server) -> None:
        logs = self._client("logs", endpoint.region)
        group = f"{ENDPOINT_LOG_GROUP}/{endpoint.name}"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=server.log_stream)

    def _read_output(self, endpoint: _Endpoint, server: _Server) -> None:
        """Ship the server's output to its log stream, a line at a time, as it is printed."""
        if server.process is None or server.process.stdout is None:
            return
        logs = self._client("logs", endpoint.region)
        for line in server.process.stdout:
            text = line.rstrip("\n") or " "
            server.lines.append(text)
            try:
                logs.put_log_events(logGroupName=f"{ENDPOINT_LOG_GROUP}/{endpoint.name}",
                                    logStreamName=server.log_stream,
                                    logEvents=[{"timestamp": int(time.time() * 1000), "message": text}])
            except Exception as exc:  # noqa: BLE001 - logs must not stop the server
                self._error(f"put_log_events for endpoint {endpoint.name} failed: {exc!r}")


def _stop(server: _Server | None) -> None:
    """SIGTERM the server's process group; SIGKILL after 5 s."""
    if server is None or server.process is None or server.process.poll() is not None:
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=5)
    except ProcessLookupError:
        pass
    shutil.rmtree(server.directory, ignore_errors=True)


def _backend(resp: Any) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[resp.current_account][resp.region]


def _runtime_error(status: int, code: str, message: str, **members: Any) -> tuple[int, dict[str, str], str]:
    """A sagemaker-runtime error response (rest-json: the code in ``x-amzn-ErrorType``; moto takes
    the status from a ``status`` header)."""
    return status, {"status": str(status), "x-amzn-ErrorType": code, "Content-Type": "application/json"}, json.dumps(
        {"Message": message, **members})


def restore(cls: type, name: str, original: Any) -> None:
    """Undo a patch of ``cls.name``: put ``original`` back, or remove an attribute moto lacked (None)."""
    if original is None:
        if name in cls.__dict__:
            delattr(cls, name)
    else:
        setattr(cls, name, original)


def as_method(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A plain function that moto calls as a response method (``SageMakerResponse``,
    ``SageMakerRuntimeResponse``): ``handler(response)``."""

    def method(resp: Any) -> Any:
        return handler(resp)

    return method
