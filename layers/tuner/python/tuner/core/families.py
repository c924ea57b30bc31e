"""Tuning families: a named retuning policy, and the next tuning job it starts (pure).

A *family* is stored once and retuned many times (on a schedule, when new data lands, on request).
Each retune is a ``CreateHyperParameterTuningJob`` request built by ``next_request`` from:

* the family's ``BaseRequest`` (any valid request; its ``HyperParameterTuningJobName`` and
  ``WarmStartConfig`` are replaced),
* the time (the job is named ``<family>-<yyyymmddHHMMSS>``, UTC, within SageMaker's 32-character
  rule: a family name longer than 17 characters is cut to 12 and given a 4-hex-digit hash),
* the family's earlier tuning jobs that are terminal (``ParentSummary``): the latest ``MaxParents``
  (1-5, AMT's limit) Completed or Stopped ones become ``WarmStartConfig`` parents,
* the family's ``Budget`` (``MaxNumberOfTrainingJobs`` / ``MaxParallelTrainingJobs`` of the
  warm-started runs; the first run keeps the base request's limits) and its dollar limits
  (``MaxSpendUSDPerRun``, ``MaxSpendUSDPerMonth``): every run gets the budget tag
  ``tuner:MaxSpendUSD`` (``tuner.core.budget``) set to the least of the run limit, the base
  request's own tag and what the calendar month (UTC) has left (``run_budget``); a month that has
  nothing left refuses the retune (``FamilyBudgetSpentError``),
* ``Narrowing``: ``{"Mode": "Off"}`` or ``{"Mode": "Factor", "Factor": f}`` with 0 < f < 1: every
  numeric range of the base request shrinks to the fraction ``f`` of its width on its own scaled
  axis (log ranges on the log axis), centred on the best parent's best value and shifted to stay
  inside the base range. Always relative to the base ranges, so retunes never compound the cut;
  categorical ranges are kept.
* per-retune ``Overrides`` (``RETUNE_OVERRIDES``), e.g. from a "Retune Requested" event.

Plain dicts in, plain dicts out: no boto3, no clock (the caller passes ``now``).
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tuner import constants
from tuner.core.budget import TOLERANCE as BUDGET_TOLERANCE
from tuner.core.budget import budget_of, set_tags
from tuner.core.naming import MAX_ENDPOINT_NAME, is_valid_name, name_pattern
from tuner.core.objective import job_maximizes
from tuner.core.request import MAX_NAME_LENGTH, MAX_WARM_START_PARENTS, WARM_START_TYPES, parse_request
from tuner.core.space import CATEGORICAL, INTEGER, RANGE_KEYS, Param, param_from_range
from tuner.errors import TuningError, ValidationError

FAMILY_NAME_PATTERN = name_pattern(MAX_ENDPOINT_NAME)  # a family names its jobs and endpoint
FAMILY_TAG = constants.FAMILY_TAG
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
_STAMP = 14  # len("yyyymmddHHMMSS")
_SHORT_PREFIX = 12
NARROWING_MODES = ("Off", "Factor")
MARGIN_TYPES = ("Absolute", "Relative")
PARENT_STATUSES = ("Completed", "Stopped")  # terminal and with trials to learn from
TERMINAL = ("Completed", "Failed", "Stopped")
FAMILY_KEYS = {
    "FamilyName",
    "Description",
    "BaseRequest",
    "WarmStartType",
    "Budget",
    "Narrowing",
    "MaxParents",
    "AutoDeploy",
    "OverrideLimits",
}
BUDGET_KEYS = ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs")
#: The family's dollar limits (``Budget`` members beside the counts): per run and per calendar month
#: (UTC; a run counts in the month its job was created).
SPEND_PER_RUN, SPEND_PER_MONTH = "MaxSpendUSDPerRun", "MaxSpendUSDPerMonth"
SPEND_KEYS = (SPEND_PER_RUN, SPEND_PER_MONTH)
MONTH_FORMAT = "%Y-%m"
RETUNE_OVERRIDES = {
    "MaxNumberOfTrainingJobs",
    "MaxParallelTrainingJobs",
    "MaxRuntimeInSeconds",
    "WarmStartType",
    "Narrowing",
    "MaxParents",
    "RandomSeed",
    "StaticHyperParameters",
}


#: What a family's ``OverrideLimits`` may set: the largest count a retune may ask for, and the
#: static hyperparameters a retune may change.
OVERRIDE_LIMIT_KEYS = ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs", "MaxRuntimeInSeconds",
                       "StaticHyperParameters")
#: Hyperparameters that choose the code and how it runs (script mode, AMT's reserved objective):
#: never overridden unless the family lists them in ``OverrideLimits.StaticHyperParameters``.
RESERVED_HYPERPARAMETER_PREFIXES = ("sagemaker_", "_")


class FamilyNotFoundError(TuningError):
    """No tuning family with this name is registered."""


class FamilyBusyError(TuningError):
    """A retune of this family is still running; families retune one job at a time."""


class FamilyBudgetSpentError(TuningError):
    """The family's ``MaxSpendUSDPerMonth`` is spent for this calendar month: no retune starts."""


@dataclass(frozen=True)
class Narrowing:
    mode: str = "Off"
    factor: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"Mode": self.mode} if self.mode == "Off" else {"Mode": self.mode, "Factor": self.factor}


@dataclass(frozen=True)
class AutoDeploy:
    """Deploy the new best model when it beats the family's previous best by ``margin``."""

    endpoint_name: str
    margin: float = 0.0
    margin_type: str = "Absolute"
    instance_type: str = "ml.m5.large"
    initial_instance_count: int = 1
    execution_role_arn: str | None = None  # default: the best training job's RoleArn

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "Margin": self.margin,
            "MarginType": self.margin_type,
            "InstanceType": self.instance_type,
            "InitialInstanceCount": self.initial_instance_count,
        }
        if self.execution_role_arn:
            out["ExecutionRoleArn"] = self.execution_role_arn
        return out


@dataclass(frozen=True)
class Family:
    name: str
    base_request: dict[str, Any]
    warm_start_type: str = "IdenticalDataAndAlgorithm"
    budget: dict[str, int] = field(default_factory=dict)  # the ResourceLimits of warm-started runs
    spend: dict[str, float] = field(default_factory=dict)  # MaxSpendUSDPerRun / MaxSpendUSDPerMonth
    narrowing: Narrowing = Narrowing()
    max_parents: int = MAX_WARM_START_PARENTS
    auto_deploy: AutoDeploy | None = None
    description: str = ""
    override_limits: dict[str, Any] = field(default_factory=dict)  # OverrideLimits, as given

    @property
    def maximize(self) -> bool:
        return job_maximizes(self.base_request)

    def to_json(self) -> dict[str, Any]:
        """The family as registered (``parse_family(f.to_json()) == f``)."""
        out: dict[str, Any] = {
            "FamilyName": self.name,
            "BaseRequest": copy.deepcopy(self.base_request),
            "WarmStartType": self.warm_start_type,
            "Budget": {**self.budget, **self.spend},
            "Narrowing": self.narrowing.to_json(),
            "MaxParents": self.max_parents,
        }
        if self.description:
            out["Description"] = self.description
        if self.auto_deploy is not None:
            out["AutoDeploy"] = self.auto_deploy.to_json()
        if self.override_limits:
            out["OverrideLimits"] = copy.deepcopy(self.override_limits)
        return out


@dataclass(frozen=True)
class ParentSummary:
    """One earlier tuning job of the family, as the service read it from the store.

    ``best_params``/``best_value``: the job's best training job (``None`` when nothing scored)."""

    name: str
    status: str
    created: str
    best_params: Mapping[str, str] | None = None
    best_value: float | None = None


# ---- validation -------------------------------------------------------------------------------
def _int_in(value: Any, lo: int, hi: int | None, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{value!r} is not a whole number", path)
    if value < lo or (hi is not None and value > hi):
        raise ValidationError(f"{value} is outside {lo}..{hi if hi is not None else 'inf'}", path)
    return value


def _narrowing(value: Any, path: str = "Narrowing") -> Narrowing:
    if value is None:
        return Narrowing()
    if not isinstance(value, Mapping):
        raise ValidationError('give {"Mode": "Off"} or {"Mode": "Factor", "Factor": 0.5}', path)
    mode = value.get("Mode", "Off")
    if mode not in NARROWING_MODES:
        raise ValidationError(f"Mode {mode!r} is not one of {list(NARROWING_MODES)}", f"{path}.Mode")
    if mode == "Off":
        return Narrowing()
    factor = value.get("Factor")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise ValidationError(
            f"Factor {factor!r} must be a number between 0 and 1 (the kept fraction of each range's width)",
            f"{path}.Factor",
        )
    return Narrowing("Factor", float(factor))


def _auto_deploy(value: Any, path: str = "AutoDeploy") -> AutoDeploy | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError("give an object with EndpointName (and Margin, InstanceType, ...)", path)
    unknown = sorted(
        set(value)
        - {"EndpointName", "Margin", "MarginType", "InstanceType", "InitialInstanceCount", "ExecutionRoleArn"}
    )
    if unknown:
        raise ValidationError(f"unknown members {unknown}", path)
    endpoint = value.get("EndpointName")
    if not isinstance(endpoint, str) or not is_valid_name(endpoint, MAX_ENDPOINT_NAME):
        raise ValidationError(
            f"{endpoint!r} is not a SageMaker endpoint name (1-63 letters, digits, -)", f"{path}.EndpointName"
        )
    margin = value.get("Margin", 0.0)
    if (
        isinstance(margin, bool)
        or not isinstance(margin, (int, float))
        or margin < 0
        or not math.isfinite(margin)
    ):
        raise ValidationError(f"Margin {margin!r} must be a number >= 0", f"{path}.Margin")
    margin_type = value.get("MarginType", "Absolute")
    if margin_type not in MARGIN_TYPES:
        raise ValidationError(f"{margin_type!r} is not one of {list(MARGIN_TYPES)}", f"{path}.MarginType")
    role = value.get("ExecutionRoleArn")
    if role is not None and not (isinstance(role, str) and role.startswith("arn:") and ":role/" in role):
        raise ValidationError(f"{role!r} is not an IAM role ARN", f"{path}.ExecutionRoleArn")
    return AutoDeploy(
        endpoint_name=endpoint,
        margin=float(margin),
        margin_type=margin_type,
        instance_type=str(value.get("InstanceType", "ml.m5.large")),
        initial_instance_count=_int_in(
            value.get("InitialInstanceCount", 1), 1, None, f"{path}.InitialInstanceCount"
        ),
        execution_role_arn=role,
    )


def parse_family(spec: Mapping[str, Any]) -> Family:
    """Validate a family definition (JSON object); raises ``ValidationError`` naming the member."""
    if not isinstance(spec, Mapping):
        raise ValidationError("a tuning family is a JSON object with FamilyName and BaseRequest")
    unknown = sorted(set(spec) - FAMILY_KEYS)
    if unknown:
        raise ValidationError(f"unknown members {unknown}; allowed: {sorted(FAMILY_KEYS)}")
    name = spec.get("FamilyName")
    if not isinstance(name, str) or not FAMILY_NAME_PATTERN.fullmatch(name):
        raise ValidationError(f"{name!r} is not a family name (1-63 letters, digits and -)", "FamilyName")
    base = spec.get("BaseRequest")
    if not isinstance(base, Mapping):
        raise ValidationError("give the CreateHyperParameterTuningJob request to retune", "BaseRequest")
    base = copy.deepcopy(dict(base))
    base.pop("WarmStartConfig", None)  # the family sets it on every retune
    base["HyperParameterTuningJobName"] = family_job_name(name, datetime(2000, 1, 1, tzinfo=UTC))
    try:
        req = parse_request(base)
    except ValidationError as err:
        raise ValidationError(str(err), "BaseRequest") from None
    if req.multi_definition:
        raise ValidationError(
            "warm start takes one TrainingJobDefinition; families cannot retune several",
            "BaseRequest.TrainingJobDefinitions",
        )
    warm = spec.get("WarmStartType", "IdenticalDataAndAlgorithm")
    if warm not in WARM_START_TYPES:
        raise ValidationError(f"{warm!r} is not one of {list(WARM_START_TYPES)}", "WarmStartType")
    budget_in = spec.get("Budget") or {}
    if not isinstance(budget_in, Mapping):
        raise ValidationError(f"give an object with some of {[*BUDGET_KEYS, *SPEND_KEYS]}", "Budget")
    unknown = sorted(set(budget_in) - {*BUDGET_KEYS, *SPEND_KEYS})
    if unknown:
        raise ValidationError(f"unknown members {unknown}; allowed: {[*BUDGET_KEYS, *SPEND_KEYS]}", "Budget")
    budget = {k: _int_in(v, 1, None, f"Budget.{k}") for k, v in budget_in.items() if k in BUDGET_KEYS}
    spend = {k: _usd(v, f"Budget.{k}") for k, v in budget_in.items() if k in SPEND_KEYS}
    max_parents = _int_in(
        spec.get("MaxParents", MAX_WARM_START_PARENTS), 1, MAX_WARM_START_PARENTS, "MaxParents"
    )
    description = spec.get("Description", "")
    if not isinstance(description, str) or len(description) > 1024:
        raise ValidationError("a string of at most 1024 characters", "Description")
    base.pop("HyperParameterTuningJobName")
    family = Family(
        name=name,
        base_request=base,
        warm_start_type=warm,
        budget=budget,
        spend=spend,
        narrowing=_narrowing(spec.get("Narrowing")),
        max_parents=max_parents,
        auto_deploy=_auto_deploy(spec.get("AutoDeploy")),
        description=description,
        override_limits=_override_limits(spec.get("OverrideLimits")),
    )
    _check_limits(family.base_request, budget, "Budget")
    try:
        budget_of(family.base_request.get("Tags"))  # the base request's own budget tags, if any
    except ValidationError as err:
        raise ValidationError(str(err), "BaseRequest.Tags") from None
    return family


def _usd(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{value!r} is not a positive number of US dollars (e.g. 25 or 7.5)", path)
    return float(value)


def _override_limits(value: Any) -> dict[str, Any]:
    """``OverrideLimits``: ceilings of the counts a retune may ask for, and the static
    hyperparameters it may change (by name)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"give an object with some of {list(OVERRIDE_LIMIT_KEYS)}", "OverrideLimits")
    unknown = sorted(set(value) - set(OVERRIDE_LIMIT_KEYS))
    if unknown:
        raise ValidationError(f"unknown members {unknown}; allowed: {list(OVERRIDE_LIMIT_KEYS)}", "OverrideLimits")
    out: dict[str, Any] = {k: _int_in(v, 1, None, f"OverrideLimits.{k}") for k, v in value.items()
                           if k != "StaticHyperParameters"}
    names = value.get("StaticHyperParameters")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ValidationError("a list of hyperparameter names", "OverrideLimits.StaticHyperParameters")
        out["StaticHyperParameters"] = list(names)
    return out


def bound_overrides(family: Family, overrides: Mapping[str, Any]) -> None:
    """Refuse overrides beyond what the family allows (a retune request is anyone's who may send
    one: it must not bring new code, or more jobs than the family planned).

    * A count (``MaxNumberOfTrainingJobs``, ``MaxParallelTrainingJobs``, ``MaxRuntimeInSeconds``)
      may be at most ``OverrideLimits``' ceiling; without one, at most the larger of the base
      request's and the ``Budget``'s value (an override may shrink a run, not grow it). A runtime
      limit the base request does not have may always be added.
    * ``StaticHyperParameters`` may set only the names ``OverrideLimits.StaticHyperParameters``
      lists; without that list, any name but the reserved ones (``sagemaker_*``, which choose the
      code, such as ``sagemaker_submit_directory``, and AMT's ``_*``).
    """
    limits = family.override_limits
    base_limits = (family.base_request.get("HyperParameterTuningJobConfig") or {}).get("ResourceLimits") or {}
    for key in ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs", "MaxRuntimeInSeconds"):
        if key not in overrides:
            continue
        planned = [int(v) for v in (base_limits.get(key), family.budget.get(key)) if v is not None]
        ceiling = limits.get(key, max(planned) if planned else None)
        if ceiling is not None and int(overrides[key]) > ceiling:
            raise ValidationError(
                f"{overrides[key]} is over the family's limit of {ceiling}; a retune may lower it, not raise "
                f"it (set OverrideLimits.{key} in the family to allow more)",
                f"Overrides.{key}",
            )
    changed = set(overrides.get("StaticHyperParameters") or {})
    if "StaticHyperParameters" in limits:
        refused = sorted(changed - set(limits["StaticHyperParameters"]))
        allowed = f"only {sorted(limits['StaticHyperParameters'])}"
    else:
        refused = sorted(n for n in changed if n.startswith(RESERVED_HYPERPARAMETER_PREFIXES))
        allowed = "no sagemaker_* or _* hyperparameter (they choose the code and how it runs)"
    if refused:
        raise ValidationError(
            f"the family does not let a retune change {refused} ({allowed}); list them in the "
            "family's OverrideLimits.StaticHyperParameters to allow it",
            "Overrides.StaticHyperParameters",
        )


def _check_limits(base: Mapping[str, Any], limits: Mapping[str, Any], path: str) -> None:
    """The budget must pass the request's own rules (e.g. parallel <= total)."""
    request = _with_limits(base, limits)
    request["HyperParameterTuningJobName"] = "check"
    try:
        parse_request(request)
    except ValidationError as err:
        raise ValidationError(str(err), path) from None


def _with_limits(base: Mapping[str, Any], limits: Mapping[str, Any]) -> dict[str, Any]:
    request = copy.deepcopy(dict(base))
    if limits:
        config = request.setdefault("HyperParameterTuningJobConfig", {})
        config["ResourceLimits"] = {**(config.get("ResourceLimits") or {}), **limits}
    return request


def parse_overrides(value: Any) -> dict[str, Any]:
    """Per-retune overrides (a "Retune Requested" event's ``Overrides``); unknown members refused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"give an object with some of {sorted(RETUNE_OVERRIDES)}", "Overrides")
    unknown = sorted(set(value) - RETUNE_OVERRIDES)
    if unknown:
        raise ValidationError(f"unknown members {unknown}; allowed: {sorted(RETUNE_OVERRIDES)}", "Overrides")
    out = dict(value)
    for key in ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs", "MaxRuntimeInSeconds"):
        if key in out:
            _int_in(out[key], 1, None, f"Overrides.{key}")
    if "MaxParents" in out:
        _int_in(out["MaxParents"], 1, MAX_WARM_START_PARENTS, "Overrides.MaxParents")
    if "RandomSeed" in out:
        _int_in(out["RandomSeed"], 0, None, "Overrides.RandomSeed")
    if "WarmStartType" in out and out["WarmStartType"] not in WARM_START_TYPES:
        raise ValidationError(
            f"{out['WarmStartType']!r} is not one of {list(WARM_START_TYPES)}", "Overrides.WarmStartType"
        )
    if "Narrowing" in out:
        _narrowing(out["Narrowing"], "Overrides.Narrowing")
    if "StaticHyperParameters" in out:
        shp = out["StaticHyperParameters"]
        if not isinstance(shp, Mapping) or not all(isinstance(v, str) for v in shp.values()):
            raise ValidationError("a map of strings", "Overrides.StaticHyperParameters")
    return out


# ---- naming -----------------------------------------------------------------------------------
def family_job_name(family: str, now: datetime) -> str:
    """``<family>-<yyyymmddHHMMSS>`` (UTC), at most 32 characters (SageMaker's tuning-job rule).

    Family names up to 17 characters are kept; longer ones become their first 12 characters and a
    4-hex-digit hash of the full name, so two long families with one prefix still differ."""
    stamp = (now.astimezone(UTC) if now.tzinfo else now).strftime(TIMESTAMP_FORMAT)
    room = MAX_NAME_LENGTH - _STAMP - 1
    prefix = family
    if len(family) > room:
        digest = hashlib.sha256(family.encode()).hexdigest()[:4]
        prefix = f"{family[:_SHORT_PREFIX].rstrip('-')}-{digest}"
    return f"{prefix}-{stamp}"


# ---- parents and narrowing --------------------------------------------------------------------
def select_parents(jobs: Sequence[ParentSummary], max_parents: int) -> list[ParentSummary]:
    """The latest ``max_parents`` (<= 5) jobs that are Completed or Stopped, newest first.

    Failed jobs are terminal but are left out: they have no scored trials to learn from, and a job
    refused at validation would make the child fail AMT's parent checks."""
    usable = [j for j in jobs if j.status in PARENT_STATUSES]
    usable.sort(key=lambda j: (j.created, j.name), reverse=True)
    return usable[: min(max_parents, MAX_WARM_START_PARENTS)]


def best_parent(parents: Sequence[ParentSummary], maximize: bool) -> ParentSummary | None:
    scored = [p for p in parents if p.best_value is not None and p.best_params]
    if not scored:
        return None
    return (max if maximize else min)(scored, key=lambda p: p.best_value)  # type: ignore[arg-type,return-value]


def _narrow_param(param: Param, spec: Mapping[str, Any], best: str, factor: float) -> dict[str, Any]:
    """One numeric range narrowed to ``factor`` of its scaled width around ``best``."""
    lo, hi = param.low, param.high
    try:
        x = min(hi, max(lo, float(best)))
    except (TypeError, ValueError):
        return dict(spec)
    a, b = param._fwd(lo), param._fwd(hi)
    if not (math.isfinite(a) and math.isfinite(b)) or b <= a:
        return dict(spec)
    width = (b - a) * factor
    c = param._fwd(x)
    start = min(max(c - width / 2, a), b - width)
    new_lo, new_hi = param._inv(start), param._inv(start + width)
    new_lo, new_hi = max(lo, new_lo), min(hi, new_hi)
    out = dict(spec)
    if param.kind == INTEGER:
        ilo, ihi = int(math.floor(new_lo + 1e-9)), int(math.ceil(new_hi - 1e-9))
        ilo, ihi = max(int(lo), min(ilo, int(x))), min(int(hi), max(ihi, int(round(x))))
        out["MinValue"], out["MaxValue"] = str(ilo), str(ihi)
    else:
        out["MinValue"], out["MaxValue"] = repr(float(new_lo)), repr(float(new_hi))
    if param.requested_scaling == "Auto":
        out["ScalingType"] = param.scaling  # keep the base range's axis, whatever the new ratio
    return out


def narrow_ranges(ranges: Mapping[str, Any], best_params: Mapping[str, str], factor: float) -> dict[str, Any]:
    """``ParameterRanges`` with every numeric range cut to ``factor`` of its scaled width, centred
    on ``best_params`` (clipped into the range). Categorical ranges and parameters without a best
    value are kept."""
    out: dict[str, Any] = {k: [dict(r) for r in v] for k, v in ranges.items()}
    for key, kind in RANGE_KEYS.items():
        if kind == CATEGORICAL:
            continue
        for i, spec in enumerate(ranges.get(key) or ()):
            name = spec.get("Name")
            if name not in best_params:
                continue
            param = param_from_range(kind, spec, f"ParameterRanges.{key}")
            out[key][i] = _narrow_param(param, spec, best_params[name], factor)
    return out


# ---- dollars ------------------------------------------------------------------------------------
def month_of(moment: datetime) -> str:
    """The calendar month (UTC) a run counts in: ``yyyy-mm``."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime(MONTH_FORMAT)


def job_month(job_name: str) -> str | None:
    """The month (UTC) of a family job from its name's timestamp (``family_job_name``); None for a
    name that has none."""
    try:
        return datetime.strptime(job_name[-_STAMP:], TIMESTAMP_FORMAT).strftime(MONTH_FORMAT)
    except ValueError:
        return None


def run_budget(family: Family, now: datetime, spent_this_month: float) -> float | None:
    """USD the next run may spend (its ``tuner:MaxSpendUSD``): the least of the family's
    ``MaxSpendUSDPerRun``, the base request's own tag and what ``MaxSpendUSDPerMonth`` has left after
    ``spent_this_month`` (the spend of the family's runs created in ``now``'s month). None when none
    of them is set. Raises ``FamilyBudgetSpentError`` when the month has nothing left."""
    caps: list[float] = []
    own = budget_of(family.base_request.get("Tags"))
    if own is not None:
        caps.append(own.max_usd)
    if SPEND_PER_RUN in family.spend:
        caps.append(family.spend[SPEND_PER_RUN])
    monthly = family.spend.get(SPEND_PER_MONTH)
    if monthly is not None:
        left = monthly - spent_this_month
        if left <= BUDGET_TOLERANCE:
            month = month_of(now)
            raise FamilyBudgetSpentError(
                f"family {family.name!r} has spent ${spent_this_month:.4f} of its {SPEND_PER_MONTH} "
                f"${monthly:g} in {month} (UTC): no retune starts before the next month; raise "
                f"Budget.{SPEND_PER_MONTH} (register the family again with replace) to retune now"
            )
        caps.append(left)
    if not caps:
        return None
    return math.floor(min(caps) * 1e6) / 1e6  # a tag's text, never above what is left


# ---- the next request -------------------------------------------------------------------------
def next_request(
    family: Family,
    now: datetime,
    jobs: Sequence[ParentSummary],
    overrides: Mapping[str, Any] | None = None,
    spent_this_month: float = 0.0,
) -> dict[str, Any]:
    """The ``CreateHyperParameterTuningJob`` request of the family's next retune.

    ``jobs``: the family's earlier tuning jobs (any status); parents are chosen among them by
    ``select_parents``. Without a usable parent the base request runs cold (the first run).
    ``spent_this_month``: USD the family's runs created in ``now``'s month (UTC) have spent (for
    ``MaxSpendUSDPerMonth``; ``run_budget``)."""
    ov = parse_overrides(overrides)
    usd = run_budget(family, now, spent_this_month)
    bound_overrides(family, ov)
    request = copy.deepcopy(family.base_request)
    name = family_job_name(family.name, now)
    request["HyperParameterTuningJobName"] = name
    config = request.setdefault("HyperParameterTuningJobConfig", {})
    parents = select_parents(jobs, int(ov.get("MaxParents", family.max_parents)))
    limits: dict[str, Any] = dict(family.budget) if parents else {}
    for key in ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs", "MaxRuntimeInSeconds"):
        if key in ov:
            limits[key] = ov[key]
    if limits:
        config["ResourceLimits"] = {**(config.get("ResourceLimits") or {}), **limits}
    if "RandomSeed" in ov:
        config["RandomSeed"] = ov["RandomSeed"]
    if "StaticHyperParameters" in ov:
        definition = request["TrainingJobDefinition"]
        definition["StaticHyperParameters"] = {
            **(definition.get("StaticHyperParameters") or {}),
            **ov["StaticHyperParameters"],
        }
    if parents:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p.name} for p in parents],
            "WarmStartType": ov.get("WarmStartType", family.warm_start_type),
        }
        narrowing = _narrowing(ov["Narrowing"]) if "Narrowing" in ov else family.narrowing
        best = best_parent(parents, family.maximize)
        if narrowing.mode == "Factor" and best is not None and best.best_params:
            config["ParameterRanges"] = narrow_ranges(
                config.get("ParameterRanges") or {}, best.best_params, narrowing.factor
            )
    tags = [t for t in request.get("Tags") or [] if t.get("Key") != FAMILY_TAG]
    if usd is not None:
        tags = set_tags(tags, usd)
    request["Tags"] = [*tags, {"Key": FAMILY_TAG, "Value": family.name}]
    parse_request(request)  # the result must be a valid request; raises ValidationError otherwise
    return request


def family_of(request: Mapping[str, Any]) -> str | None:
    """The family a tuning job request was started for (its ``tuner:family`` tag)."""
    for tag in request.get("Tags") or []:
        if tag.get("Key") == FAMILY_TAG:
            return str(tag.get("Value"))
    return None


# ---- auto-deploy ------------------------------------------------------------------------------
def beats(
    new: float, previous: float | None, maximize: bool, margin: float, margin_type: str = "Absolute"
) -> bool:
    """True when ``new`` improves on ``previous`` by more than the margin (always, without one)."""
    if previous is None:
        return True
    if not math.isfinite(new):
        return False
    need = margin * abs(previous) if margin_type == "Relative" else margin
    gain = new - previous if maximize else previous - new
    return gain > need
