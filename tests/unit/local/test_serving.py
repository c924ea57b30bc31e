"""The local model server (``tuner/local/serving.py``), run as the endpoint's process and spoken to over HTTP."""
from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tuner.local

SERVER = Path(tuner.local.__file__).parent / "serving.py"
WEIGHTS = [1.0, 2.0, 3.0]

PROGRAM = """
import json
import os

import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return np.array(json.load(f))


def predict_fn(data, model):
    if np.any(np.asarray(data) < 0):
        raise ValueError("negative features are not allowed")
    return np.asarray(data, dtype=float) @ model
{extra}

if __name__ == "__main__":
    raise SystemExit("training ran on import")
"""

OUTPUT_FN = """
def output_fn(prediction, accept):
    if accept == "text/plain":
        return " ".join(str(p) for p in prediction), "text/plain"
    return json.dumps({"sum": float(np.sum(prediction))})
"""

TRANSFORM_FN = """
def transform_fn(model, body, content_type, accept):
    rows = np.array(json.loads(body)["instances"], dtype=float)
    return json.dumps({"predictions": (rows @ model).tolist()}), "application/json"
"""

# a module body without handlers except transform_fn: the script above's predict_fn must not be there
TRANSFORM_PROGRAM = """
import json
import os

import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return np.array(json.load(f))
""" + TRANSFORM_FN


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int

    def request(self, path: str, body: bytes | None = None, content_type: str | None = None,
                accept: str | None = None) -> tuple[int, bytes, str | None]:
        # http.client, not urllib.request: urllib gives a POST without Content-Type a form's
        headers = {name: value for name, value in (("Content-Type", content_type), ("Accept", accept)) if value}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read(), answer.getheader("Content-Type")
        finally:
            connection.close()

    def invoke(self, body: bytes, content_type: str | None = None, accept: str | None = None
               ) -> tuple[int, bytes, str | None]:
        return self.request("/invocations", body, content_type, accept)


def start(args: list[str], port_file: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SERVER), *args, "--port-file", str(port_file)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


@contextlib.contextmanager
def serve(args: list[str], folder: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A running server (the port file written); SIGTERM afterwards, which must end it with exit code 0."""
    port_file = folder / "port"
    process = start(args, port_file, env)
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start: {process.communicate()}")
        time.sleep(0.02)
    try:
        yield Server(process, int(port_file.read_text()))
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err


def fail_to_start(args: list[str], folder: Path) -> str:
    """The stderr of a server that must exit 1 without a port file."""
    port_file = folder / "port"
    process = start(args, port_file)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 1, (out, err)
    assert not port_file.exists()
    return err


def script(folder: Path, program: str, name: str = "inference.py") -> list[str]:
    model_dir, code_dir = folder / "model", folder / "code"
    model_dir.mkdir()
    code_dir.mkdir()
    (model_dir / "weights.json").write_text(json.dumps(WEIGHTS))
    (code_dir / name).write_text(textwrap.dedent(program))
    return ["--model-dir", str(model_dir), "--code-dir", str(code_dir), "--program", name]


# -- script mode ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("script")
    with serve(script(folder, PROGRAM.format(extra="")), folder,
               env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}) as server:
        yield server


def test_ping_and_unknown_paths(scripted: Server) -> None:
    assert scripted.request("/ping") == (200, b"", None)
    assert scripted.request("/nowhere")[0] == 404
    assert scripted.request("/ping", b"{}")[0] == 404


def test_json_in_json_out(scripted: Server) -> None:
    status, body, ctype = scripted.invoke(b"[[1, 1, 1], [0, 0, 2]]", "application/json; charset=utf-8",
                                          "application/json")
    assert (status, json.loads(body), ctype) == (200, [6.0, 6.0], "application/json")


def test_csv_in_csv_out(scripted: Server) -> None:
    status, body, ctype = scripted.invoke(b"1,0,0\n0,1,0\n", "text/csv", "text/csv")
    assert (status, body.decode().split(), ctype) == (200, ["1.0", "2.0"], "text/csv")
    status, body, _ = scripted.invoke(b"1,1,1", "text/csv", "application/json")  # one row stays a row
    assert (status, json.loads(body)) == (200, [6.0])


def test_npy_in_npy_out(scripted: Server) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([[2.0, 0.0, 1.0]]))
    status, body, ctype = scripted.invoke(buffer.getvalue(), "application/x-npy", "application/x-npy")
    assert (status, ctype) == (200, "application/x-npy")
    np.testing.assert_allclose(np.load(io.BytesIO(body)), [5.0])


def test_default_accept_comes_from_the_environment(scripted: Server) -> None:
    for accept in (None, "*/*"):
        status, body, ctype = scripted.invoke(b"[[1, 0, 0]]", "application/json", accept)
        assert (status, body.decode().strip(), ctype) == (200, "1.0", "text/csv")


def test_unsupported_types(scripted: Server) -> None:
    status, body, _ = scripted.invoke(b"<x/>", "application/xml", "application/json")
    assert (status, body.decode()) == (415, "Content type application/xml is not supported by this "
                                             "deserialization function")
    status, body, _ = scripted.invoke(b"[[1, 1, 1]]", "application/json", "image/png")
    assert status == 406 and body.decode().startswith("Accept type image/png is not supported by this encoder")


def test_handler_exception_is_a_500_with_its_message(scripted: Server) -> None:
    status, body, _ = scripted.invoke(b"[[-1, 0, 0]]", "application/json", "application/json")
    assert (status, body.decode()) == (500, "negative features are not allowed")


def test_custom_output_fn(tmp_path: Path) -> None:
    with serve(script(tmp_path, PROGRAM.format(extra=OUTPUT_FN)), tmp_path) as server:
        assert server.invoke(b"[[1, 0, 0], [0, 1, 0]]", "application/json", "text/plain") == (
            200, b"1.0 2.0", "text/plain")
        status, body, ctype = server.invoke(b"[[1, 1, 1]]")  # no Content-Type: JSON; no Accept: JSON
        assert (status, json.loads(body), ctype) == (200, {"sum": 6.0}, "application/json")


def test_transform_fn(tmp_path: Path) -> None:
    with serve(script(tmp_path, TRANSFORM_PROGRAM), tmp_path) as server:
        status, body, ctype = server.invoke(b'{"instances": [[0, 0, 1]]}', "application/json", "text/csv")
        assert (status, json.loads(body), ctype) == (200, {"predictions": [3.0]}, "application/json")


def test_no_model_fn_fails_to_load(tmp_path: Path) -> None:
    err = fail_to_start(script(tmp_path, "def predict_fn(data, model):\n    return data\n"), tmp_path)
    assert "No model_fn in inference.py: please provide a model_fn implementation" in err


def test_model_fn_raising_fails_to_load_with_the_traceback(tmp_path: Path) -> None:
    program = "def model_fn(model_dir):\n    raise OSError('no weights here')\n"
    err = fail_to_start(script(tmp_path, program), tmp_path)
    assert "Traceback (most recent call last)" in err
    assert "OSError: no weights here" in err and "inference.py" in err


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    for args in (["--model-dir", str(tmp_path)],
                 ["--model-dir", str(tmp_path), "--algorithm", "xgboost", "--program", "x.py"],
                 ["--model-dir", str(tmp_path), "--code-dir", str(tmp_path)]):
        process = start(args, tmp_path / "port")
        process.communicate(timeout=20)
        assert process.returncode == 2


# -- the built-in XGBoost ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def booster(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    import xgboost as xgb

    rng = np.random.default_rng(7)
    features = rng.normal(size=(60, 3))
    labels = (features[:, 0] + features[:, 1] > 0).astype(float)
    trained = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(features, label=labels), 5)
    model_dir = tmp_path_factory.mktemp("xgboost-model")
    with warnings.catch_warnings():  # "Saving model in the UBJSON format": the training emulation's too
        warnings.simplefilter("ignore")
        trained.save_model(str(model_dir / "xgboost-model"))
    return model_dir, trained


@pytest.fixture(scope="module")
def builtin(booster: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(["--model-dir", str(booster[0]), "--algorithm", "xgboost"], tmp_path_factory.mktemp("xgb")) as server:
        yield server


ROWS = np.array([[0.5, -1.0, 2.0], [-0.3, 0.8, 0.0]])
CSV_ROWS = b"0.5,-1.0,2.0\n-0.3,0.8,0.0"


def test_xgboost_csv(builtin: Server, booster: tuple[Path, Any]) -> None:
    import xgboost as xgb

    status, body, ctype = builtin.invoke(CSV_ROWS, "text/csv; charset=utf-8")
    assert (status, ctype) == (200, "text/csv")
    scores = [float(line) for line in body.decode().splitlines()]
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)
    np.testing.assert_allclose(scores, booster[1].predict(xgb.DMatrix(ROWS)), rtol=1e-6)


def test_xgboost_libsvm_answers_as_csv(builtin: Server) -> None:
    csv = builtin.invoke(CSV_ROWS, "text/csv", "text/csv")[1]
    libsvm = b"1 1:0.5 2:-1.0 3:2.0\n0 1:-0.3 2:0.8 3:0.0"
    for ctype in ("text/libsvm", "text/x-libsvm"):
        assert builtin.invoke(libsvm, ctype, "text/csv") == (200, csv, "text/csv")


def test_xgboost_json_and_jsonlines(builtin: Server) -> None:
    scores = [float(line) for line in builtin.invoke(CSV_ROWS, "text/csv")[1].decode().splitlines()]
    status, body, ctype = builtin.invoke(CSV_ROWS, "text/csv", "application/json")
    assert (status, ctype) == (200, "application/json")
    assert json.loads(body) == {"predictions": [{"score": s} for s in scores]}
    status, body, ctype = builtin.invoke(CSV_ROWS, "text/csv", "application/jsonlines")
    assert (status, ctype) == (200, "application/jsonlines")
    assert [json.loads(line) for line in body.decode().splitlines()] == [{"score": s} for s in scores]


def test_xgboost_errors(builtin: Server) -> None:
    assert builtin.invoke(b"", "text/csv")[0] == 204
    status, body, _ = builtin.invoke(b"1.0,2.0,3.0,4.0,5.0", "text/csv")
    assert (status, body.decode()) == (400, "Unable to evaluate payload provided: Feature size of csv inference "
                                             "data 5 is not consistent with feature size of trained model 3.")
    status, body, _ = builtin.invoke(b"\n\n", "application/x-recordio-protobuf")
    assert (status, body.decode()) == (415, "Content-type application/x-recordio-protobuf is not supported by "
                                             "the local stand-in")
    assert builtin.invoke(b"[[1, 2, 3]]", "application/json")[0] == 415
    status, body, _ = builtin.invoke(b"1,2,x", "text/csv")
    assert status == 415 and body.decode().startswith("Loading csv data failed with Exception")
    status, body, _ = builtin.invoke(CSV_ROWS, "text/csv", "application/x-npy")
    assert status == 406 and body.decode().startswith("Accept type application/x-npy is not supported.")


def test_xgboost_garbage_model_fails_to_load(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "xgboost-model").write_bytes(b"\x00 not a model \xff" * 8)
    err = fail_to_start(["--model-dir", str(model_dir), "--algorithm", "xgboost"], tmp_path)
    assert f"Model {model_dir / 'xgboost-model'} cannot be loaded" in err
