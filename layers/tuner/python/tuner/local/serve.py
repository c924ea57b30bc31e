"""The offline deployment, served on 127.0.0.1 to other processes (``tuner local --serve``).

A ``LocalTuner`` keeps its deployment in moto's in-memory backends, inside its own process. To
read it from another terminal, a notebook or the SageMaker Python SDK, ``ServedDeployment`` starts
moto's HTTP server (``moto.server.ThreadedMotoServer``) in the same process, on the loopback
interface: it answers from the same backends, and its SageMaker training-job calls go to the
offline stand-in (``tuner.local.sagemaker`` replaces moto's handlers, which the server uses too).

The other process points boto3 at it with botocore's standard ``AWS_ENDPOINT_URL`` variable
("Service-specific endpoints", AWS SDKs and Tools reference guide) and moto's test credentials
(``environment()``). Nothing else changes: ``tuner describe NAME``, ``TunerClient()`` and
``sagemaker.Session(sagemaker_client=TunerClient())`` find the stack by its outputs and read the
tuning jobs from its table through the project's own API, as against AWS (never moto's canned
tuning-job API).

What the served endpoint does not do: check IAM (the offline IAM twin checks the calls made inside
the serving process; requests over HTTP reach moto directly), nor serve the front door's function
URL (its address is an ``*.on.aws`` name only the serving process answers). So from another process
reads work as they do against AWS, and a stop or a create goes to the tuner directly: ``tuner stop
NAME --direct``. It listens on 127.0.0.1 only.
"""
from __future__ import annotations

import logging
import socket
from typing import Any

#: The default port of ``tuner local --serve`` (moto's own server default is 5000).
DEFAULT_PORT = 8765


class ServedDeployment:
    """moto's HTTP server over this process's backends, on ``127.0.0.1:port`` (0: any free port)."""

    def __init__(self, port: int = DEFAULT_PORT, region: str = "us-east-1") -> None:
        self.port = port
        self.region = region
        self._server: Any = None

    def __enter__(self) -> ServedDeployment:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> ServedDeployment:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as err:  # moto without its "server" extra (flask)
            raise RuntimeError(
                f"serving the offline deployment needs moto's server extra ({err}); "
                "install it with: pip install 'moto[server]'"
            ) from None
        for name in ("werkzeug", "moto.server"):  # one line per request otherwise
            logging.getLogger(name).setLevel(logging.ERROR)
        if self.port:  # moto's server thread dies on a busy port and its start() then waits forever
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", self.port))
                except OSError as err:
                    raise RuntimeError(
                        f"cannot serve on 127.0.0.1:{self.port}: {err.strerror}; choose another port with --port"
                    ) from None
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        self.port = int(server.get_host_and_port()[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The variables another process sets to reach this deployment with boto3."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
        }

    def instructions(self, name: str | None = None) -> list[str]:
        """What to type in another terminal (shell syntax)."""
        exports = " ".join(f"{k}={v}" for k, v in self.environment().items())
        job = name or "NAME"
        return [
            f"serving the offline deployment on {self.url} (Ctrl-C to stop); in another terminal:",
            f"  export {exports}",
            f"  tuner describe {job}        # also: list, training-jobs {job}, best {job}, report {job} --out DIR",
            "  python -c 'import sagemaker; from sagemaker.tuner import HyperparameterTuner; "
            "from tuner.client import TunerClient; "
            f"print(HyperparameterTuner.attach(\"{job}\", sagemaker_session=sagemaker.Session("
            "sagemaker_client=TunerClient())).best_training_job())'",
        ]


__all__ = ["DEFAULT_PORT", "ServedDeployment"]
