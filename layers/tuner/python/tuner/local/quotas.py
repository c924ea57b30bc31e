"""Account quotas of the local SageMaker stand-in (``tuner.local.sagemaker``): training job usage.

SageMaker counts the instances of the account's running training jobs against one quota per
instance type, "<instance type> for training job usage", and refuses a ``CreateTrainingJob`` that
would exceed it with ``ResourceLimitExceeded`` and the message ``quota_message`` writes
(docs/capacity.md has the sources). Managed spot jobs count against a separate quota ("... for
spot training job usage") that the stand-in does not model.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tuner.core.capacity import instances_by_type, quota_name

#: The error code SageMaker answers a request over an account quota with.
RESOURCE_LIMIT_EXCEEDED = "ResourceLimitExceeded"


def quota_message(quota: str, limit: int, utilization: int, delta: int) -> str:
    """SageMaker's ``ResourceLimitExceeded`` message, word for word."""
    return (
        f"The account-level service limit '{quota}' is {limit} Instances, with current utilization of "
        f"{utilization} Instances and a request delta of {delta} Instances. Please use AWS Service Quotas "
        "to request an increase for this quota. If AWS Service Quotas is not available, contact AWS "
        "support to request an increase for this quota."
    )


def _on_demand(request: Mapping[str, Any]) -> dict[str, int]:
    if request.get("EnableManagedSpotTraining"):
        return {}
    return instances_by_type(request.get("ResourceConfig") or {})


def usage(running: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Instances per type that the ``CreateTrainingJob`` requests of running jobs hold."""
    used: dict[str, int] = {}
    for request in running:
        for kind, count in _on_demand(request).items():
            used[kind] = used.get(kind, 0) + count
    return used


def refusal(quotas: Mapping[str, int], request: Mapping[str, Any], used: Mapping[str, int]) -> str | None:
    """SageMaker's message when ``request`` would take a type past its quota; None when it fits."""
    for kind, delta in _on_demand(request).items():
        limit = quotas.get(kind)
        if limit is not None and used.get(kind, 0) + delta > limit:
            return quota_message(quota_name(kind), limit, used.get(kind, 0), delta)
    return None


def full(request: Mapping[str, Any], used: Mapping[str, int]) -> str:
    """The message of a quota that is full right now (an injected fault): the request's first
    instance type, its limit what is in use but at least the request's delta (so a job of this
    size runs once capacity frees)."""
    kind, delta = next(iter(instances_by_type(request.get("ResourceConfig") or {}).items()), ("ml.m5.large", 1))
    limit = max(used.get(kind, 0), delta)
    return quota_message(quota_name(kind), limit, limit, delta)
