"""The local stand-in's model server: what an endpoint's inference container runs.

Started by the local SageMaker stand-in as one process per endpoint, the way SageMaker starts an
inference container, then sent HTTP requests. Standalone on purpose (the standard library and numpy;
``xgboost``, ``scipy`` and ``pickle`` only when serving the built-in XGBoost): the process sees only
what a container would::

    python serving.py --model-dir DIR --port-file FILE [--code-dir DIR --program NAME.py] [--algorithm xgboost]

It loads the model first, then listens on ``127.0.0.1`` (a free port) and writes the port to
``--port-file`` (atomically): only then is it healthy. A model that cannot be loaded ends the process
with exit code 1, the reason and its traceback on stderr, and no port file. SIGTERM stops it (exit 0).
One log line per request (method, path, status) and the traceback of every error, line by line.

The HTTP contract is SageMaker's for inference containers
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html): ``GET /ping``
answers 200; ``POST /invocations`` answers the prediction, its ``Content-Type`` the body's; anything
else 404. Media types are matched without their parameters (``text/csv; charset=utf-8``).

* **Script mode** (``--code-dir``, ``--program``), as the framework containers serve with the
  sagemaker-inference toolkit (``aws/sagemaker-inference-toolkit``, ``transformer.py``, ``decoder.py``,
  ``encoder.py``; ``aws/sagemaker-scikit-learn-container``, ``handler_service.py``): the program is
  imported as a module (its training stays behind ``if __name__ == "__main__":``) and its handlers
  called: ``model_fn(model_dir)`` (required), then ``transform_fn(model, body, content_type, accept)``
  or ``input_fn(body, content_type)``, ``predict_fn(data, model)``, ``output_fn(prediction, accept)``,
  each with the toolkit's default when absent (not with ``transform_fn``: the containers refuse the
  mix). The body is text for JSON and CSV, bytes otherwise. The defaults decode JSON, CSV, NPY and NPZ
  to numpy (415 otherwise), call ``model.predict`` and encode JSON, CSV or NPY (406 otherwise); a
  missing ``Content-Type`` is JSON, a missing or ``*/*`` ``Accept`` ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``
  or JSON. A handler's exception answers 500 with its message.
* **Built-in XGBoost** (``--algorithm xgboost``), as ``aws/sagemaker-xgboost-container``
  (``algorithm_mode/serve.py``, ``serve_utils.py``) serves: the first model file (pickle, else
  ``Booster.load_model``), CSV or libsvm in (libsvm when the request names no type; an empty body
  answers 204); predictions from the best iteration when early stopping set one; CSV, JSON
  (``{"predictions": [{"score": ...}]}``) or JSON lines out, CSV by default.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

JSON, JSONLINES, CSV = "application/json", "application/jsonlines", "text/csv"
NPY, NPZ, RECORDIO = "application/x-npy", "application/x-npz", "application/x-recordio-protobuf"
LIBSVM = ("text/libsvm", "text/x-libsvm")
DEFAULT_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
MODEL_FN_DOCS = "https://sagemaker.readthedocs.io/en/stable/frameworks/sklearn/using_sklearn.html#load-a-model"

Reply = tuple[int, bytes, str]  # status, body, content type ("": none)


class HttpError(Exception):
    """A request the model does not answer: the status, and the message sent back as the body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str | None, default: str) -> str:
    """The first media type a header names, lowercase and without parameters; ``*/*`` or none: default."""
    value = (header or "").split(",", 1)[0].split(";", 1)[0].strip().lower()
    return default if value in ("", "*/*") else value


# -- script mode -------------------------------------------------------------------------------------
class ScriptModel:
    """The program's handlers and the model its ``model_fn`` loaded."""

    def __init__(self, model_dir: Path, code_dir: Path, program: str) -> None:
        module = _import(code_dir, program)
        model_fn = getattr(module, "model_fn", None)
        if model_fn is None:
            raise RuntimeError(f"No model_fn in {program}: please provide a model_fn implementation (see "
                               f"{MODEL_FN_DOCS})")
        self.transform_fn: Callable[..., Any] | None = getattr(module, "transform_fn", None)
        given = {name: getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
        if self.transform_fn is not None and any(given.values()):
            raise RuntimeError(f"{program}: cannot use transform_fn implementation with input_fn, predict_fn, "
                               "and/or output_fn")
        self.input_fn: Callable[..., Any] = given["input_fn"] or decode
        self.predict_fn: Callable[..., Any] = given["predict_fn"] or (lambda data, model: model.predict(data))
        self.output_fn: Callable[..., Any] = given["output_fn"] or encode
        self.model = model_fn(str(model_dir))

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Reply:
        ctype = media_type(content_type, JSON)
        wanted = media_type(accept, media_type(os.environ.get(DEFAULT_ACCEPT), JSON))
        data = body.decode("utf-8") if ctype in (JSON, CSV) else body
        if self.transform_fn is not None:
            result = self.transform_fn(self.model, data, ctype, wanted)
        else:
            result = self.output_fn(self.predict_fn(self.input_fn(data, ctype), self.model), wanted)
        answer, answer_type = result if isinstance(result, tuple) else (result, wanted)
        if isinstance(answer, str):
            answer = answer.encode("utf-8")
        if not isinstance(answer, bytes | bytearray | memoryview):
            raise TypeError(f"the handlers returned {type(answer).__name__}, not bytes or str")
        return 200, bytes(answer), str(answer_type)


def _import(code_dir: Path, program: str) -> ModuleType:
    """The program as a module named after its file (so not ``__main__``), its folder first on the path."""
    path = code_dir / program
    sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{path} is not a Python program")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def decode(body: bytes | str, content_type: str) -> Any:
    """The toolkit's default ``input_fn``: the body as a numpy array."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if content_type == JSON:
        return np.array(json.loads(raw))
    if content_type == CSV:
        return np.genfromtxt(io.BytesIO(raw), delimiter=",", dtype=float, ndmin=2)
    if content_type == NPY:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    if content_type == NPZ:
        with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
            return arrays[arrays.files[0]]
    raise HttpError(415, f"Content type {content_type} is not supported by this deserialization function")


def encode(prediction: Any, accept: str) -> bytes:
    """The toolkit's default ``output_fn``: the prediction in the accepted type."""
    if accept == JSON:
        return json.dumps(prediction, default=_tolist).encode("utf-8")
    if accept == CSV:
        text = io.StringIO()
        np.savetxt(text, np.atleast_1d(prediction), delimiter=",", fmt="%s")
        return text.getvalue().encode("utf-8")
    if accept == NPY:
        buffer = io.BytesIO()
        np.save(buffer, prediction)
        return buffer.getvalue()
    raise HttpError(406, f"Accept type {accept} is not supported by this encoder: use {JSON}, {CSV} or {NPY}, "
                    "or provide an output_fn")


def _tolist(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# -- the built-in XGBoost ----------------------------------------------------------------------------
class XGBoostModel:
    """The built-in XGBoost container's model and its ``/invocations``."""

    ACCEPTS = [CSV, JSON, JSONLINES]

    def __init__(self, model_dir: Path) -> None:
        import pickle

        import xgboost as xgb

        files = sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise RuntimeError(f"No model file in {model_dir}")
        path = files[0]
        print(f"Loading the model from {path}")
        try:
            with path.open("rb") as f:
                booster = pickle.load(f)
        except Exception as pickle_error:  # noqa: BLE001 - not a pickle: XGBoost's own format, maybe
            try:
                booster = xgb.Booster()
                booster.load_model(str(path))
            except Exception as xgb_error:  # noqa: BLE001
                raise RuntimeError(f"Model {path} cannot be loaded:\nPickle load error={pickle_error}\n"
                                   f"XGB load model error={xgb_error}") from None
        booster.set_param("nthread", 1)
        self.booster = booster
        best = booster.attr("best_iteration")  # set by early stopping; (0, 0) predicts with every tree
        self.iterations = (0, int(best) + 1) if best is not None else (0, 0)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Reply:
        import xgboost as xgb

        if not body:
            return 204, b"", ""
        ctype = media_type(content_type, LIBSVM[0])  # the container reads a request without one as libsvm
        if ctype == RECORDIO:
            raise HttpError(415, f"Content-type {RECORDIO} is not supported by the local stand-in")
        if ctype != CSV and ctype not in LIBSVM:
            raise HttpError(415, f"Content-type {ctype} is not supported.")
        kind = "csv" if ctype == CSV else "libsvm"
        try:
            text = body.strip().decode("utf-8")
            dmatrix = xgb.DMatrix(csv_matrix(text) if kind == "csv" else libsvm_matrix(text))
        except Exception as exc:
            raise HttpError(415, f"Loading {kind} data failed with Exception, please ensure data is in {kind} "
                            f"format:\n {type(exc)}\n {exc}") from exc
        try:
            trained, given = self.booster.num_features(), dmatrix.num_col()
            if kind == "csv" and given not in (trained, trained - 1):
                raise ValueError(f"Feature size of csv inference data {given} is not consistent with feature size "
                                 f"of trained model {trained}.")
            predictions = self.booster.predict(dmatrix, validate_features=False, iteration_range=self.iterations)
        except Exception as exc:
            raise HttpError(400, f"Unable to evaluate payload provided: {exc}") from exc
        wanted = media_type(accept, media_type(os.environ.get(DEFAULT_ACCEPT), CSV))
        if wanted not in self.ACCEPTS:
            raise HttpError(406, f"Accept type {wanted} is not supported. Please use supported accept types: "
                            f"{self.ACCEPTS}.")
        scores = predictions.tolist()
        if wanted == JSON:
            out = json.dumps({"predictions": [{"score": score} for score in scores]})
        elif wanted == JSONLINES:
            out = "".join(json.dumps({"score": score}) + "\n" for score in scores)
        else:  # one row per line, a multi-class row's probabilities comma-separated
            out = "".join((",".join(map(str, s)) if isinstance(s, list) else str(s)) + "\n" for s in scores)
        return 200, out.encode("utf-8"), wanted


def csv_matrix(text: str) -> Any:
    """Rows of features (no label, no header); an empty field is missing."""
    return np.array([[float(v) if v.strip() else np.nan for v in line.split(",")] for line in text.split("\n")],
                    dtype=float)


def libsvm_matrix(text: str) -> Any:
    """``[label] index:value ...`` rows as a sparse matrix; 1-based indices shift to 0-based."""
    from scipy.sparse import csr_matrix

    lines = text.split("\n")
    triples = np.array([(row, int(k), float(v)) for row, line in enumerate(lines)
                        for k, v in (item.split(":", 1) for item in line.split() if ":" in item)],
                       dtype=float).reshape(-1, 3)
    rows, cols = triples[:, 0].astype(int), triples[:, 1].astype(int)
    if len(cols) and cols.min() >= 1:
        cols -= 1
    return csr_matrix((triples[:, 2], (rows, cols)), shape=(len(lines), int(cols.max()) + 1 if len(cols) else 0))


# -- the server --------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    """``/ping`` and ``/invocations``; one request at a time reaches the model, as in a one-worker container."""

    model: ScriptModel | XGBoostModel
    lock = threading.Lock()

    def do_GET(self) -> None:
        self._reply(200, b"", "") if self.path == "/ping" else self._reply(404, b"Not Found", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/invocations":
            self._reply(404, b"Not Found", "text/plain")
            return
        try:
            with self.lock:
                status, answer, ctype = self.model.invoke(body, self.headers.get("Content-Type"),
                                                          self.headers.get("Accept"))
        except Exception as exc:  # noqa: BLE001 - the client gets the message, the log the traceback
            traceback.print_exc()
            status = exc.status if isinstance(exc, HttpError) else 500
            answer, ctype = str(exc).encode("utf-8"), "text/plain"
        self._reply(status, answer, ctype)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        print(f"{self.command} {self.path} {int(code)}")

    def log_message(self, format: str, *args: Any) -> None:
        print(format % args, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # the caller ships the output to CloudWatch line by line
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    args = _arguments(argv)
    try:
        Handler.model = (XGBoostModel(Path(args.model_dir)) if args.algorithm
                         else ScriptModel(Path(args.model_dir), Path(args.code_dir), args.program))
    except (Exception, SystemExit) as exc:
        print(f"The model server failed to load the model: {exc}", file=sys.stderr)
        traceback.print_exc()
        return 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    port_file = Path(args.port_file)
    temporary = port_file.with_name(port_file.name + ".tmp")
    temporary.write_text(str(port))
    os.replace(temporary, port_file)
    print(f"Model loaded; serving on 127.0.0.1:{port}")
    server.serve_forever()
    server.server_close()
    print("Model server stopped")
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The local stand-in's SageMaker model server.")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--code-dir", help="script mode: the program's folder")
    parser.add_argument("--program", help="script mode: the program's file name, in --code-dir")
    parser.add_argument("--algorithm", choices=["xgboost"], help="the built-in algorithm to serve")
    args = parser.parse_args(argv)
    script = (args.code_dir, args.program)
    if args.algorithm is not None and script != (None, None):
        parser.error("give either --code-dir and --program (script mode) or --algorithm, not both")
    if args.algorithm is None and None in script:
        parser.error("give --code-dir and --program (script mode), or --algorithm")
    return args


if __name__ == "__main__":
    sys.exit(main())
