"""XGBoost script-mode training script (SageMaker framework-container conventions).

Trains a binary classifier on scikit-learn's bundled breast-cancer data set (fixed 75/25 stratified
split, seed 0), so it needs no input channel. Hyperparameters arrive as ``--name value`` arguments
(both ``--learning-rate`` and ``--learning_rate`` spellings work); unknown ones are reported on
stderr and ignored. Every ``--log-every`` rounds (and after the last one) it prints

    [<round>] train-logloss: 0.12345 validation-logloss: 0.13579 Validation-accuracy: 0.95614

which the tuning objective regex ``Validation-accuracy: ([0-9\\.]+)`` matches. The model is saved
to ``$SM_MODEL_DIR/xgboost-model.json`` and the final metrics to ``$SM_OUTPUT_DATA_DIR/metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


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
    args.num_round = args.num_round or args.epochs or 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    import numpy as np
    import xgboost as xgb
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0,
                                                      stratify=y)
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


if __name__ == "__main__":
    sys.exit(main())
