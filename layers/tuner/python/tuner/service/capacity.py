"""A trial whose training job an account quota refused: wait for capacity, or fail the tuning job.

``ResourceLimitExceeded`` from ``CreateTrainingJob`` is an account quota, "<instance type> for
training job usage" (``docs/capacity.md``), not a rate: retrying it for a minute does not help.
The adapter parses SageMaker's message into ``ResourceLimitExceededError`` (quota, limit,
utilization, delta); this use case decides:

* the quota is smaller than what one training job of the definition needs: no trial can ever
  start, so the error is raised again with what to raise in Service Quotas; the lap's catch
  (``LapFailed``) fails the tuning job with it, as it does any error nothing retries;
* otherwise other running jobs hold the quota: the lap waits in the state machine (NextTrial
  answers ``CapacityWaitSeconds``, the ``CapacityWait`` state waits that long, NextTrial runs again
  for the same lap iteration, so for the same claimed trial), with ``CapacityWait``'s capped
  backoff, until the trial starts, the job ends, or the wait gives up (the job fails);
* a lap whose waits would overflow its Step Functions history fails the job the same way.

What the wait needs to survive a step that runs twice is on the trial: ``capacity_since`` (its first
refusal; the backoff derives from it) and ``capacity_waits``. No training job is created twice: the
trial keeps its deterministic name, and a start that finds its job existing is a retried start.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tuner.core.capacity import CapacityWait, describe_refusal, instances_needed
from tuner.core.laps import capacity_waits_allowed
from tuner.core.records import TrialRecord
from tuner.core.request import Definition, TuningRequest
from tuner.errors import ResourceLimitExceededError
from tuner.service.ports import Ports, iso

log = logging.getLogger(__name__)

#: Where a user raises the quota.
SERVICE_QUOTAS = "Service Quotas (Amazon SageMaker)"


class CapacityWaits:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    def refused(
        self,
        req: TuningRequest,
        definition: Definition,
        trial: TrialRecord,
        refusal: ResourceLimitExceededError,
        policy: CapacityWait,
        lap_trials: int | None,
    ) -> dict[str, Any]:
        """The lap's next move after ``refusal`` of ``trial``'s training job: ``{Done: False,
        TrialNumber, CapacityWaitSeconds, Reason}``. Raises ``ResourceLimitExceededError`` (the
        tuning job fails with its message) when waiting cannot help or may not go on."""
        needed = instances_needed(definition.resource_config(), refusal.quota) or refusal.delta
        quota = f"'{refusal.quota}'" if refusal.quota else "the quota SageMaker names"
        if refusal.limit is not None and needed is not None and refusal.limit < needed:
            raise self._failure(
                refusal,
                f"CreateTrainingJob {trial.training_job_name} can never start: {refusal.sagemaker_message} "
                f"One training job of this definition needs {needed} instances; raise {quota} in {SERVICE_QUOTAS}"
                f" to at least {needed} ({needed * req.max_parallel} to run "
                f"MaxParallelTrainingJobs = {req.max_parallel} at once), or lower InstanceCount.",
            )
        now = self.ports.clock()
        since = datetime.fromisoformat(trial.capacity_since) if trial.capacity_since else now
        waited = (now - since).total_seconds()
        if policy.gives_up(waited):
            raise self._failure(
                refusal,
                f"CreateTrainingJob {trial.training_job_name} (trial {trial.number}) was refused for capacity for "
                f"{waited:.0f} s, the tuner's limit ({policy.give_up} s): {refusal.sagemaker_message} "
                f"Raise {quota} in {SERVICE_QUOTAS} or run fewer training jobs of this instance type at "
                "once.",
            )
        # Every trial of the lap counts, recorded ones too (its history holds their waits): the list,
        # whose recorded trials the store keeps (a warm container reads only the open ones again).
        lap_waits = sum(t.capacity_waits for t in self.ports.store.list_trials(trial.job) if t.lap == trial.lap)
        allowed = capacity_waits_allowed(lap_trials)
        if lap_waits >= allowed:
            raise self._failure(
                refusal,
                f"lap {trial.lap} has waited for capacity {lap_waits} times, as many as its Step Functions "
                f"history holds beside its trials ({allowed}): {refusal.sagemaker_message} Raise "
                f"{quota} in {SERVICE_QUOTAS} or lower MaxParallelTrainingJobs to what it admits.",
            )
        seconds = policy.wait_seconds(waited)
        self.ports.store.update_trial(
            trial.job, trial.number, only_unrecorded=True, capacity_since=iso(since),
            capacity_waits=trial.capacity_waits + 1, task_token=None,  # the lap waits on no job
        )
        reason = describe_refusal(refusal.quota, refusal.limit, refusal.utilization, refusal.delta)
        log.info(
            "tuning job %s lap %s trial %s: %s refused by %s; waiting %d s (refused for %.0f s)",
            trial.job, trial.lap, trial.number, trial.training_job_name, reason, seconds, waited,
        )
        return {
            "Done": False,
            "TrialNumber": trial.number,
            "CapacityWaitSeconds": seconds,
            "Reason": f"capacity: {reason}",
        }

    @staticmethod
    def _failure(refusal: ResourceLimitExceededError, message: str) -> ResourceLimitExceededError:
        return ResourceLimitExceededError(
            message, quota=refusal.quota, limit=refusal.limit, utilization=refusal.utilization,
            delta=refusal.delta, sagemaker_message=refusal.sagemaker_message,
        )
