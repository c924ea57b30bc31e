"""XGBoost script-mode training script (SageMaker framework-container conventions).

Trains a binary classifier on a synthetic task that scikit-learn generates the same way on every
run (``make_data``: 6,000 rows, 40 features of which 10 informative and 8 redundant, 5 % of the
labels flipped, 3 clusters per class; 60/40 stratified split, so 2,400 validation rows and accuracy
in steps of about 0.0004), so it needs no input channel. The task is hard enough that the
hyperparameters matter: 100 rounds reach from about 0.75 to 0.86 validation accuracy across the
demo's ranges (shallow trees and a small learning rate underfit).

Hyperparameters arrive as ``--name value`` arguments (both ``--learning-rate`` and
``--learning_rate`` spellings work); unknown ones are reported on stderr and ignored. Every
``--log-every`` rounds (and after the last one) it prints

    [<round>] train-logloss: 0.12345 validation-logloss: 0.13579 Validation-accuracy: 0.95614

which the tuning objective regex ``Validation-accuracy: ([0-9\\.]+)`` matches. The model is saved
to ``$SM_MODEL_DIR/xgboost-model.json`` and the final metrics to ``$SM_OUTPUT_DATA_DIR/metrics.json``.
``model_fn`` and ``predict_fn`` serve the saved model from an endpoint (``examples/retuning``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])

    def opt(name: str, **kw: object) -> None:
        p.add_argument(f"--{name}", f"--{name.replace('-', '_')}", **kw)  # type: ignore[arg-type]

    opt("learning-rate", type=float, default=0.3, dest="learning_rate")
    p.add_argument("--eta", type=float, default=None)
    opt("max-depth", type=int, default=6, dest="max_depth")
    opt("num-round", type=int, default=None, dest="num_round")
    p.add_argument("--epochs", type=int, default=None)
    opt("min-child-weight", type=float, default=1.0, dest="min_child_weight")
    p.add_argument("--subsample", type=float, default=1.0)
    opt("colsample-bytree", type=float, default=1.0, dest="colsample_bytree")
    p.add_argument("--gamma", type=float, default=0.0)
    p.add_argument("--alpha", type=float, default=0.0)
    p.add_argument("--lambda", type=float, default=1.0, dest="reg_lambda")
    opt("log-every", type=int, default=5, dest="log_every")
    p.add_argument("--nthread", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-dir", "--model_dir",
                   default=os.environ.get("SM_MODEL_DIR", "model"), dest="model_dir")
    args, unknown = p.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {unknown}", file=sys.stderr)
    if args.eta is not None:
        args.learning_rate = args.eta
    args.num_round = args.num_round or args.epochs or 100
    return args


def make_data() -> tuple[Any, Any, Any, Any]:
    """``(x_train, x_val, y_train, y_val)``: the demo's task, the same arrays on every run."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    x, y = make_classification(n_samples=6000, n_features=40, n_informative=10, n_redundant=8,
                               n_clusters_per_class=3, flip_y=0.05, class_sep=0.8, random_state=42)
    return tuple(train_test_split(x, y, test_size=0.4, random_state=0, stratify=y))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    import numpy as np
    import xgboost as xgb

    x_train, x_val, y_train, y_val = make_data()
    dtrain = xgb.DMatrix(x_train, label=y_train)
    dval = xgb.DMatrix(x_val, label=y_val)
    params = {
        "objective": "binary:logistic", "eval_metric": "logloss",
        "eta": args.learning_rate, "max_depth": args.max_depth,
        "min_child_weight": args.min_child_weight, "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree, "gamma": args.gamma, "alpha": args.alpha,
        "lambda": args.reg_lambda, "nthread": args.nthread, "seed": args.seed,
    }
    print(f"training: {len(y_train)} rows, validation: {len(y_val)} rows, params: "
          f"{json.dumps(params, sort_keys=True)}, num_round: {args.num_round}", flush=True)

    final: dict[str, float] = {}

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:  # noqa: ANN001
            rnd = epoch + 1
            if rnd % max(1, args.log_every) and rnd != args.num_round:
                return False
            pred = model.predict(dval, iteration_range=(0, rnd))
            acc = float(np.mean((pred > 0.5) == y_val))
            train_ll = evals_log["train"]["logloss"][-1]
            val_ll = evals_log["validation"]["logloss"][-1]
            final.update(accuracy=acc, logloss=val_ll, round=rnd)
            print(f"[{rnd}] train-logloss: {train_ll:.5f} validation-logloss: {val_ll:.5f} "
                  f"Validation-accuracy: {acc:.5f}", flush=True)
            return False

    booster = xgb.train(params, dtrain, num_boost_round=args.num_round,
                        evals=[(dtrain, "train"), (dval, "validation")], verbose_eval=False,
                        callbacks=[Report()])

    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "xgboost-model.json"))
    out_dir = os.environ.get("SM_OUTPUT_DATA_DIR")
    if out_dir:
        Path(out_dir, "metrics.json").write_text(json.dumps(final))
    print(f"saved model to {model_dir / 'xgboost-model.json'}", flush=True)
    return 0


# ---- serving (SageMaker's inference toolkit contract; the offline hosting stand-in uses it too) ----
def model_fn(model_dir: str) -> Any:
    """The booster this script saved, for an endpoint serving the model."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(Path(model_dir) / "xgboost-model.json"))
    return booster


def predict_fn(data: Any, model: Any) -> Any:
    """P(class 1) for each row of ``data`` (rows x 40 features, e.g. the CSV body decoded)."""
    import numpy as np
    import xgboost as xgb

    return model.predict(xgb.DMatrix(np.atleast_2d(np.asarray(data, dtype=float))))


if __name__ == "__main__":
    sys.exit(main())
