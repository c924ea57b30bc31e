"""Writes this example's data: scikit-learn's breast-cancer data set as the built-in XGBoost reads CSV.

Label first, no header, one row per line (``data/train/train.csv``: 455 rows, 80 %;
``data/validation/validation.csv``: 114 rows), split stratified with a fixed seed, so the files are
the same on every run. ``tuner local`` uploads ``data/`` to S3 (the request's local ``S3Uri``s).

    python examples/builtin-xgboost/make_data.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def rows(features: np.ndarray, labels: np.ndarray) -> str:
    """CSV text, label first, features with 6 significant digits."""
    pairs = zip(labels, features, strict=True)
    return "".join(",".join([str(int(label))] + [f"{x:.6g}" for x in row]) + "\n" for label, row in pairs)


def main(out: Path = HERE / "data") -> None:
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    for channel, features, labels in (("train", x_train, y_train), ("validation", x_valid, y_valid)):
        folder = out / channel
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{channel}.csv").write_text(rows(features, labels))


if __name__ == "__main__":
    main()
