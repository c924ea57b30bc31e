"""A training job's record in the local SageMaker stand-in (see ``tuner.local.sagemaker``).

``_Job`` holds one job's request and state (status, secondary transitions, metrics, log lines,
process, tags) and renders the ``DescribeTrainingJob`` view and the state-change event ``detail``.
The Describe view is SageMaker's output shape (``tuner.shapes.validate_output`` finds no unknown
member in it): the job's tags are not part of it (``ListTags`` answers them), and
``OutputDataConfig.KmsKeyId`` is always there, ``""`` when the request gave no key.
"""
from __future__ import annotations

import copy
import math
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.core import arns

if TYPE_CHECKING:
    from tuner.local.sagemaker import LocalSageMaker

ACTIVE = ("InProgress", "Stopping")
TERMINAL = ("Completed", "Failed", "Stopped")
MAX_TAGS = 50  # tags per SageMaker resource (the TagList shape's max; AddTags beyond it is refused)
#: Managed spot in the stand-in: the share of the wall time billed. SageMaker bills spot capacity at
#: its spot price and reports the saving as a shorter ``BillableTimeInSeconds`` ("Managed Spot
#: Training", SageMaker developer guide: savings = (1 - Billable / Training time) x 100, "up to 90%");
#: the stand-in, which runs no spot market, applies a fixed 70% saving.
SPOT_BILLED_SHARE = 0.3
_EPOCH = datetime(1970, 1, 1)


def _now() -> datetime:
    """Naive UTC, like moto's own timestamps (so moto's list filters can compare them)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _millis(dt: datetime) -> int:
    return int((dt - _EPOCH).total_seconds() * 1000)


class _Job:
    """One training job. Stored in moto's ``training_jobs`` map so ``ListTrainingJobs`` works."""

    def __init__(self, owner: LocalSageMaker, request: dict[str, Any], account: str, region: str,
                 fault: str | None) -> None:
        self.owner = owner
        self.request = request
        self.account = account
        self.region = region
        self.fault = fault
        self.training_job_name: str = request["TrainingJobName"]
        self.arn = arns.training_job_arn(region, account, self.training_job_name)
        now = _now()
        self.creation_time = now
        self.last_modified_time = now
        self.training_start_time: datetime | None = None
        self.training_end_time: datetime | None = None
        self.training_job_status = "InProgress"
        self.secondary_status = "Starting"
        self.failure_reason: str | None = None
        self.model_artifacts: dict[str, str] | None = None
        self.secondary_transitions: list[dict[str, Any]] = [
            {"Status": "Starting", "StartTime": now,
             "StatusMessage": "Launching requested ML instances"}]
        self.final_metrics: list[dict[str, Any]] = []
        self.stop_requested = threading.Event()
        self.stop_reason: str | None = None  # "Stopped" (API) or "MaxRuntimeExceeded"
        self.process: subprocess.Popen[str] | None = None
        self.thread: threading.Thread | None = None
        self.pending_events: list[dict[str, Any]] = []
        self.lines: list[tuple[int, str, str]] = []  # (epoch ms, "stdout"|"stderr", text)
        self.shipped = 0
        self.log_stream: str | None = None
        self.job_dir: Path | None = None
        # ListTags / AddTags / DeleteTags (the stand-in's tag handlers; the state-change event's Tags)
        self.tags: list[dict[str, str]] = list({
            t["Key"]: {"Key": t["Key"], "Value": t.get("Value", "")}
            for t in request.get("Tags") or [] if isinstance(t, dict) and "Key" in t}.values())

    # -- moto compatibility -------------------------------------------------------------------
    @property
    def response_object(self) -> dict[str, Any]:
        return self.describe()

    @property
    def training_job_arn(self) -> str:
        return self.arn

    # -- views --------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        with self.owner._lock:
            r = self.request
            out: dict[str, Any] = {
                "TrainingJobName": self.training_job_name,
                "TrainingJobArn": self.arn,
                "TrainingJobStatus": self.training_job_status,
                "SecondaryStatus": self.secondary_status,
                "HyperParameters": dict(r.get("HyperParameters") or {}),
                "AlgorithmSpecification": copy.deepcopy(r.get("AlgorithmSpecification") or {}),
                "RoleArn": r.get("RoleArn"),
                "InputDataConfig": copy.deepcopy(r.get("InputDataConfig")),
                "OutputDataConfig": _output_data_config(r.get("OutputDataConfig")),
                "ResourceConfig": copy.deepcopy(r.get("ResourceConfig")),
                "VpcConfig": copy.deepcopy(r.get("VpcConfig")),
                "StoppingCondition": copy.deepcopy(r.get("StoppingCondition")),
                "CreationTime": self.creation_time,
                "TrainingStartTime": self.training_start_time,
                "TrainingEndTime": self.training_end_time,
                "LastModifiedTime": self.last_modified_time,
                "SecondaryStatusTransitions": copy.deepcopy(self.secondary_transitions),
                "FinalMetricDataList": copy.deepcopy(self.final_metrics),
                "EnableNetworkIsolation": bool(r.get("EnableNetworkIsolation", False)),
                "EnableInterContainerTrafficEncryption":
                    bool(r.get("EnableInterContainerTrafficEncryption", False)),
                "EnableManagedSpotTraining": bool(r.get("EnableManagedSpotTraining", False)),
                "CheckpointConfig": copy.deepcopy(r.get("CheckpointConfig")),
                "Environment": dict(r.get("Environment") or {}) or None,
                "RetryStrategy": copy.deepcopy(r.get("RetryStrategy")),
                "ExperimentConfig": copy.deepcopy(r.get("ExperimentConfig")),
                "DebugHookConfig": copy.deepcopy(r.get("DebugHookConfig")),
                "TensorBoardOutputConfig": copy.deepcopy(r.get("TensorBoardOutputConfig")),
                "ModelArtifacts": copy.deepcopy(self.model_artifacts),
                "FailureReason": self.failure_reason,
            }
            if self.training_start_time and self.training_end_time:
                wall = (self.training_end_time - self.training_start_time).total_seconds()
                out["TrainingTimeInSeconds"] = max(1, math.ceil(wall))
                out["BillableTimeInSeconds"] = billable_seconds(wall, bool(r.get("EnableManagedSpotTraining")))
            return {k: v for k, v in out.items() if v is not None}

    def event_detail(self) -> dict[str, Any]:
        """The ``detail`` of SageMaker's state-change event: times in epoch ms, Tags as a map."""
        d = self.describe()

        def conv(value: Any) -> Any:
            if isinstance(value, datetime):
                return _millis(value)
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        d = conv(d)
        with self.owner._lock:
            d["Tags"] = {t["Key"]: t.get("Value", "") for t in self.tags}
        d.setdefault("SecondaryStatusTransitions", [])
        return d

    # -- tags (the caller holds the owner's lock) ---------------------------------------------
    def add_tags(self, tags: list[dict[str, str]]) -> list[str]:
        """AddTags: set each tag (a key given again overwrites its value, in place). Returns the
        problems (empty: done; else nothing changed): SageMaker keeps at most ``MAX_TAGS``."""
        merged = {t["Key"]: t for t in self.tags}
        for t in tags:
            merged[t["Key"]] = {"Key": t["Key"], "Value": t.get("Value", "")}
        if len(merged) > MAX_TAGS:
            return [f"the training job would have {len(merged)} tags; a SageMaker resource has at "
                    f"most {MAX_TAGS}: delete some first (DeleteTags)"]
        self.tags = list(merged.values())
        return []

    def delete_tags(self, keys: list[str]) -> None:
        """DeleteTags: remove the tags with these keys (a key the job does not have is ignored)."""
        gone = set(keys)
        self.tags = [t for t in self.tags if t["Key"] not in gone]


def billable_seconds(wall_seconds: float, spot: bool) -> int:
    """``BillableTimeInSeconds`` of a job whose Training phase (``TrainingStartTime`` to
    ``TrainingEndTime``) took ``wall_seconds``: rounded up to whole seconds, at least 1; with managed
    spot, ``SPOT_BILLED_SHARE`` of it, rounded up."""
    wall = max(0.0, wall_seconds)
    return max(1, math.ceil(wall * SPOT_BILLED_SHARE if spot else wall))


def _output_data_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The request's ``OutputDataConfig`` as DescribeTrainingJob shows it: with ``KmsKeyId``.

    SageMaker answers ``"KmsKeyId": ""`` when the request named no key (it then encrypts with the
    account's default S3 key, whose id it does not show). Seen in real DescribeTrainingJob
    responses, e.g. the one printed in github.com/thamizhannal/END3.0 ("Session 13 - AWS Sagemaker
    and large-scale Model Training", README: ``'OutputDataConfig': {'KmsKeyId': '', 'S3OutputPath':
    ...}``), and what the SageMaker Python SDK itself fills in when a tuning job's definition lacks
    it (``sagemaker/tuner.py``, ``_prepare_estimator_from_job_description``). The SDK's
    ``EstimatorBase._prepare_init_params_from_job_description`` (``attach``, ``best_estimator``)
    reads the member unconditionally. botocore's ``KmsKeyId`` shape allows the empty string (min 0).
    """
    if config is None:
        return None
    out = copy.deepcopy(config)
    out.setdefault("KmsKeyId", "")
    return out
