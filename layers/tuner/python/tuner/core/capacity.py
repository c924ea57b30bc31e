"""Account quotas on training instances, and how long a lap waits for capacity (pure).

SageMaker counts the instances of running training jobs against an account-level quota per
instance type, "<instance type> for training job usage" (Service Quotas); ``CreateTrainingJob``
over it fails with ``ResourceLimitExceeded`` and a message naming the quota, its value, the
current utilization and the request's delta (``docs/capacity.md``). ``tuner.aws.sagemaker``
parses that message; ``tuner.service.capacity`` decides what a refused trial does, with the
numbers here:

* ``instances_needed``: how many instances one training job of a definition takes from a quota;
  a quota smaller than that can never admit the job (the tuning job fails at once);
* ``CapacityWait``: otherwise the trial waits, in the state machine (a ``Wait`` state), for
  ``wait_seconds(waited)`` and tries again; the tuning job gives up after ``give_up`` seconds.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The quota's name is "<instance type><suffix>" (on-demand) or with "spot training job usage".
TRAINING_QUOTA_SUFFIX = " for training job usage"
SPOT_TRAINING_QUOTA_SUFFIX = " for spot training job usage"


def instances_by_type(resource_config: Mapping[str, Any]) -> dict[str, int]:
    """``{instance type: instances}`` of one training job's ``ResourceConfig`` (``InstanceType`` and
    ``InstanceCount``, or each of its ``InstanceGroups``; a missing count is 1)."""
    groups = resource_config.get("InstanceGroups") or [resource_config]
    out: dict[str, int] = {}
    for group in groups:
        kind = group.get("InstanceType")
        if kind:
            out[str(kind)] = out.get(str(kind), 0) + int(group.get("InstanceCount") or 1)
    return out


def quota_name(instance_type: str, *, spot: bool = False) -> str:
    """The Service Quotas name of a training instance type's quota, as SageMaker's message spells it."""
    return instance_type + (SPOT_TRAINING_QUOTA_SUFFIX if spot else TRAINING_QUOTA_SUFFIX)


def quota_instance_type(quota: str | None) -> str | None:
    """The instance type a quota name is about (``"ml.m5.xlarge for training job usage"`` ->
    ``"ml.m5.xlarge"``); None for a quota of every type (e.g. a total instance count)."""
    head = (quota or "").split(" ", 1)[0]
    if head.startswith("ml."):
        return head
    if head.startswith("training-job/ml."):  # the older wording: "limit for training-job/ml.p2.xlarge"
        return head.split("/", 1)[1]
    return None


def instances_needed(resource_config: Mapping[str, Any], quota: str | None) -> int | None:
    """How many instances of ``quota`` one training job of ``resource_config`` takes: those of the
    quota's instance type, or all of them for a quota without one. None when the job has none of
    that type (the quota is not about this job's instances: the caller uses SageMaker's delta)."""
    by_type = instances_by_type(resource_config)
    kind = quota_instance_type(quota)
    if kind is None:
        return sum(by_type.values()) or None
    return by_type.get(kind)


@dataclass(frozen=True)
class CapacityWait:
    """How a trial refused for capacity waits: ``first`` seconds, then the time waited so far plus
    ``first`` (30, 60, 120, 240 s with the defaults: doubling), each wait at most ``cap``; a refusal
    ``give_up`` seconds after the first fails the tuning job (the last wait is cut to end there).
    Whole seconds (a ``Wait`` state's ``SecondsPath`` takes an integer).

    The next wait derives from the time of the trial's first refusal, not from a count of
    refusals, so a step that runs twice (a Lambda retried, an event delivered twice) does not
    shorten or lengthen the schedule.
    """

    first: int = 30
    cap: int = 300
    give_up: int = 86_400

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.cap:
            raise ValueError(f"capacity wait: give 1 <= first ({self.first}) <= cap ({self.cap}) seconds")
        if self.give_up < self.first:
            raise ValueError(f"capacity wait: give_up ({self.give_up} s) must be at least first ({self.first} s)")

    def wait_seconds(self, waited: float) -> int:
        """The next wait after ``waited`` seconds since the first refusal (0 at the first refusal);
        the last one ends at ``give_up``, when the next refusal gives up."""
        waited = math.ceil(max(0.0, waited))
        return int(max(1, min(self.cap, self.first + waited, self.give_up - waited)))

    def gives_up(self, waited: float) -> bool:
        """True once the trial has been refused for ``give_up`` seconds."""
        return waited >= self.give_up

    def to_payload(self) -> dict[str, int]:
        """What the state machine passes to NextTrial (``CapacityWait`` in its payload)."""
        return {"FirstSeconds": self.first, "MaxSeconds": self.cap, "GiveUpSeconds": self.give_up}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> CapacityWait:
        """The policy NextTrial was given; the defaults for a definition deployed before it had one."""
        if not payload:
            return cls()
        default = cls()
        return cls(
            first=int(payload.get("FirstSeconds", default.first)),
            cap=int(payload.get("MaxSeconds", default.cap)),
            give_up=int(payload.get("GiveUpSeconds", default.give_up)),
        )


def describe_refusal(quota: str | None, limit: int | None, utilization: int | None, delta: int | None) -> str:
    """One line for logs and the lap's result: ``'<quota>' 2/2 in use, 1 requested``."""
    numbers = "" if limit is None else f" {utilization}/{limit} in use, {delta} requested"
    return f"'{quota or 'an account quota'}'{numbers}"
