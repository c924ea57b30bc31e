"""The local stand-in's emulation of SageMaker's built-in XGBoost algorithm (algorithm mode).

Run by ``tuner.local.training_process`` as a process per host, exactly where a script-mode job runs
the user's script, when the job's ``TrainingImage`` is the built-in XGBoost's and it names no script
(``tuner.core.builtins.algorithm_mode``). Standalone on purpose (the standard library, numpy and
the installed ``xgboost``; nothing from ``tuner``): the process sees only what a container would.

What it does, as the built-in container does (``aws/sagemaker-xgboost-container``,
``algorithm_mode/train.py``; docs/builtin-algorithms.md):

* **Hyperparameters** from ``input/config/hyperparameters.json`` (strings), under the built-in's
  names (``num_round`` required; ``eta``, ``max_depth``, ``min_child_weight``, ``subsample``,
  ``objective``, ``eval_metric``, ``alpha``, ``lambda``, ``gamma``, ...). A name the algorithm does
  not know fails the job ("Extraneous hyperparameter found").
* **Data**: the ``train`` channel (required) and ``validation`` (optional) under ``input/data``, as
  CSV (label first, no header; ``csv_weights=1``: weights second) or libsvm, by the channel's
  ``ContentType`` in ``inputdataconfig.json`` (none: libsvm, the built-in's default). Every file
  of a channel, in name order.
* **Metrics**: ``eval_metric`` (comma-separated) plus the objective that AMT names in the reserved
  ``_tuning_objective_metric`` (``validation:auc`` adds ``auc``), sorted, as the container merges
  them. XGBoost's own metrics, and ``accuracy``, ``f1``, ``mse``, ``r2`` computed here as the
  container's custom metrics. One line per round on stdout, in the container's format with tabs as
  CloudWatch shows them: ``[12]#011train-auc:0.91000#011validation-auc:0.88000``.
* ``early_stopping_rounds`` on the validation channel: on the objective's metric, else on the last
  ``eval_metric`` (an XGBoost metric; not on a custom one).
* **Model**: ``model/xgboost-model`` (``Booster.save_model``), written by the first host only.
* **Hosts**: one thread each unless ``nthread`` says otherwise (offline, every host of every job
  shares one machine); every host trains on the data it was given; the hosts do not form a Rabit ring (with
  fully replicated data they train the same model). Failures end with a message in
  ``output/failure`` and exit code 1.
"""
from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

MODEL_NAME = "xgboost-model"
_INT = {"num_round", "max_depth", "num_class", "seed", "max_leaves", "max_bin", "num_parallel_tree",
        "early_stopping_rounds", "csv_weights", "nthread", "verbosity", "silent", "max_cat_to_onehot"}
_FLOAT = {"eta", "learning_rate", "gamma", "min_child_weight", "max_delta_step", "subsample", "colsample_bytree",
          "colsample_bylevel", "colsample_bynode", "lambda", "reg_lambda", "alpha", "reg_alpha", "sketch_eps",
          "scale_pos_weight", "base_score", "tweedie_variance_power", "rate_drop", "skip_drop", "lambda_bias",
          "huber_slope", "aft_loss_distribution_scale"}
_TEXT = {"objective", "eval_metric", "booster", "tree_method", "grow_policy", "sampling_method", "updater",
         "process_type", "refresh_leaf", "sample_type", "normalize_type", "one_drop", "monotone_constraints",
         "interaction_constraints", "seed_per_iteration", "aft_loss_distribution", "multi_strategy",
         "save_model_on_termination", "_tuning_objective_metric", "deterministic_histogram",
         "single_precision_histogram", "use_dask_gpu_training"}
_NOT_XGBOOST = {"num_round", "eval_metric", "early_stopping_rounds", "csv_weights", "_tuning_objective_metric",
                "save_model_on_termination", "use_dask_gpu_training", "silent"}
_CUSTOM = ("accuracy", "f1", "mse", "r2")  # the container's metrics that XGBoost itself lacks
_MAXIMIZED = {"accuracy", "auc", "aucpr", "f1", "map", "ndcg", "r2"}
_CSV = {"csv", "text/csv"}
_LIBSVM = {"libsvm", "text/libsvm", "text/x-libsvm"}


class UserError(Exception):
    """A problem with the job's hyperparameters or data (SageMaker's "ClientError")."""


def main() -> int:
    ml_input = Path(os.environ.get("SM_INPUT_DIR", "/opt/ml/input"))
    output = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
    try:
        train(ml_input, Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")),
              os.environ.get("SM_CURRENT_HOST", "algo-1"), json.loads(os.environ.get("SM_HOSTS", '["algo-1"]')))
    except UserError as exc:
        return _fail(output, f"ClientError: {exc}")
    except Exception as exc:  # noqa: BLE001 - the container reports any other failure as its own
        return _fail(output, f"AlgorithmError: XGB train call failed with exception:\n {exc}")
    return 0


def _fail(output: Path, reason: str) -> int:
    print(reason, file=sys.stderr)
    output.mkdir(parents=True, exist_ok=True)
    (output / "failure").write_text(reason)
    return 1


def train(ml_input: Path, model_dir: Path, host: str, hosts: list[str]) -> None:
    import xgboost as xgb

    raw = json.loads((ml_input / "config" / "hyperparameters.json").read_text() or "{}")
    params = hyperparameters(raw)
    channels = json.loads((ml_input / "config" / "inputdataconfig.json").read_text() or "{}")
    if "train" not in channels:
        raise UserError("the train channel is required")
    weights = bool(params.get("csv_weights"))
    dtrain = _dmatrix(xgb, ml_input / "data" / "train", channels["train"], weights)
    dvalid = (_dmatrix(xgb, ml_input / "data" / "validation", channels["validation"], False)
              if "validation" in channels else None)
    num_round = int(params.pop("num_round"))
    eval_metric, objective = params.pop("eval_metric", None), params.pop("_tuning_objective_metric", None)
    native, custom = _metrics(eval_metric, objective)
    booster_params = {k: v for k, v in params.items() if k not in _NOT_XGBOOST}
    if native:
        booster_params["eval_metric"] = native
    booster_params.setdefault("nthread", 1)  # offline, hosts and jobs share one machine's cores
    evals = [(dtrain, "train")] + ([(dvalid, "validation")] if dvalid is not None else [])
    callbacks: list[Any] = [_printer(xgb, evals, custom)]
    rounds = params.get("early_stopping_rounds")
    # the container stops on the objective's metric, else on the last eval_metric given
    given = [m.strip() for m in (eval_metric or "").split(",") if m.strip()]
    metric = objective.split(":", 1)[-1] if objective else (given[-1] if given else None)
    if rounds and dvalid is not None and metric in native:
        callbacks.append(xgb.callback.EarlyStopping(rounds=int(rounds), metric_name=metric, data_name="validation",
                                                    maximize=metric in _MAXIMIZED, save_best=False))
    if len(hosts) > 1:
        print(f"Distributed node training with {len(hosts)} hosts: {hosts} (emulated: each host trains "
              "on its own copy of the data)", file=sys.stderr)
    print(f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bst = xgb.train(booster_params, dtrain, num_boost_round=num_round, evals=evals, callbacks=callbacks,
                        verbose_eval=False)
        if host == hosts[0]:
            model_dir.mkdir(parents=True, exist_ok=True)
            bst.save_model(str(model_dir / MODEL_NAME))


def hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """The built-in's hyperparameters, typed; ``UserError`` for an unknown or malformed one."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        text = str(value)
        try:
            if name in _INT:
                out[name] = int(float(text))
            elif name in _FLOAT:
                out[name] = float(text)
            elif name in _TEXT:
                out[name] = text
            else:
                raise UserError(f"Extraneous hyperparameter found: {name}")
        except ValueError:
            raise UserError(f"hyperparameter {name}={text!r} is not a number") from None
    if "num_round" not in out:
        raise UserError("Missing required hyperparameter: num_round")
    return out


def _metrics(eval_metric: str | None, objective: str | None) -> tuple[list[str], list[str]]:
    """(XGBoost's metrics, the custom ones): ``eval_metric`` and the objective's metric, sorted."""
    names = {m.strip() for m in (eval_metric or "").split(",") if m.strip()}
    if objective:
        names.add(objective.split(":", 1)[-1])
    ordered = sorted(names)
    return [m for m in ordered if m not in _CUSTOM], [m for m in ordered if m in _CUSTOM]


def _content_type(channel: dict[str, Any]) -> str:
    value = str(channel.get("ContentType") or "libsvm").split(";", 1)[0].strip().lower()
    if value in _CSV:
        return "csv"
    if value in _LIBSVM:
        return "libsvm"
    raise UserError(f"ContentType {channel.get('ContentType')!r} is not emulated offline; use text/csv or libsvm")


def _files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise UserError(f"No data in channel path {folder}")
    return files


def _dmatrix(xgb: Any, folder: Path, channel: dict[str, Any], weights: bool) -> Any:
    import numpy as np

    kind = _content_type(channel)
    if kind == "csv":
        rows = [np.loadtxt(f, delimiter=",", ndmin=2) for f in _files(folder) if f.stat().st_size]
        if not rows:
            raise UserError(f"No data in channel path {folder}")
        data = np.vstack(rows)
        first = 2 if weights else 1
        return xgb.DMatrix(data[:, first:], label=data[:, 0], weight=data[:, 1] if weights else None)
    labels: list[float] = []
    entries: list[dict[int, float]] = []
    for f in _files(folder):
        for line in f.read_text().splitlines():
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            labels.append(float(fields[0]))
            entries.append({int(k): float(v) for k, v in (p.split(":", 1) for p in fields[1:])})
    width = 1 + max((max(e) for e in entries if e), default=0)
    matrix = np.full((len(entries), width), np.nan)
    for i, e in enumerate(entries):
        for k, v in e.items():
            matrix[i, k] = v
    return xgb.DMatrix(matrix, label=np.array(labels))


def _printer(xgb: Any, evals: list[tuple[Any, str]], custom: list[str]) -> Any:
    """The callback that prints each round's metrics (``round_line``)."""

    class Printer(xgb.callback.TrainingCallback):  # type: ignore[misc]
        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            print(round_line(model, epoch, evals_log, evals, custom), flush=True)
            return False

    return Printer()


def round_line(model: Any, epoch: int, evals_log: dict[str, Any], evals: list[tuple[Any, str]],
               custom: list[str]) -> str:
    """``[12]#011train-auc:0.91000#011validation-auc:0.88000``: per data set, XGBoost's metrics, then
    the custom ones (computed from the model's predictions after this round)."""
    parts = [f"[{epoch}]"]
    for dmatrix, name in evals:
        for metric, values in (evals_log.get(name) or {}).items():
            parts.append(f"{name}-{metric}:{values[-1]:.5f}")
        if custom:
            predictions = model.predict(dmatrix, iteration_range=(0, epoch + 1))
            for metric in custom:
                value = _custom(metric, dmatrix.get_label(), predictions)
                if math.isfinite(value):
                    parts.append(f"{name}-{metric}:{value:.5f}")
    return "#011".join(parts)


def _custom(metric: str, labels: Any, predictions: Any) -> float:
    import numpy as np

    if metric in ("mse", "r2"):
        error = float(np.mean((predictions - labels) ** 2))
        if metric == "mse":
            return error
        spread = float(np.var(labels))
        return 1.0 - error / spread if spread > 0 else float("nan")
    predicted = predictions.argmax(axis=1) if predictions.ndim == 2 else (predictions > 0.5).astype(float)
    if metric == "accuracy":
        return float(np.mean(predicted == labels))
    classes = np.unique(labels)  # f1: binary F1 of class 1, the classes' mean F1 for multiclass
    scores = []
    for c in classes if len(classes) > 2 else [1.0]:
        tp = float(np.sum((predicted == c) & (labels == c)))
        fp = float(np.sum((predicted == c) & (labels != c)))
        fn = float(np.sum((predicted != c) & (labels == c)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


if __name__ == "__main__":
    sys.exit(main())
