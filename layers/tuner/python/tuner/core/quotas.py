"""AMT's quotas on tuning jobs, as settings of one deployment of the tuner (pure).

SageMaker applies default quotas to Automatic Model Tuning (SageMaker developer guide, "Resource
Limits for Automatic Model Tuning"; the account's values are in the AWS General Reference, "Amazon
SageMaker endpoints and quotas"):

=====================================================================  =======  ===================
resource                                                               default  can be increased to
=====================================================================  =======  ===================
Number of parallel (concurrent) hyperparameter tuning jobs             100      N/A
Number of parallel training jobs per hyperparameter tuning job         10       100
[Bayesian optimization] Number of training jobs per tuning job         750      N/A
[Random search] Number of training jobs per tuning job                 750      10000
[Hyperband] Number of training jobs per tuning job                     750      N/A
[Grid] Number of training jobs per tuning job, either specified
explicitly or inferred from the search space                           750      N/A
=====================================================================  =======  ===================

``CreateHyperParameterTuningJob`` over them is refused. This tuner keeps the same quotas with
AMT's defaults, each a setting of the deployment (``SETTINGS``: the ``TunerConstruct`` prop, the
CDK context key and the create_job Lambda's environment variable that carry it; docs/quotas.md):

* ``Quotas.check``: the quotas one request can break (``MaxParallelTrainingJobs``; the job count:
  ``MaxNumberOfTrainingJobs``, or for Grid the number of combinations whether given or inferred;
  Hyperband counts as given: every trial starts with the full budget). Applied when a job is
  created (``tuner.service.create.check_request``), never when a stored job is read again: a job
  created under a deployment's raised limits keeps running after they are lowered.
* ``Quotas.concurrent_refusal``: the refusal when the deployment runs ``max_concurrent_tuning_jobs``
  tuning jobs already (the slot itself is taken atomically in the store: ``Store.take_job_slot``).

A setting can be raised up to ``Setting.ceiling``: AMT's highest value where it has one, else the
envelope this design is built for (10,000 training jobs, 100 in parallel: ARCHITECTURE.md).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from tuner import constants
from tuner.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover - the request model imports numpy; the stack imports this module
    from tuner.core.request import TuningRequest

_LIMITS = "HyperParameterTuningJobConfig.ResourceLimits"
#: The error code AMT answers a request over an account quota with (SageMaker's own word).
RESOURCE_LIMIT_EXCEEDED = "ResourceLimitExceeded"


@dataclass(frozen=True)
class Setting:
    """One quota as a deployment setting."""

    prop: str  # the TunerConstruct prop (and the ``Quotas`` field)
    context: str  # the CDK context key
    environment: str  # the create_job Lambda's environment variable
    quota: str  # AMT's name for it ("Resource Limits for Automatic Model Tuning")
    amt_default: int
    ceiling: int | None  # the highest value the deployment takes (None: no bound)
    unit: str  # what is counted, for messages

    def how_to_raise(self) -> str:
        return f"the construct prop {self.prop} or the CDK context {self.context}"

    def amt(self) -> str:
        """AMT's default (and how far it goes), for messages."""
        top = f"; at most {self.ceiling} here" if self.ceiling is not None else ""
        return f"AMT's default quota: {self.amt_default}{top}"


SETTINGS: dict[str, Setting] = {
    s.prop: s
    for s in (
        Setting(
            "max_parallel_training_jobs",
            constants.CTX_MAX_PARALLEL_TRAINING_JOBS,
            constants.ENV_MAX_PARALLEL_TRAINING_JOBS,
            "Number of parallel training jobs per hyperparameter tuning job",
            10,
            100,
            "parallel training jobs per tuning job",
        ),
        Setting(
            "max_training_jobs",
            constants.CTX_MAX_TRAINING_JOBS,
            constants.ENV_MAX_TRAINING_JOBS,
            "Number of training jobs per hyperparameter tuning job (Bayesian, Hyperband, Grid)",
            750,
            10_000,
            "training jobs per tuning job",
        ),
        Setting(
            "max_random_training_jobs",
            constants.CTX_MAX_RANDOM_TRAINING_JOBS,
            constants.ENV_MAX_RANDOM_TRAINING_JOBS,
            "[Random search] Number of training jobs per hyperparameter tuning job",
            750,
            10_000,
            "training jobs per tuning job",
        ),
        Setting(
            "max_concurrent_tuning_jobs",
            constants.CTX_MAX_CONCURRENT_TUNING_JOBS,
            constants.ENV_MAX_CONCURRENT_TUNING_JOBS,
            "Number of parallel (concurrent) hyperparameter tuning jobs",
            100,
            None,
            "tuning jobs running at once",
        ),
    )
}


def check_setting(prop: str, value: object) -> int:
    """``value`` as the setting ``prop`` takes it: a whole number from 1 to its ceiling (ValueError)."""
    s = SETTINGS[prop]
    top = f" to {s.ceiling}" if s.ceiling is not None else " or more"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (s.ceiling and value > s.ceiling):
        raise ValueError(f"{prop}={value!r}: give a whole number from 1{top} ({s.unit}; {s.amt()})")
    return value


@dataclass(frozen=True)
class Quotas:
    """One deployment's quotas; the defaults are AMT's."""

    max_parallel_training_jobs: int = SETTINGS["max_parallel_training_jobs"].amt_default
    max_training_jobs: int = SETTINGS["max_training_jobs"].amt_default
    max_random_training_jobs: int = SETTINGS["max_random_training_jobs"].amt_default
    max_concurrent_tuning_jobs: int = SETTINGS["max_concurrent_tuning_jobs"].amt_default

    def __post_init__(self) -> None:
        for f in fields(self):
            check_setting(f.name, getattr(self, f.name))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Quotas | None:
        """The quotas the stack set in ``environ`` (each one absent: AMT's default); None when it
        sets none (not a create_job Lambda, or an older deployment)."""
        given = [s for s in SETTINGS.values() if environ.get(s.environment)]
        if not given:
            return None
        values: dict[str, int] = {}
        for s in given:
            raw = environ[s.environment]
            try:
                values[s.prop] = int(raw)
            except ValueError:
                why = f"not a whole number (the stack sets it from {s.prop})"
                raise ValueError(f"{s.environment}={raw!r}: {why}") from None
        return cls(**values)

    def environment(self) -> dict[str, str]:
        """The create_job Lambda's environment variables that carry these quotas."""
        return {s.environment: str(getattr(self, s.prop)) for s in SETTINGS.values()}

    def check(self, req: TuningRequest) -> None:
        """Refuse a request over a per-job quota (``ValidationError`` naming the quota, the value
        asked, the limit and the setting that raises it)."""
        jobs = SETTINGS["max_random_training_jobs" if req.strategy == "Random" else "max_training_jobs"]
        limit = getattr(self, jobs.prop)
        if req.max_jobs > limit:
            if req.strategy == "Grid":  # AMT: "either specified explicitly or inferred from the search space"
                asked = f"Grid search runs every combination of the categorical values, {req.max_jobs} training jobs,"
                fix = "list fewer values"
            else:
                asked = f"{req.max_jobs} is"
                fix = "lower it"
            raise ValidationError(
                f"{asked} over this deployment's limit of {limit} {jobs.unit} for the {req.strategy} strategy "
                f"({jobs.amt()}); {fix}, or raise the limit with {jobs.how_to_raise()}",
                f"{_LIMITS}.MaxNumberOfTrainingJobs",
            )
        parallel = SETTINGS["max_parallel_training_jobs"]
        if req.max_parallel > self.max_parallel_training_jobs:
            raise ValidationError(
                f"{req.max_parallel} is over this deployment's limit of {self.max_parallel_training_jobs} "
                f"{parallel.unit} ({parallel.amt()}); lower it, or raise the limit with {parallel.how_to_raise()}",
                f"{_LIMITS}.MaxParallelTrainingJobs",
            )

    def concurrent_refusal(self, in_use: int) -> ValidationError:
        """The refusal of a tuning job when ``in_use`` jobs hold every slot, in the words of AMT's
        ``ResourceLimitExceeded`` ("The account-level service limit '...' is N ..."), naming the
        setting that raises it. A refused request (``tuner.errors.REQUEST_ERRORS``) with AMT's code."""
        s = SETTINGS["max_concurrent_tuning_jobs"]
        limit = self.max_concurrent_tuning_jobs
        return ValidationError(
            f"The deployment-level service limit '{s.quota}' is {limit} Jobs, with current utilization of "
            f"{in_use} Jobs and a request delta of 1 Jobs. Wait for a running tuning job to end (or stop one), "
            f"or raise the limit with {s.how_to_raise()} ({s.amt()})",
            code=RESOURCE_LIMIT_EXCEEDED,
        )


#: AMT's default quotas: what ``tuner validate`` checks and a deployment without the settings runs.
AMT_QUOTAS = Quotas()
