"""A small script-mode training script that prints its objective every epoch.

The "model" is a one-dimensional curve: with hyperparameters ``x`` (continuous) and ``optimizer``
(categorical) the validation loss after epoch ``e`` is

    loss(e) = |x - 3| * penalty(optimizer) + 1 / e

so good configurations are recognisable early (what early stopping and Hyperband exploit) and
the loss keeps falling with more epochs. Every epoch prints ``epoch <e> validation-loss: <v>``
(the objective) and ``train-loss: <v>``; ``--sleep`` seconds pass per epoch.
"""
import argparse
import time

PENALTY = {"sgd": 1.0, "adam": 0.5, "rmsprop": 0.8}

p = argparse.ArgumentParser()
p.add_argument("--x", type=float, required=True)
p.add_argument("--optimizer", default="adam")
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--sleep", type=float, default=0.2)
args, _ = p.parse_known_args()

gap = abs(args.x - 3.0) * PENALTY.get(args.optimizer, 1.0)
for epoch in range(1, args.epochs + 1):
    time.sleep(args.sleep)
    loss = gap + 1.0 / epoch
    print(f"epoch {epoch} train-loss: {loss * 0.9:.6f} validation-loss: {loss:.6f}", flush=True)
