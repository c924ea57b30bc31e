"""A fast script-mode training script for the end-to-end tests.

``--x`` is a number (the loss is |x - 3| + 1/epoch, printed every epoch), or ``fail`` (exits
non-zero: an AlgorithmError) or ``silent`` (succeeds but prints no metric). ``--sleep`` is the
seconds each epoch takes (a slow job, still running while another ends).

The model (``model.json`` in ``SM_MODEL_DIR``) is the trained ``x``; served (``model_fn``,
``predict_fn``, as SageMaker's inference toolkit calls them), it answers ``value - x`` for each
value it is given.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path


def model_fn(model_dir):
    return json.loads((Path(model_dir) / "model.json").read_text())


def predict_fn(data, model):
    return data - model["x"]


def train() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--x", required=True)
    p.add_argument("--y", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--sleep", type=float, default=0.05)
    args, _ = p.parse_known_args()
    if args.x == "fail":
        print("starting, then failing on purpose", flush=True)
        sys.exit("deliberate failure: bad hyperparameter x=fail")
    if args.x == "silent":
        print("training without printing the objective", flush=True)
        sys.exit(0)
    x = float(args.x)
    for epoch in range(1, args.epochs + 1):
        print(f"epoch {epoch} loss: {abs(x - 3) + abs(args.y) * 0.01 + 1 / epoch:.6f}", flush=True)
        time.sleep(args.sleep)
    model_dir = os.environ.get("SM_MODEL_DIR")
    if model_dir:
        (Path(model_dir) / "model.json").write_text(json.dumps({"x": x}))


if __name__ == "__main__":
    train()
