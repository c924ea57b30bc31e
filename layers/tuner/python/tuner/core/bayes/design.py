"""Quasi-random points: a scrambled Halton sequence (no scipy.stats import on the cold path).

Each dimension ``j`` uses the ``j``-th prime as its base; every digit position of every
dimension gets its own random permutation of the digits (a "random-permutation" scrambling,
which removes the correlations plain Halton shows between high-prime dimensions), and a uniform
jitter fills the last cell. The sequence is a pure function of (generator state, index), so a
stateless strategy can take point ``k`` of its job's initial design on any invocation.
"""

from __future__ import annotations

import numpy as np

_PRIMES: list[int] = []


def _primes(n: int) -> list[int]:
    while len(_PRIMES) < n:
        c = _PRIMES[-1] + 1 if _PRIMES else 2
        while any(c % p == 0 for p in _PRIMES if p * p <= c):
            c += 1
        _PRIMES.append(c)
    return _PRIMES[:n]


class ScrambledHalton:
    """``points(start, n)`` -> array (n, d) in [0, 1)."""

    def __init__(self, d: int, rng: np.random.Generator, max_points: int = 1 << 16) -> None:
        self.d = d
        self.bases = _primes(max(d, 1))[:d]
        self.ndigits = [int(np.ceil(np.log(max_points) / np.log(b))) + 1 for b in self.bases]
        self.perms = [
            np.array([rng.permutation(b) for _ in range(nd)])
            for b, nd in zip(self.bases, self.ndigits, strict=True)
        ]
        self.jitter_seed = int(rng.integers(2**31))

    def points(self, start: int, n: int) -> np.ndarray:
        idx = np.arange(start, start + n, dtype=np.int64)
        out = np.zeros((n, self.d))
        for j, (b, nd, perm) in enumerate(zip(self.bases, self.ndigits, self.perms, strict=False)):
            k = idx.copy()
            scale = 1.0
            for pos in range(nd):
                scale /= b
                out[:, j] += perm[pos][k % b] * scale
                k //= b
            # jitter inside the last cell: a fixed function of (seed, index) for reproducibility
            jit = np.random.default_rng([self.jitter_seed, j]).random(start + n)[start:]
            out[:, j] += jit * scale
        return np.clip(out, 0.0, np.nextafter(1.0, 0.0))


def initial_design_size(d: int, override: int | None = None) -> int:
    """Quasi-random trials before the GP takes over: d + 2, within [5, 8].

    The cap is low on purpose: in high dimension a dozen quasi-random points say little more
    about a function than eight do, while every one of them delays the model (benchmarks/README.md,
    "Stage 2": on 10-30 parameters, 8 points instead of 12 raised the score at 16 evaluations from
    about 0 to about 11 without a loss at 32 or 64). Spaces of up to 6 parameters are unaffected."""
    if override is not None:
        return max(1, int(override))
    return int(min(8, max(5, d + 2)))
