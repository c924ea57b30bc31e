"""A ``CreateHyperParameterTuningJob`` request, parsed and checked against AMT's semantic rules.

Pure: no botocore or boto3. The service first checks the request's *shape* with
``tuner.shapes.validate_input`` (types, required members, bounds, enums, patterns), then calls
``parse_request``, which applies the rules the shape cannot express (exactly one of
``TrainingJobDefinition`` / ``TrainingJobDefinitions``, the objective metric among the metric
definitions, Grid's job count, Hyperband without early stopping, ...). Each rule raises
``ValidationError(message, field)``: ``field`` is the member path, the message says the fix.

The result is a frozen ``TuningRequest`` with one ``Definition`` per training job definition;
``Definition.training_job_request`` builds the exact ``CreateTrainingJob`` request of a trial.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tuner.core.metrics import regex_problem
from tuner.core.space import CATEGORICAL, RANGE_KEYS, SearchSpace
from tuner.errors import ValidationError

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
DEFAULT_STRATEGY = "Bayesian"
OBJECTIVE_TYPES = ("Maximize", "Minimize")
EARLY_STOPPING_TYPES = ("Off", "Auto")
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")
CONVERGENCE_VALUES = ("Disabled", "Enabled")

NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
DEFINITION_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}")
MAX_NAME_LENGTH = 32
MAX_DEFINITIONS = 10
MAX_HYPERPARAMETERS = 100  # static + tunable
MAX_METRIC_DEFINITIONS = 40
MAX_WARM_START_PARENTS = 5
MIN_RUNTIME_SECONDS = 120
MAX_RUNTIME_SECONDS = 15_768_000
MIN_NOT_IMPROVING = 3
MAX_RETRY_ATTEMPTS = 30

# How each member of a HyperParameterTrainingJobDefinition reaches CreateTrainingJob.
# Copied unchanged (CreateTrainingJob has a member of the same name and shape):
PASSTHROUGH_FIELDS = (
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "Environment",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
)
# Rebuilt: AlgorithmSpecification (TrainingImage | AlgorithmName, TrainingInputMode,
# MetricDefinitions) and ResourceConfig (given, or converted from HyperParameterTuningResourceConfig).
CONVERTED_FIELDS = ("AlgorithmSpecification", "ResourceConfig", "HyperParameterTuningResourceConfig")
# Used by the tuner itself and not passed on. RetryStrategy is deliberately kept back: the tuner
# retries a trial (a new training job) itself, so SageMaker must not retry it as well.
TUNER_FIELDS = (
    "DefinitionName",
    "TuningObjective",
    "HyperParameterRanges",
    "StaticHyperParameters",
    "RetryStrategy",
)
ALGORITHM_FIELDS = ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")
RESOURCE_FIELDS = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")

_CONFIG = "HyperParameterTuningJobConfig"
_LIMITS = f"{_CONFIG}.ResourceLimits"


# ---- the model ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Definition:
    """One training job definition: what a trial of it runs and how it is scored."""

    name: str | None  # DefinitionName; None for the single TrainingJobDefinition
    raw: Mapping[str, Any]  # the HyperParameterTrainingJobDefinition dict, as given
    space: SearchSpace
    static_hyperparameters: Mapping[str, str]
    metric_definitions: tuple[Mapping[str, str], ...]  # ({"Name": ..., "Regex": ...}, ...)
    objective_metric: str
    objective_type: str  # "Maximize" | "Minimize"
    retry_attempts: int = 0  # RetryStrategy.MaximumRetryAttempts, 0 when absent

    @property
    def maximize(self) -> bool:
        return self.objective_type == "Maximize"

    @property
    def objective_regex(self) -> str | None:
        """The Regex of the objective metric (None for a built-in algorithm without definitions)."""
        for md in self.metric_definitions:
            if md["Name"] == self.objective_metric:
                return md["Regex"]
        return None

    def resource_config(self) -> dict[str, Any]:
        """CreateTrainingJob's ``ResourceConfig``.

        ``ResourceConfig`` is copied as given. ``HyperParameterTuningResourceConfig`` is
        converted: ``InstanceType``, ``InstanceCount``, ``VolumeSizeInGB`` and ``VolumeKmsKeyId``
        carry over; with ``InstanceConfigs`` (instance-type flexibility) the first configuration
        is used for every trial (AMT would fall back to the next ones on capacity errors; this
        rebuild does not), and ``AllocationStrategy`` is dropped.
        """
        if self.raw.get("ResourceConfig") is not None:
            return dict(self.raw["ResourceConfig"])
        hp = dict(self.raw.get("HyperParameterTuningResourceConfig") or {})
        out = {k: hp[k] for k in RESOURCE_FIELDS if hp.get(k) is not None}
        configs = hp.get("InstanceConfigs") or []
        if configs:
            first = configs[0]
            out.update(
                {k: first[k] for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if k in first}
            )
        return out

    def algorithm_specification(self) -> dict[str, Any]:
        spec = self.raw.get("AlgorithmSpecification") or {}
        out = {k: spec[k] for k in ALGORITHM_FIELDS if spec.get(k) is not None}
        if self.metric_definitions:
            out["MetricDefinitions"] = [dict(md) for md in self.metric_definitions]
        return out

    def training_job_request(
        self,
        training_job_name: str,
        hyperparameters: Mapping[str, str],
        tags: Sequence[Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The exact ``CreateTrainingJob`` request of one trial.

        ``hyperparameters`` are the trial's tuned values (the static ones may be included too,
        unchanged). ``HyperParameters`` is the static hyperparameters overlaid with them (all
        strings); every member of the definition that CreateTrainingJob also has is passed
        through (see ``PASSTHROUGH_FIELDS``); ``RetryStrategy`` is not (the tuner retries).
        """
        tuned = {str(k): str(v) for k, v in hyperparameters.items()}
        clash = sorted(
            k
            for k in set(tuned) & set(self.static_hyperparameters)
            if tuned[k] != self.static_hyperparameters[k]
        )
        if clash:
            raise ValueError(f"hyperparameters {clash} are static; a trial cannot change their values")
        req: dict[str, Any] = {
            "TrainingJobName": training_job_name,
            "AlgorithmSpecification": self.algorithm_specification(),
            "HyperParameters": {**self.static_hyperparameters, **tuned},
        }
        for key in PASSTHROUGH_FIELDS:
            if self.raw.get(key) is not None:
                req[key] = self.raw[key]
        resources = self.resource_config()
        if resources:
            req["ResourceConfig"] = resources
        if tags:
            req["Tags"] = [dict(t) for t in tags]
        return req


@dataclass(frozen=True)
class TuningRequest:
    """A valid CreateHyperParameterTuningJob request, with AMT's defaults applied."""

    name: str
    raw: Mapping[str, Any]  # the request dict, as given
    strategy: str
    strategy_config: Mapping[str, Any]  # e.g. {"HyperbandStrategyConfig": {...}}; {} when absent
    objective_type: str  # common to every definition
    objective_metric: str | None  # None only when definitions use different metric names
    max_jobs: int
    max_parallel: int
    max_runtime_seconds: int | None
    early_stopping: str  # "Off" | "Auto"
    completion_criteria: Mapping[str, Any] | None
    random_seed: int | None
    warm_start: Mapping[str, Any] | None
    definitions: tuple[Definition, ...]
    tags: tuple[Mapping[str, str], ...] = field(default=())

    @property
    def maximize(self) -> bool:
        return self.objective_type == "Maximize"

    @property
    def multi_definition(self) -> bool:
        return "TrainingJobDefinitions" in self.raw and self.raw["TrainingJobDefinitions"] is not None

    def definition(self, name: str | None = None) -> Definition:
        """The definition called ``name`` (the only one when ``name`` is None)."""
        if name is None:
            return self.definitions[0]
        for d in self.definitions:
            if d.name == name:
                return d
        raise KeyError(f"no training job definition named {name!r}")


# ---- small checks ----------------------------------------------------------------------------
def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"must be an object, not {type(value).__name__}", path)
    return value


def _int(
    value: Any, path: str, *, lo: int | None = None, hi: int | None = None, what: str = "an integer"
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{value!r} is not an integer; give {what}", path)
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ValidationError(f"{value} is out of range; give {what}", path)
    return value


def _choice(value: Any, allowed: Sequence[str], path: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{value!r} is not valid; use one of {', '.join(allowed)}", path)
    return value


def _check_name(value: Any, path: str, pattern: re.Pattern[str], max_len: int) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"a name of 1-{max_len} characters is required", path)
    if len(value) > max_len:
        raise ValidationError(f"{value!r} has {len(value)} characters; shorten it to at most {max_len}", path)
    if pattern.fullmatch(value) is None:
        raise ValidationError(
            f"{value!r} is not a valid name; use letters, digits and hyphens, starting and ending "
            "with a letter or digit",
            path,
        )
    return value


# ---- definitions -----------------------------------------------------------------------------
def _objective(value: Any, path: str) -> tuple[str, str]:
    obj = _mapping(value, path)
    metric = obj.get("MetricName")
    if not isinstance(metric, str) or not metric:
        raise ValidationError(
            "give the objective's MetricName (a metric definition's Name)", f"{path}.MetricName"
        )
    kind = _choice(obj.get("Type"), OBJECTIVE_TYPES, f"{path}.Type")
    return metric, kind


def _metric_definitions(spec: Mapping[str, Any], path: str) -> tuple[dict[str, str], ...]:
    raw = spec.get("MetricDefinitions")
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise ValidationError("must be a list of {Name, Regex}", path)
    if len(raw) > MAX_METRIC_DEFINITIONS:
        raise ValidationError(f"{len(raw)} given; at most {MAX_METRIC_DEFINITIONS} are allowed", path)
    out: list[dict[str, str]] = []
    names: set[str] = set()
    for i, md in enumerate(raw):
        p = f"{path}[{i}]"
        md = _mapping(md, p)
        name, regex = md.get("Name"), md.get("Regex")
        if not isinstance(name, str) or not name:
            raise ValidationError("every metric definition needs a Name", f"{p}.Name")
        if not isinstance(regex, str) or not regex:
            raise ValidationError(f"metric {name!r} needs a Regex with one capture group", f"{p}.Regex")
        if name in names:
            raise ValidationError(f"metric name {name!r} is defined twice; keep one", f"{p}.Name")
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValidationError(
                f"Regex {regex!r} does not compile ({exc}); fix the expression", f"{p}.Regex"
            ) from None
        problem = regex_problem(regex)
        if problem:
            raise ValidationError(problem, f"{p}.Regex")
        names.add(name)
        out.append({"Name": name, "Regex": regex})
    return tuple(out)


def _static(value: Any, path: str) -> dict[str, str]:
    static = _mapping(value, path)
    for key, v in static.items():
        if not isinstance(v, str):
            raise ValidationError(
                f'static hyperparameter values are strings; give {_json_like(v)} as "{v}"', f"{path}.{key}"
            )
    return dict(static)


def _json_like(v: Any) -> str:
    return "true" if v is True else "false" if v is False else repr(v)


def _ranges(value: Any, path: str) -> SearchSpace:
    ranges = _mapping(value, path)
    if ranges.get("AutoParameters"):
        raise ValidationError(
            "AutoParameters (Autotune) is not supported; give explicit Integer/Continuous/Categorical ranges",
            f"{path}.AutoParameters",
        )
    space = SearchSpace.from_ranges(ranges, field=path)
    if space.dim == 0:
        raise ValidationError("give at least one hyperparameter range to tune", path)
    return space


def _resources(d: Mapping[str, Any], path: str) -> None:
    rc, hp = d.get("ResourceConfig"), d.get("HyperParameterTuningResourceConfig")
    if rc is not None and hp is not None:
        raise ValidationError(
            "give ResourceConfig or HyperParameterTuningResourceConfig, not both", f"{path}.ResourceConfig"
        )
    if rc is None and hp is None:
        raise ValidationError(
            "give ResourceConfig (InstanceType, InstanceCount, VolumeSizeInGB) or "
            "HyperParameterTuningResourceConfig",
            f"{path}.ResourceConfig",
        )
    if rc is not None:
        rc = _mapping(rc, f"{path}.ResourceConfig")
        if not rc.get("InstanceType") and not rc.get("InstanceGroups"):
            raise ValidationError("give the InstanceType", f"{path}.ResourceConfig.InstanceType")
        if rc.get("InstanceCount") is not None:
            _int(rc["InstanceCount"], f"{path}.ResourceConfig.InstanceCount", lo=1, what="an integer >= 1")
        return
    hp_path = f"{path}.HyperParameterTuningResourceConfig"
    hp = _mapping(hp, hp_path)
    configs = hp.get("InstanceConfigs")
    if configs:
        mixed = [k for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if hp.get(k) is not None]
        if mixed:
            raise ValidationError(
                f"with InstanceConfigs do not give {', '.join(mixed)}; put them in each instance config",
                f"{hp_path}.{mixed[0]}",
            )
        for i, ic in enumerate(configs):
            _int(
                _mapping(ic, f"{hp_path}.InstanceConfigs[{i}]").get("InstanceCount"),
                f"{hp_path}.InstanceConfigs[{i}].InstanceCount",
                lo=1,
                what="an integer >= 1",
            )
        return
    if not hp.get("InstanceType"):
        raise ValidationError("give the InstanceType (or InstanceConfigs)", f"{hp_path}.InstanceType")
    _int(hp.get("InstanceCount"), f"{hp_path}.InstanceCount", lo=1, what="an integer >= 1")


def _definition(
    d: Any,
    path: str,
    *,
    name: str | None,
    objective: tuple[str, str],
    space: SearchSpace,
) -> Definition:
    d = _mapping(d, path)
    algo_path = f"{path}.AlgorithmSpecification"
    algo = _mapping(d.get("AlgorithmSpecification"), algo_path)
    if not algo:
        raise ValidationError("give the AlgorithmSpecification (TrainingImage, TrainingInputMode)", algo_path)
    image, algorithm = algo.get("TrainingImage"), algo.get("AlgorithmName")
    if bool(image) == bool(algorithm):
        raise ValidationError(
            "give exactly one of TrainingImage or AlgorithmName", f"{algo_path}.TrainingImage"
        )
    metrics = _metric_definitions(algo, f"{algo_path}.MetricDefinitions")
    metric, kind = objective
    names = [m["Name"] for m in metrics]
    if image and not metrics:
        raise ValidationError(
            f"a TrainingImage needs MetricDefinitions; add {{Name: {metric!r}, Regex: ...}} so the tuner "
            "can read the objective from the logs",
            f"{algo_path}.MetricDefinitions",
        )
    if metrics and metric not in names:
        raise ValidationError(
            f"objective metric {metric!r} is not among the MetricDefinitions names {names}; "
            "add a definition for it or change the objective's MetricName",
            f"{algo_path}.MetricDefinitions",
        )
    regex = next((m["Regex"] for m in metrics if m["Name"] == metric), None)
    if regex is not None and re.compile(regex).groups < 1:
        idx = names.index(metric)
        raise ValidationError(
            f"the objective's Regex {regex!r} has no capture group; wrap the number in (...)",
            f"{algo_path}.MetricDefinitions[{idx}].Regex",
        )
    for key in ("RoleArn", "OutputDataConfig", "StoppingCondition"):
        if not d.get(key):
            raise ValidationError(f"{key} is required in a training job definition; add it", f"{path}.{key}")
    _resources(d, path)

    static_path = f"{path}.StaticHyperParameters"
    static = _static(d.get("StaticHyperParameters"), static_path)
    both = sorted(set(static) & set(space.names))
    if both:
        raise ValidationError(
            f"{both} are both static and tuned; remove them from StaticHyperParameters or from the ranges",
            f"{static_path}.{both[0]}",
        )
    total = len(static) + space.dim
    if total > MAX_HYPERPARAMETERS:
        raise ValidationError(
            f"{len(static)} static + {space.dim} tuned = {total} hyperparameters; at most "
            f"{MAX_HYPERPARAMETERS} are allowed",
            static_path,
        )
    retries = 0
    if d.get("RetryStrategy") is not None:
        rs_path = f"{path}.RetryStrategy.MaximumRetryAttempts"
        retries = _int(
            _mapping(d["RetryStrategy"], f"{path}.RetryStrategy").get("MaximumRetryAttempts"),
            rs_path,
            lo=1,
            hi=MAX_RETRY_ATTEMPTS,
            what=f"an integer between 1 and {MAX_RETRY_ATTEMPTS}",
        )
    return Definition(
        name=name,
        raw=d,
        space=space,
        static_hyperparameters=static,
        metric_definitions=metrics,
        objective_metric=metric,
        objective_type=kind,
        retry_attempts=retries,
    )


def _single(request: Mapping[str, Any], config: Mapping[str, Any]) -> Definition:
    path = "TrainingJobDefinition"
    d = _mapping(request["TrainingJobDefinition"], path)
    top_obj, own_obj = config.get("HyperParameterTuningJobObjective"), d.get("TuningObjective")
    if top_obj is None and own_obj is None:
        raise ValidationError(
            "give the objective (Type Maximize|Minimize and MetricName)",
            f"{_CONFIG}.HyperParameterTuningJobObjective",
        )
    if top_obj is not None and own_obj is not None and dict(top_obj) != dict(own_obj):
        raise ValidationError(
            "differs from HyperParameterTuningJobConfig.HyperParameterTuningJobObjective; "
            "give the objective once",
            f"{path}.TuningObjective",
        )
    objective = (
        _objective(top_obj, f"{_CONFIG}.HyperParameterTuningJobObjective")
        if top_obj is not None
        else _objective(own_obj, f"{path}.TuningObjective")
    )
    top_ranges, own_ranges = config.get("ParameterRanges"), d.get("HyperParameterRanges")
    if top_ranges is not None and own_ranges is not None and dict(top_ranges) != dict(own_ranges):
        raise ValidationError(
            "differs from HyperParameterTuningJobConfig.ParameterRanges; give the ranges once",
            f"{path}.HyperParameterRanges",
        )
    if top_ranges is None and own_ranges is None:
        raise ValidationError("give the hyperparameter ranges to tune", f"{_CONFIG}.ParameterRanges")
    space = (
        _ranges(top_ranges, f"{_CONFIG}.ParameterRanges")
        if top_ranges is not None
        else _ranges(own_ranges, f"{path}.HyperParameterRanges")
    )
    return _definition(d, path, name=None, objective=objective, space=space)


def _multi(request: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[Definition, ...]:
    path = "TrainingJobDefinitions"
    defs = request["TrainingJobDefinitions"]
    if not isinstance(defs, (list, tuple)) or not 1 <= len(defs) <= MAX_DEFINITIONS:
        n = len(defs) if isinstance(defs, (list, tuple)) else 0
        raise ValidationError(f"{n} definitions given; give 1 to {MAX_DEFINITIONS}", path)
    for key, what in (
        ("HyperParameterTuningJobObjective", "TuningObjective"),
        ("ParameterRanges", "HyperParameterRanges"),
    ):
        if config.get(key) is not None:
            raise ValidationError(
                f"with TrainingJobDefinitions each definition gives its own {what}; remove {key}",
                f"{_CONFIG}.{key}",
            )
    out: list[Definition] = []
    seen: set[str] = set()
    for i, d in enumerate(defs):
        p = f"{path}[{i}]"
        d = _mapping(d, p)
        name = _check_name(d.get("DefinitionName"), f"{p}.DefinitionName", DEFINITION_NAME_PATTERN, 64)
        if name in seen:
            raise ValidationError(
                f"DefinitionName {name!r} repeats; give each definition its own name", f"{p}.DefinitionName"
            )
        seen.add(name)
        if d.get("TuningObjective") is None:
            raise ValidationError(
                "each definition needs a TuningObjective (Type, MetricName)", f"{p}.TuningObjective"
            )
        if d.get("HyperParameterRanges") is None:
            raise ValidationError("each definition needs HyperParameterRanges", f"{p}.HyperParameterRanges")
        objective = _objective(d["TuningObjective"], f"{p}.TuningObjective")
        space = _ranges(d["HyperParameterRanges"], f"{p}.HyperParameterRanges")
        out.append(_definition(d, p, name=name, objective=objective, space=space))
    kinds = {d.objective_type for d in out}
    if len(kinds) > 1:
        first = out[0].objective_type
        bad = next(i for i, d in enumerate(out) if d.objective_type != first)
        raise ValidationError(
            f"every definition must {first} (the best job is chosen across definitions); "
            "make the Types agree",
            f"{path}[{bad}].TuningObjective.Type",
        )
    return tuple(out)


# ---- job-level rules -------------------------------------------------------------------------
def _grid_count(definitions: Sequence[Definition]) -> int:
    for i, d in enumerate(definitions):
        for p in d.space:
            if p.kind != CATEGORICAL:
                key = next(k for k, kind in RANGE_KEYS.items() if kind == p.kind)
                where = (
                    f"TrainingJobDefinitions[{i}].HyperParameterRanges"
                    if d.name is not None
                    else f"{_CONFIG}.ParameterRanges"
                )
                raise ValidationError(
                    f"Grid search takes categorical ranges only; {p.name!r} is {p.kind.lower()}: list its "
                    "values as a CategoricalParameterRange or use another strategy",
                    f"{where}.{key}[{p.name}]",
                )
    return sum(math.prod(len(p.values) for p in d.space) for d in definitions)


def _completion(value: Any) -> Mapping[str, Any] | None:
    path = f"{_CONFIG}.TuningJobCompletionCriteria"
    if value is None:
        return None
    cc = _mapping(value, path)
    target = cc.get("TargetObjectiveMetricValue")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target)
    ):
        raise ValidationError(
            f"{target!r} is not a finite number; give the value to stop at",
            f"{path}.TargetObjectiveMetricValue",
        )
    bni = cc.get("BestObjectiveNotImproving")
    if bni is not None:
        p = f"{path}.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving"
        n = _mapping(bni, f"{path}.BestObjectiveNotImproving").get("MaxNumberOfTrainingJobsNotImproving")
        if n is None:
            raise ValidationError(f"give the number of jobs (>= {MIN_NOT_IMPROVING}) without improvement", p)
        _int(n, p, lo=MIN_NOT_IMPROVING, what=f"an integer >= {MIN_NOT_IMPROVING}")
    cd = cc.get("ConvergenceDetected")
    if cd is not None:
        c = _mapping(cd, f"{path}.ConvergenceDetected").get("CompleteOnConvergence")
        if c is not None:
            _choice(c, CONVERGENCE_VALUES, f"{path}.ConvergenceDetected.CompleteOnConvergence")
    return cc


def _warm_start(value: Any, name: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    path = "WarmStartConfig"
    ws = _mapping(value, path)
    parents = ws.get("ParentHyperParameterTuningJobs")
    pp = f"{path}.ParentHyperParameterTuningJobs"
    if not isinstance(parents, (list, tuple)) or not 1 <= len(parents) <= MAX_WARM_START_PARENTS:
        n = len(parents) if isinstance(parents, (list, tuple)) else 0
        raise ValidationError(f"{n} parents given; give 1 to {MAX_WARM_START_PARENTS} parent tuning jobs", pp)
    seen: set[str] = set()
    for i, parent in enumerate(parents):
        p = f"{pp}[{i}].HyperParameterTuningJobName"
        pname = _check_name(
            _mapping(parent, f"{pp}[{i}]").get("HyperParameterTuningJobName"),
            p,
            NAME_PATTERN,
            MAX_NAME_LENGTH,
        )
        if pname.lower() == name.lower():
            raise ValidationError("a tuning job cannot warm start from itself; name a finished parent job", p)
        if pname.lower() in seen:
            raise ValidationError(f"parent {pname!r} is listed twice; list it once", p)
        seen.add(pname.lower())
    _choice(ws.get("WarmStartType"), WARM_START_TYPES, f"{path}.WarmStartType")
    return ws


def parse_request(request: Mapping[str, Any]) -> TuningRequest:
    """Check AMT's semantic rules and build the ``TuningRequest`` (raises ``ValidationError``)."""
    request = _mapping(request, "request")
    name = _check_name(
        request.get("HyperParameterTuningJobName"),
        "HyperParameterTuningJobName",
        NAME_PATTERN,
        MAX_NAME_LENGTH,
    )
    config = _mapping(request.get(_CONFIG), _CONFIG)
    if not config:
        raise ValidationError(
            "give the HyperParameterTuningJobConfig (Strategy, ResourceLimits, ...)", _CONFIG
        )
    if request.get("Autotune") is not None:
        raise ValidationError(
            "Autotune is not supported; give the ranges, limits and strategy explicitly", "Autotune"
        )

    strategy = config.get("Strategy")
    strategy = DEFAULT_STRATEGY if strategy is None else _choice(strategy, STRATEGIES, f"{_CONFIG}.Strategy")

    # exactly one of TrainingJobDefinition / TrainingJobDefinitions
    single, multi = request.get("TrainingJobDefinition"), request.get("TrainingJobDefinitions")
    if single is not None and multi is not None:
        raise ValidationError(
            "give TrainingJobDefinition (one algorithm) or TrainingJobDefinitions (several), not both",
            "TrainingJobDefinitions",
        )
    if single is None and multi is None:
        raise ValidationError(
            "give TrainingJobDefinition (or TrainingJobDefinitions for several algorithms)",
            "TrainingJobDefinition",
        )
    definitions = (_single(request, config),) if single is not None else _multi(request, config)

    # early stopping
    early = config.get("TrainingJobEarlyStoppingType")
    early = (
        "Off"
        if early is None
        else _choice(early, EARLY_STOPPING_TYPES, f"{_CONFIG}.TrainingJobEarlyStoppingType")
    )
    if early == "Auto" and multi is not None:
        raise ValidationError(
            "early stopping works with a single TrainingJobDefinition only; set it to Off",
            f"{_CONFIG}.TrainingJobEarlyStoppingType",
        )
    if early == "Auto" and strategy == "Hyperband":
        raise ValidationError(
            "Hyperband stops jobs itself; set TrainingJobEarlyStoppingType to Off",
            f"{_CONFIG}.TrainingJobEarlyStoppingType",
        )

    # strategy config
    strategy_config = dict(_mapping(config.get("StrategyConfig"), f"{_CONFIG}.StrategyConfig"))
    if strategy_config and strategy != "Hyperband":
        raise ValidationError(
            f"StrategyConfig applies to the Hyperband strategy only; remove it or set Strategy to Hyperband "
            f"(it is {strategy})",
            f"{_CONFIG}.StrategyConfig",
        )
    hb = strategy_config.get("HyperbandStrategyConfig")
    if hb is not None:
        hb_path = f"{_CONFIG}.StrategyConfig.HyperbandStrategyConfig"
        hb = _mapping(hb, hb_path)
        lo, hi = hb.get("MinResource"), hb.get("MaxResource")
        if lo is not None:
            _int(lo, f"{hb_path}.MinResource", lo=1, what="an integer >= 1")
        if hi is not None:
            _int(hi, f"{hb_path}.MaxResource", lo=1, what="an integer >= 1")
        if lo is not None and hi is not None and lo > hi:
            raise ValidationError(
                f"MinResource {lo} is above MaxResource {hi}; lower it", f"{hb_path}.MinResource"
            )

    # resource limits
    limits = _mapping(config.get("ResourceLimits"), f"{_CONFIG}.ResourceLimits")
    if limits.get("MaxParallelTrainingJobs") is None:
        raise ValidationError(
            "give MaxParallelTrainingJobs (an integer >= 1)", f"{_LIMITS}.MaxParallelTrainingJobs"
        )
    max_parallel = _int(
        limits["MaxParallelTrainingJobs"], f"{_LIMITS}.MaxParallelTrainingJobs", lo=1, what="an integer >= 1"
    )
    given_jobs = limits.get("MaxNumberOfTrainingJobs")
    if given_jobs is not None:
        given_jobs = _int(given_jobs, f"{_LIMITS}.MaxNumberOfTrainingJobs", lo=1, what="an integer >= 1")
    if strategy == "Grid":
        combos = _grid_count(definitions)
        if given_jobs is not None and given_jobs != combos:
            raise ValidationError(
                f"Grid search runs every combination once: {combos} jobs; set MaxNumberOfTrainingJobs to "
                f"{combos} or leave it out",
                f"{_LIMITS}.MaxNumberOfTrainingJobs",
            )
        max_jobs = combos
    else:
        if given_jobs is None:
            raise ValidationError(
                f"give MaxNumberOfTrainingJobs (an integer >= 1); only Grid may leave it out "
                f"({strategy} is used)",
                f"{_LIMITS}.MaxNumberOfTrainingJobs",
            )
        max_jobs = given_jobs
    runtime = limits.get("MaxRuntimeInSeconds")
    if runtime is not None:
        runtime = _int(
            runtime,
            f"{_LIMITS}.MaxRuntimeInSeconds",
            lo=MIN_RUNTIME_SECONDS,
            hi=MAX_RUNTIME_SECONDS,
            what=f"an integer between {MIN_RUNTIME_SECONDS} and {MAX_RUNTIME_SECONDS} seconds",
        )

    completion = _completion(config.get("TuningJobCompletionCriteria"))

    seed = config.get("RandomSeed")
    if seed is not None:
        seed = _int(seed, f"{_CONFIG}.RandomSeed", lo=0, what="an integer >= 0")

    warm_start = _warm_start(request.get("WarmStartConfig"), name)
    if warm_start is not None and multi is not None:
        raise ValidationError(
            "warm start works with a single TrainingJobDefinition only; remove WarmStartConfig",
            "WarmStartConfig",
        )

    tags = request.get("Tags") or ()
    if not isinstance(tags, (list, tuple)):
        raise ValidationError("must be a list of {Key, Value}", "Tags")

    metric_names = {d.objective_metric for d in definitions}
    return TuningRequest(
        name=name,
        raw=request,
        strategy=strategy,
        strategy_config=strategy_config,
        objective_type=definitions[0].objective_type,
        objective_metric=metric_names.pop() if len(metric_names) == 1 else None,
        max_jobs=max_jobs,
        max_parallel=max_parallel,
        max_runtime_seconds=runtime,
        early_stopping=early,
        completion_criteria=completion,
        random_seed=seed,
        warm_start=warm_start,
        definitions=definitions,
        tags=tuple(dict(t) for t in tags),
    )


__all__ = [
    "CONVERTED_FIELDS",
    "PASSTHROUGH_FIELDS",
    "TUNER_FIELDS",
    "Definition",
    "TuningRequest",
    "parse_request",
]
