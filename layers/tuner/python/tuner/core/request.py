"""A ``CreateHyperParameterTuningJob`` request, parsed and checked against AMT's semantic rules.

Pure: no botocore or boto3. The service first checks the request's *shape* with
``tuner.shapes.validate_input`` (types, required members, bounds, enums, patterns), then calls
``parse_request``, which applies the rules the shape cannot express (exactly one of
``TrainingJobDefinition`` / ``TrainingJobDefinitions``, the objective metric among the metric
definitions, Grid's job count, Hyperband without early stopping, ...). Each rule raises
``ValidationError(message, field)``: ``field`` is the member path, the message says the fix.
``request_problems`` runs every rule and returns every problem; ``parse_request`` raises them as
one ``ValidationError`` listing each (``ValidationError.combined``). Only a problem that leaves
nothing else to check ends the checking early: a request that is not an object, no
``HyperParameterTuningJobConfig``, no training job definition.

The result is a frozen ``TuningRequest`` with one ``Definition`` per training job definition;
``Definition.training_job_request`` builds the exact ``CreateTrainingJob`` request of a trial.

The training job definitions (the ``Definition`` model and its parsing) are in
``tuner.core.request_definitions``, the small shared checks in ``tuner.core.request_checks``; their
public names are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tuner import constants
from tuner.core import autotune
from tuner.core.naming import MAX_TUNING_JOB_NAME, name_key, name_pattern
from tuner.core.objective import OBJECTIVE_TYPES, maximizes
from tuner.core.request_checks import _CONFIG, _check_name, _choice, _int, _mapping
from tuner.core.request_definitions import (  # noqa: F401 - re-exported: this module's public names
    ALGORITHM_FIELDS,
    CONVERTED_FIELDS,
    DEFINITION_NAME_PATTERN,
    MAX_DEFINITIONS,
    MAX_HYPERPARAMETERS,
    MAX_METRIC_DEFINITIONS,
    MAX_RETRY_ATTEMPTS,
    PASSTHROUGH_FIELDS,
    RESOURCE_FIELDS,
    TUNER_FIELDS,
    Definition,
    _multi,
    _single,
)
from tuner.core.space import CATEGORICAL, RANGE_KEYS
from tuner.core.strategies.hyperband import resources as hyperband_resources
from tuner.errors import Problems, ValidationError

#: What the problems of a request are reported about: "3 problems in the CreateHyperParameterTuningJob request".
REQUEST_SUBJECT = "the CreateHyperParameterTuningJob request"

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
DEFAULT_STRATEGY = "Bayesian"
EARLY_STOPPING_TYPES = ("Off", "Auto")
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")
CONVERGENCE_VALUES = ("Disabled", "Enabled")

MAX_NAME_LENGTH = MAX_TUNING_JOB_NAME
NAME_PATTERN = name_pattern(MAX_NAME_LENGTH)
MAX_WARM_START_PARENTS = 5
MIN_RUNTIME_SECONDS = 120
MAX_RUNTIME_SECONDS = 15_768_000
MIN_NOT_IMPROVING = 3
MAX_TAGS = 50  # tags per SageMaker resource (the Tag list's maximum)
MAX_REQUEST_TAGS = MAX_TAGS - 1  # one is the tuner's: DEPLOYMENT_TAG on every training job
# Reserved keys (constants.RESERVED_TAG_PREFIX) a request may carry: those the tuner sets on requests itself,
# and the budget's (tuner.core.budget checks their values), which the user sets.
TUNER_SET_TAGS = (constants.FAMILY_TAG, constants.MAX_SPEND_TAG, constants.SPEND_POLICY_TAG)

_LIMITS = f"{_CONFIG}.ResourceLimits"


# ---- the model ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TuningRequest:
    """A valid CreateHyperParameterTuningJob request, with AMT's defaults applied."""

    name: str
    # The request as the job runs it: as given, plus what AMT fills in (Autotune's choices, Grid's
    # MaxNumberOfTrainingJobs). What the service stores and describe shows.
    raw: Mapping[str, Any]
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
        return maximizes(self.objective_type)

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


_COMPLETION = f"{_CONFIG}.TuningJobCompletionCriteria"


def _target(value: Any) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    ):
        raise ValidationError(
            f"{value!r} is not a finite number; give the value to stop at",
            f"{_COMPLETION}.TargetObjectiveMetricValue",
        )


def _not_improving(value: Any) -> None:
    if value is None:
        return
    p = f"{_COMPLETION}.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving"
    n = _mapping(value, f"{_COMPLETION}.BestObjectiveNotImproving").get("MaxNumberOfTrainingJobsNotImproving")
    if n is None:
        raise ValidationError(f"give the number of jobs (>= {MIN_NOT_IMPROVING}) without improvement", p)
    _int(n, p, lo=MIN_NOT_IMPROVING, what=f"an integer >= {MIN_NOT_IMPROVING}")


def _convergence(value: Any) -> None:
    if value is None:
        return
    c = _mapping(value, f"{_COMPLETION}.ConvergenceDetected").get("CompleteOnConvergence")
    if c is not None:
        _choice(c, CONVERGENCE_VALUES, f"{_COMPLETION}.ConvergenceDetected.CompleteOnConvergence")


def _completion(value: Any, problems: Problems) -> Mapping[str, Any] | None:
    """TuningJobCompletionCriteria (None when absent or with problems, each kept in ``problems``)."""
    if value is None:
        return None
    cc = problems.check(_mapping, value, _COMPLETION)
    if cc is None:
        return None
    before = len(problems)
    problems.check(_target, cc.get("TargetObjectiveMetricValue"))
    problems.check(_not_improving, cc.get("BestObjectiveNotImproving"))
    problems.check(_convergence, cc.get("ConvergenceDetected"))
    return cc if len(problems) == before else None


def _warm_start(value: Any, name: str | None) -> Mapping[str, Any] | None:
    """WarmStartConfig (``name``: the tuning job's, None when it has problems of its own)."""
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
        if name is not None and name_key(pname) == name_key(name):
            raise ValidationError("a tuning job cannot warm start from itself; name a finished parent job", p)
        if name_key(pname) in seen:
            raise ValidationError(f"parent {pname!r} is listed twice; list it once", p)
        seen.add(name_key(pname))
    _choice(ws.get("WarmStartType"), WARM_START_TYPES, f"{path}.WarmStartType")
    return ws


def _definitions(
    request: Mapping[str, Any], config: Mapping[str, Any], problems: Problems
) -> tuple[Definition, ...] | None:
    """Exactly one of ``TrainingJobDefinition`` / ``TrainingJobDefinitions``, parsed (None: with
    problems, kept in ``problems``); raises ``ValidationError`` when there is none to check."""
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
    if multi is not None:
        return _multi(request, config, problems)
    definition = _single(request, config, problems)
    return None if definition is None else (definition,)


def _early_stopping(config: Mapping[str, Any], strategy: str | None, multi: bool) -> str:
    path = f"{_CONFIG}.TrainingJobEarlyStoppingType"
    value = config.get("TrainingJobEarlyStoppingType")
    early = "Off" if value is None else _choice(value, EARLY_STOPPING_TYPES, path)
    if early == "Auto" and multi:
        raise ValidationError("early stopping works with a single TrainingJobDefinition only; set it to Off", path)
    if early == "Auto" and strategy == "Hyperband":
        raise ValidationError("Hyperband stops jobs itself; set TrainingJobEarlyStoppingType to Off", path)
    return early


def _strategy_config(
    config: Mapping[str, Any], strategy: str | None, definitions: Sequence[Definition] | None
) -> dict[str, Any]:
    """``StrategyConfig`` (Hyperband only), with Hyperband's resources checked here, once (the rules
    that need the ``strategy`` or the ``definitions`` only with them: None when they have problems)."""
    strategy_config = dict(_mapping(config.get("StrategyConfig"), f"{_CONFIG}.StrategyConfig"))
    if strategy_config and strategy is not None and strategy != "Hyperband":
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
            raise ValidationError(f"MinResource {lo} is above MaxResource {hi}; lower it", f"{hb_path}.MinResource")
    if strategy == "Hyperband" and definitions:  # MaxResource given, or inferable from an epochs-like static
        hyperband_resources(strategy_config, definitions[0].static_hyperparameters)
    return strategy_config


def _max_parallel(limits: Mapping[str, Any]) -> int:
    if limits.get("MaxParallelTrainingJobs") is None:
        raise ValidationError("give MaxParallelTrainingJobs (an integer >= 1)", f"{_LIMITS}.MaxParallelTrainingJobs")
    return _int(limits["MaxParallelTrainingJobs"], f"{_LIMITS}.MaxParallelTrainingJobs", lo=1, what="an integer >= 1")


def _max_jobs(limits: Mapping[str, Any], strategy: str | None, definitions: Sequence[Definition] | None) -> int | None:
    """MaxNumberOfTrainingJobs as the job runs it (Grid: every combination). None: it cannot be told
    yet (the strategy or, for Grid, the definitions have problems of their own)."""
    given = limits.get("MaxNumberOfTrainingJobs")
    if given is not None:
        given = _int(given, f"{_LIMITS}.MaxNumberOfTrainingJobs", lo=1, what="an integer >= 1")
    if strategy == "Grid":
        if definitions is None:
            return None
        combos = _grid_count(definitions)
        if given is not None and given != combos:
            raise ValidationError(
                f"Grid search runs every combination once: {combos} jobs; set MaxNumberOfTrainingJobs to "
                f"{combos} or leave it out",
                f"{_LIMITS}.MaxNumberOfTrainingJobs",
            )
        return combos
    if given is None and strategy is not None:
        raise ValidationError(
            f"give MaxNumberOfTrainingJobs (an integer >= 1); only Grid may leave it out ({strategy} is used)",
            f"{_LIMITS}.MaxNumberOfTrainingJobs",
        )
    return given


def _runtime(limits: Mapping[str, Any]) -> int | None:
    runtime = limits.get("MaxRuntimeInSeconds")
    if runtime is None:
        return None
    return _int(
        runtime,
        f"{_LIMITS}.MaxRuntimeInSeconds",
        lo=MIN_RUNTIME_SECONDS,
        hi=MAX_RUNTIME_SECONDS,
        what=f"an integer between {MIN_RUNTIME_SECONDS} and {MAX_RUNTIME_SECONDS} seconds",
    )


def check_tags(value: Any, path: str = "Tags") -> tuple[dict[str, str], ...]:
    """A request's ``Tags`` (copies), refusing the tuner's own keys and one tag too many.

    The tuner gives a tuning job's tags to each training job it starts and adds its deployment tag
    (``constants.DEPLOYMENT_TAG``), which its IAM grants and its training-event rule rely on
    (docs/security.md, "Least privilege by tags"). So a request may set no key beginning with
    ``constants.RESERVED_TAG_PREFIX``, in any case (IAM compares tag keys in condition keys without
    case: "aws:RequestTag/tag-key", IAM user guide), except ``constants.FAMILY_TAG``, which the
    family service sets itself, and the budget's ``MAX_SPEND_TAG`` and ``SPEND_POLICY_TAG``
    (``tuner.core.budget``); and at most ``MAX_REQUEST_TAGS`` tags, since a SageMaker training job
    holds at most ``MAX_TAGS`` ("Tag", SageMaker API reference).
    """
    tags = value or ()
    if not isinstance(tags, (list, tuple)):
        raise ValidationError("must be a list of {Key, Value}", path)
    if len(tags) > MAX_REQUEST_TAGS:
        raise ValidationError(
            f"{len(tags)} tags given; at most {MAX_REQUEST_TAGS}: a training job holds at most {MAX_TAGS} "
            f"tags and the tuner adds its own ({constants.DEPLOYMENT_TAG}) to each",
            path,
        )
    out = []
    for i, tag in enumerate(tags):
        key = _mapping(tag, f"{path}[{i}]").get("Key")
        if not isinstance(key, str) or not key:
            raise ValidationError("every tag needs a Key", f"{path}[{i}].Key")
        if key.lower().startswith(constants.RESERVED_TAG_PREFIX) and key not in TUNER_SET_TAGS:
            raise ValidationError(
                f"tag key {key!r} is reserved: keys beginning with {constants.RESERVED_TAG_PREFIX!r} are set "
                f"by the tuner itself ({constants.DEPLOYMENT_TAG} on every training job it starts); rename the tag",
                f"{path}[{i}].Key",
            )
        out.append(dict(tag))
    return tuple(out)


def _as_run(request: Mapping[str, Any], max_jobs: int) -> Mapping[str, Any]:
    """The request with the job count it runs: Grid without ``MaxNumberOfTrainingJobs`` runs every
    combination, and describe reports that number as AMT does."""
    limits = (request.get(_CONFIG) or {}).get("ResourceLimits") or {}
    if limits.get("MaxNumberOfTrainingJobs") is not None:
        return request
    out = dict(request)
    out[_CONFIG] = {**out[_CONFIG], "ResourceLimits": {**limits, "MaxNumberOfTrainingJobs": max_jobs}}
    return out


def parse_request(request: Mapping[str, Any]) -> TuningRequest:
    """Check AMT's semantic rules and build the ``TuningRequest``; raises one ``ValidationError``
    listing every problem (``request_problems``)."""
    req, problems = request_problems(request)
    if req is None:
        raise ValidationError.combined(problems, REQUEST_SUBJECT)
    return req


def request_problems(request: Any) -> tuple[TuningRequest | None, list[ValidationError]]:
    """Every problem of a request by AMT's semantic rules, in the order AMT reports them, and the
    ``TuningRequest`` when there is none (else None).

    One section parser per part of the request. The sections are independent, except that a rule
    needing a part with problems of its own is left out (Grid's job count without valid
    definitions, ...); a request that is not an object, has no HyperParameterTuningJobConfig or no
    training job definition ends the checking there.
    """
    problems = Problems(REQUEST_SUBJECT)
    try:
        req = _parse(request, problems)
    except ValidationError as err:  # nothing after it can be checked
        problems.add(err)
        req = None
    return (req if not problems else None), problems.errors


def _parse(request: Any, problems: Problems) -> TuningRequest | None:
    """``request_problems``' sections; raises ``ValidationError`` for a problem that ends the checking."""
    request = _mapping(request, "request")
    name = problems.check(
        _check_name, request.get("HyperParameterTuningJobName"), "HyperParameterTuningJobName", NAME_PATTERN,
        MAX_NAME_LENGTH,
    )
    config = _mapping(request.get(_CONFIG), _CONFIG)
    if not config:
        raise ValidationError("give the HyperParameterTuningJobConfig (Strategy, ResourceLimits, ...)", _CONFIG)
    request = autotune.resolve(request)  # Autotune's ranges and settings, chosen once (core.autotune)
    config = _mapping(request.get(_CONFIG), _CONFIG)
    strategy = config.get("Strategy")
    strategy = DEFAULT_STRATEGY if strategy is None else problems.check(
        _choice, strategy, STRATEGIES, f"{_CONFIG}.Strategy"
    )
    definitions = _definitions(request, config, problems)
    multi = request.get("TrainingJobDefinitions") is not None
    early = problems.check(_early_stopping, config, strategy, multi)
    strategy_config = problems.check(_strategy_config, config, strategy, definitions)
    limits = problems.check(_mapping, config.get("ResourceLimits"), _LIMITS)
    max_jobs = max_parallel = runtime = None
    if limits is not None:
        max_parallel = problems.check(_max_parallel, limits)
        max_jobs = problems.check(_max_jobs, limits, strategy, definitions)
        runtime = problems.check(_runtime, limits)
    completion = _completion(config.get("TuningJobCompletionCriteria"), problems)
    seed = config.get("RandomSeed")
    if seed is not None:
        seed = problems.check(_int, seed, f"{_CONFIG}.RandomSeed", lo=0, what="an integer >= 0")
    warm_start = problems.check(_warm_start, request.get("WarmStartConfig"), name)
    if request.get("WarmStartConfig") is not None and multi:
        problems.add(ValidationError(
            "warm start works with a single TrainingJobDefinition only; remove WarmStartConfig", "WarmStartConfig"
        ))
    tags = problems.check(check_tags, request.get("Tags"))
    if problems:
        return None
    if (name is None or strategy is None or definitions is None or early is None or strategy_config is None
            or max_jobs is None or max_parallel is None or tags is None):
        return None  # each None above is a problem kept in ``problems``
    metric_names = {d.objective_metric for d in definitions}
    return TuningRequest(
        name=name,
        raw=_as_run(request, max_jobs),
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
        tags=tags,
    )


__all__ = [
    "ALGORITHM_FIELDS",
    "CONVERTED_FIELDS",
    "DEFINITION_NAME_PATTERN",
    "MAX_DEFINITIONS",
    "MAX_HYPERPARAMETERS",
    "MAX_METRIC_DEFINITIONS",
    "MAX_RETRY_ATTEMPTS",
    "OBJECTIVE_TYPES",
    "RESOURCE_FIELDS",
    "PASSTHROUGH_FIELDS",
    "TUNER_FIELDS",
    "Definition",
    "REQUEST_SUBJECT",
    "check_tags",
    "TuningRequest",
    "parse_request",
    "request_problems",
]
