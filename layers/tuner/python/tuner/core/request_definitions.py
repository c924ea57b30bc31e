"""The training job definitions of a tuning request: the ``Definition`` model and its parsing.

``_single`` parses ``TrainingJobDefinition`` (objective and ranges may come from
``HyperParameterTuningJobConfig``), ``_multi`` parses ``TrainingJobDefinitions``; both check each
definition with ``_definition`` (algorithm and metric definitions, resources, static
hyperparameters, retry strategy). ``tuner.core.request.parse_request`` calls them.

Every problem is kept in the caller's ``Problems`` (all of a request's problems are reported at
once): a rule that depends on a member with problems of its own (the objective, the ranges) is
left out rather than reported a second time.
Pure: no botocore or boto3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuner.constants import DEPLOYMENT_TAG
from tuner.core.builtins import TUNING_OBJECTIVE_HYPERPARAMETER, algorithm_mode
from tuner.core.metrics import regex_problem
from tuner.core.naming import MAX_DEFINITION_NAME, name_pattern
from tuner.core.objective import OBJECTIVE_TYPES, maximizes
from tuner.core.request_checks import _CONFIG, _check_name, _choice, _int, _mapping
from tuner.core.space import SearchSpace
from tuner.errors import Problems, ValidationError

DEFINITION_NAME_PATTERN = name_pattern(MAX_DEFINITION_NAME)
MAX_DEFINITIONS = 10
MAX_HYPERPARAMETERS = 100  # static + tunable
MAX_METRIC_DEFINITIONS = 40
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
    # The SageMaker built-in algorithm the training image runs as (``tuner.core.builtins``; None: the
    # user's container or script). Its metrics are then ``metric_definitions`` (the tuner's own log
    # parse), and SageMaker reports them itself, so none are passed to CreateTrainingJob.
    builtin: str | None = None

    @property
    def maximize(self) -> bool:
        return maximizes(self.objective_type)

    @property
    def objective_regex(self) -> str | None:
        """The Regex of the objective metric (None for an AlgorithmName without definitions)."""
        return regex_of(self.metric_definitions, self.objective_metric)

    @property
    def passes_metric_definitions(self) -> bool:
        """Whether CreateTrainingJob gets the MetricDefinitions: not for a built-in algorithm nor an
        AlgorithmName (SageMaker refuses to override their own: "You can't override the metric
        definitions for Amazon SageMaker algorithms"; docs/builtin-algorithms.md)."""
        spec = self.raw.get("AlgorithmSpecification") or {}
        return bool(self.metric_definitions) and self.builtin is None and not spec.get("AlgorithmName")

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
        out = {k: spec[k] for k in ALGORITHM_FIELDS if spec.get(k) is not None and k != "MetricDefinitions"}
        if self.passes_metric_definitions:
            out["MetricDefinitions"] = [dict(md) for md in self.metric_definitions]
        return out

    def training_job_request(
        self,
        training_job_name: str,
        hyperparameters: Mapping[str, str],
        tags: Sequence[Mapping[str, str]] | None = None,
        deployment: str | None = None,
    ) -> dict[str, Any]:
        """The exact ``CreateTrainingJob`` request of one trial.

        ``hyperparameters`` are the trial's tuned values (the static ones may be included too,
        unchanged). ``HyperParameters`` is the static hyperparameters overlaid with them (all
        strings); every member of the definition that CreateTrainingJob also has is passed
        through (see ``PASSTHROUGH_FIELDS``); ``RetryStrategy`` is not (the tuner retries). A built-in
        algorithm also gets AMT's reserved ``_tuning_objective_metric`` (the objective's name).

        ``Tags`` are the request's ``tags``, then ``DEPLOYMENT_TAG`` valued ``deployment`` (the
        deployment that starts the job; None: no such tag), which replaces one given under that key
        in any case: the tuner's IAM grants allow creating, describing and stopping only training
        jobs tagged with their deployment (docs/security.md, "Least privilege by tags").
        """
        tuned = {str(k): str(v) for k, v in hyperparameters.items()}
        clash = sorted(
            k
            for k in set(tuned) & set(self.static_hyperparameters)
            if tuned[k] != self.static_hyperparameters[k]
        )
        if clash:
            raise ValueError(f"hyperparameters {clash} are static; a trial cannot change their values")
        reserved = {TUNING_OBJECTIVE_HYPERPARAMETER: self.objective_metric} if self.builtin else {}
        req: dict[str, Any] = {
            "TrainingJobName": training_job_name,
            "AlgorithmSpecification": self.algorithm_specification(),
            "HyperParameters": {**reserved, **self.static_hyperparameters, **tuned},
        }
        for key in PASSTHROUGH_FIELDS:
            if self.raw.get(key) is not None:
                req[key] = self.raw[key]
        resources = self.resource_config()
        if resources:
            req["ResourceConfig"] = resources
        own = [dict(t) for t in tags or () if str(t.get("Key", "")).lower() != DEPLOYMENT_TAG]
        if deployment is not None:
            own.append({"Key": DEPLOYMENT_TAG, "Value": deployment})
        if own:
            req["Tags"] = own
        return req


# ---- definitions -----------------------------------------------------------------------------
def regex_of(metric_definitions: Sequence[Mapping[str, str]], metric: str) -> str | None:
    """The Regex of ``metric`` among MetricDefinitions (None when it has none)."""
    return next((md["Regex"] for md in metric_definitions if md["Name"] == metric), None)


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


def _algorithm(
    d: Mapping[str, Any], path: str, objective: tuple[str, str] | None, objective_path: str
) -> tuple[tuple[dict[str, str], ...], str | None]:
    """The AlgorithmSpecification's rules: its MetricDefinitions (given, or a built-in algorithm's
    own), checked against the objective (given at ``objective_path``; None: it has problems of its
    own, and the checks against it are left out), and the built-in algorithm it runs as (None: none)."""
    algo_path = f"{path}.AlgorithmSpecification"
    algo = _mapping(d.get("AlgorithmSpecification"), algo_path)
    if not algo:
        raise ValidationError("give the AlgorithmSpecification (TrainingImage, TrainingInputMode)", algo_path)
    image, algorithm = algo.get("TrainingImage"), algo.get("AlgorithmName")
    if bool(image) == bool(algorithm):
        raise ValidationError("give exactly one of TrainingImage or AlgorithmName", f"{algo_path}.TrainingImage")
    metrics = _metric_definitions(algo, f"{algo_path}.MetricDefinitions")
    static = d.get("StaticHyperParameters")
    builtin = algorithm_mode(image, static if isinstance(static, Mapping) else None) if image else None
    if builtin is not None:
        if metrics:
            raise ValidationError(
                f"SageMaker's built-in {builtin.title} algorithm reports its own metrics and refuses "
                "MetricDefinitions (\"You can't override the metric definitions for Amazon SageMaker "
                "algorithms\"); remove them, or run a script on this image (sagemaker_program, "
                "sagemaker_submit_directory) to define your own",
                f"{algo_path}.MetricDefinitions",
            )
        problem = builtin.objective_problem(*objective) if objective is not None else None
        if problem:
            raise ValidationError(problem, f"{objective_path}.MetricName")
        return builtin.definitions(), builtin.name
    metric = objective[0] if objective is not None else None
    names = [m["Name"] for m in metrics]
    if image and not metrics:
        wanted = f"{{Name: {metric!r}, Regex: ...}}" if metric is not None else "{Name, Regex} for the objective metric"
        raise ValidationError(
            f"a TrainingImage needs MetricDefinitions; add {wanted} so the tuner "
            "can read the objective from the logs (only SageMaker's built-in algorithms need none)",
            f"{algo_path}.MetricDefinitions",
        )
    if metric is None:
        return metrics, None
    if metrics and metric not in names:
        raise ValidationError(
            f"objective metric {metric!r} is not among the MetricDefinitions names {names}; "
            "add a definition for it or change the objective's MetricName",
            f"{algo_path}.MetricDefinitions",
        )
    regex = regex_of(metrics, metric)
    if regex is not None and re.compile(regex).groups < 1:
        raise ValidationError(
            f"the objective's Regex {regex!r} has no capture group; wrap the number in (...)",
            f"{algo_path}.MetricDefinitions[{names.index(metric)}].Regex",
        )
    return metrics, None


def _hyperparameters(d: Mapping[str, Any], path: str, space: SearchSpace | None) -> dict[str, str]:
    """StaticHyperParameters: none also tuned, and at most MAX_HYPERPARAMETERS in all (both checked
    only with the ``space`` of tuned ones: None when the ranges have problems of their own)."""
    static_path = f"{path}.StaticHyperParameters"
    static = _static(d.get("StaticHyperParameters"), static_path)
    if space is None:
        return static
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
    return static


def _retry_attempts(d: Mapping[str, Any], path: str) -> int:
    if d.get("RetryStrategy") is None:
        return 0
    return _int(
        _mapping(d["RetryStrategy"], f"{path}.RetryStrategy").get("MaximumRetryAttempts"),
        f"{path}.RetryStrategy.MaximumRetryAttempts",
        lo=1,
        hi=MAX_RETRY_ATTEMPTS,
        what=f"an integer between 1 and {MAX_RETRY_ATTEMPTS}",
    )


def _definition(
    d: Mapping[str, Any],
    path: str,
    *,
    name: str | None,
    objective: tuple[str, str] | None,
    objective_path: str,
    space: SearchSpace | None,
    problems: Problems,
) -> Definition | None:
    """One definition's rules, each problem kept in ``problems``; the ``Definition``, or None when
    it (or its ``objective`` or ``space``, None when they had problems) has any."""
    before = len(problems)
    algorithm = problems.check(_algorithm, d, path, objective, objective_path)
    for key in ("RoleArn", "OutputDataConfig", "StoppingCondition"):
        if not d.get(key):
            problems.add(ValidationError(f"{key} is required in a training job definition; add it", f"{path}.{key}"))
    problems.check(_resources, d, path)
    static = problems.check(_hyperparameters, d, path, space)
    retry_attempts = problems.check(_retry_attempts, d, path)
    if len(problems) > before or algorithm is None or static is None or retry_attempts is None:
        return None
    if objective is None or space is None:
        return None
    metrics, builtin = algorithm
    return Definition(
        name=name,
        raw=d,
        space=space,
        static_hyperparameters=static,
        metric_definitions=metrics,
        objective_metric=objective[0],
        objective_type=objective[1],
        retry_attempts=retry_attempts,
        builtin=builtin,
    )


def _single_objective(top: Any, own: Any, path: str, objective_path: str) -> tuple[str, str]:
    """The single definition's objective: in HyperParameterTuningJobConfig or in the definition."""
    if top is None and own is None:
        raise ValidationError(
            "give the objective (Type Maximize|Minimize and MetricName)",
            f"{_CONFIG}.HyperParameterTuningJobObjective",
        )
    if top is not None and own is not None and dict(top) != dict(own):
        raise ValidationError(
            "differs from HyperParameterTuningJobConfig.HyperParameterTuningJobObjective; "
            "give the objective once",
            f"{path}.TuningObjective",
        )
    return _objective(top if top is not None else own, objective_path)


def _single_space(top: Any, own: Any, path: str) -> SearchSpace:
    """The single definition's ranges: in HyperParameterTuningJobConfig or in the definition."""
    if top is not None and own is not None and dict(top) != dict(own):
        raise ValidationError(
            "differs from HyperParameterTuningJobConfig.ParameterRanges; give the ranges once",
            f"{path}.HyperParameterRanges",
        )
    if top is None and own is None:
        raise ValidationError("give the hyperparameter ranges to tune", f"{_CONFIG}.ParameterRanges")
    if top is not None:
        return _ranges(top, f"{_CONFIG}.ParameterRanges")
    return _ranges(own, f"{path}.HyperParameterRanges")


def _single(request: Mapping[str, Any], config: Mapping[str, Any], problems: Problems) -> Definition | None:
    """``TrainingJobDefinition``, each problem kept in ``problems`` (None: it has some). Raises
    ``ValidationError`` when it is not an object (nothing else can be checked)."""
    path = "TrainingJobDefinition"
    d = _mapping(request["TrainingJobDefinition"], path)
    top_obj, own_obj = config.get("HyperParameterTuningJobObjective"), d.get("TuningObjective")
    objective_path = (
        f"{_CONFIG}.HyperParameterTuningJobObjective" if top_obj is not None else f"{path}.TuningObjective"
    )
    objective = problems.check(_single_objective, top_obj, own_obj, path, objective_path)
    space = problems.check(_single_space, config.get("ParameterRanges"), d.get("HyperParameterRanges"), path)
    return _definition(
        d, path, name=None, objective=objective, objective_path=objective_path, space=space, problems=problems
    )


def _multi(request: Mapping[str, Any], config: Mapping[str, Any], problems: Problems) -> tuple[Definition, ...] | None:
    """``TrainingJobDefinitions``, each problem kept in ``problems`` (None: they have some). Raises
    ``ValidationError`` when it is not a non-empty list (nothing else can be checked)."""
    path = "TrainingJobDefinitions"
    defs = request["TrainingJobDefinitions"]
    if not isinstance(defs, (list, tuple)) or not defs:
        n = len(defs) if isinstance(defs, (list, tuple)) else 0
        raise ValidationError(f"{n} definitions given; give 1 to {MAX_DEFINITIONS}", path)
    before = len(problems)
    if len(defs) > MAX_DEFINITIONS:
        problems.add(ValidationError(f"{len(defs)} definitions given; give 1 to {MAX_DEFINITIONS}", path))
    for key, what in (
        ("HyperParameterTuningJobObjective", "TuningObjective"),
        ("ParameterRanges", "HyperParameterRanges"),
    ):
        if config.get(key) is not None:
            problems.add(ValidationError(
                f"with TrainingJobDefinitions each definition gives its own {what}; remove {key}",
                f"{_CONFIG}.{key}",
            ))
    out: list[Definition] = []
    seen: set[str] = set()
    for i, raw in enumerate(defs):
        p = f"{path}[{i}]"
        d = problems.check(_mapping, raw, p)
        if d is None:
            continue
        name = problems.check(
            _check_name, d.get("DefinitionName"), f"{p}.DefinitionName", DEFINITION_NAME_PATTERN, MAX_DEFINITION_NAME
        )
        if name is not None and name in seen:
            problems.add(ValidationError(
                f"DefinitionName {name!r} repeats; give each definition its own name", f"{p}.DefinitionName"
            ))
        if name is not None:
            seen.add(name)
        objective = space = None
        if d.get("TuningObjective") is None:
            problems.add(ValidationError(
                "each definition needs a TuningObjective (Type, MetricName)", f"{p}.TuningObjective"
            ))
        if d.get("HyperParameterRanges") is None:
            problems.add(ValidationError("each definition needs HyperParameterRanges", f"{p}.HyperParameterRanges"))
        if d.get("TuningObjective") is not None:
            objective = problems.check(_objective, d["TuningObjective"], f"{p}.TuningObjective")
        if d.get("HyperParameterRanges") is not None:
            space = problems.check(_ranges, d["HyperParameterRanges"], f"{p}.HyperParameterRanges")
        definition = _definition(
            d, p, name=name, objective=objective, objective_path=f"{p}.TuningObjective", space=space,
            problems=problems,
        )
        if definition is not None:
            out.append(definition)
    if len(problems) > before:
        return None
    kinds = {d.objective_type for d in out}
    if len(kinds) > 1:
        first = out[0].objective_type
        bad = next(i for i, d in enumerate(out) if d.objective_type != first)
        problems.add(ValidationError(
            f"every definition must {first} (the best job is chosen across definitions); "
            "make the Types agree",
            f"{path}[{bad}].TuningObjective.Type",
        ))
        return None
    return tuple(out)
