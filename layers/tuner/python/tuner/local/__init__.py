"""Offline harness: moto deployment, local SageMaker stand-in, in-process Lambdas.

``tuner.local.offline_client()`` (a context manager) yields the boto3-style ``TunerClient`` bound
to the offline loop: see ``tuner.local.offline``.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # lazy: the Lambdas import tuner.local.* without moto
    if name in ("offline_client", "OfflineTunerClient"):
        from tuner.local import offline

        return getattr(offline, name)
    raise AttributeError(name)


__all__ = ["OfflineTunerClient", "offline_client"]
