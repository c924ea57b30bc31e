"""What the tests build, in one place: CreateHyperParameterTuningJob requests, parameter ranges,
the example requests under tests/events, hostile requests generated from SageMaker's own shape,
a finished job's describe and training job summaries, and the offline loop's start-and-wait.

``tuning_request`` is the one request builder. With no keyword it is the smallest valid request
(Random, one continuous ``x``, an image with one ``loss`` metric, nothing optional); every keyword
changes one thing. ``source`` picks a script-mode training script the offline loop can run:

* ``"quick"``: tests/e2e/scripts/quick/train.py, prints ``loss: <value>`` (minimise ``loss``);
* ``"epochs"``: examples/epochs/train.py, prints ``validation-loss`` and ``train-loss`` every epoch
  (minimise ``validation-loss``).

``builtin="xgboost"`` instead makes the definition SageMaker's built-in XGBoost algorithm: its image,
no MetricDefinitions, its hyperparameter names and examples/builtin-xgboost's CSV channels (maximise
``validation:auc``).

``start_and_wait`` runs a request through a ``LocalTuner`` (the e2e package's ``local_tuner``)
and returns its DescribeHyperParameterTuningJob response.
"""
from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from tuner import shapes

ROOT = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).resolve().parent / "events"
SCRIPTS = Path(__file__).resolve().parent / "e2e" / "scripts"
EXAMPLES = ROOT / "examples"

ACCOUNT = "123456789012"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/quick:latest"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecutionRole"
OUTPUT = "s3://tuner-e2e-output/models"
LOSS = [{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}]
# The SageMaker SDK's HyperparameterTuningJobAnalytics columns after the tuned hyperparameters
# (sagemaker/analytics.py); tuner analytics must give the same ones.
SDK_ANALYTICS_COLUMNS = [
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
]

# source -> (folder holding it, image, metric definitions, static hyperparameters)
SOURCES: dict[str, tuple[Path, str, list[dict[str, str]], dict[str, str]]] = {
    "quick": (SCRIPTS, IMAGE, LOSS, {"epochs": "3"}),
    "epochs": (
        EXAMPLES,
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/epochs:latest",
        [
            {"Name": "validation-loss", "Regex": "validation-loss: ([0-9\\.]+)"},
            {"Name": "train-loss", "Regex": "train-loss: ([0-9\\.]+)"},
        ],
        {"epochs": "4", "sleep": "0.05"},
    ),
}


BUILTIN_XGBOOST = EXAMPLES / "builtin-xgboost"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# built-in -> (image, static hyperparameters, InputDataConfig (paths relative to its example folder))
BUILTINS: dict[str, tuple[str, dict[str, str], list[dict[str, Any]]]] = {
    "xgboost": (
        XGBOOST_IMAGE,
        {"num_round": "10", "objective": "binary:logistic", "eval_metric": "auc"},
        [
            {"ChannelName": channel, "ContentType": "text/csv",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"data/{channel}"}}}
            for channel in ("train", "validation")
        ],
    ),
}


# ---- parameter ranges ----------------------------------------------------------------------------
def continuous(lo: float | str, hi: float | str, *, name: str = "x", scaling: str | None = None) -> dict[str, Any]:
    """ParameterRanges with one continuous range."""
    spec = {"Name": name, "MinValue": str(lo), "MaxValue": str(hi)}
    if scaling is not None:
        spec["ScalingType"] = scaling
    return {"ContinuousParameterRanges": [spec]}


def integer(lo: int | str, hi: int | str, *, name: str = "x", scaling: str | None = None) -> dict[str, Any]:
    """ParameterRanges with one integer range."""
    spec = {"Name": name, "MinValue": str(lo), "MaxValue": str(hi)}
    if scaling is not None:
        spec["ScalingType"] = scaling
    return {"IntegerParameterRanges": [spec]}


def categorical(*values: str, name: str = "x") -> dict[str, Any]:
    """ParameterRanges with one categorical range (what Grid takes)."""
    return {"CategoricalParameterRanges": [{"Name": name, "Values": list(values)}]}


# ---- requests ------------------------------------------------------------------------------------
def training_definition(
    *,
    source: str | None = None,
    builtin: str | None = None,
    image: str | None = None,
    algorithm_name: str | None = None,
    metric_definitions: Sequence[Mapping[str, str]] | None = None,
    static: Mapping[str, str] | None = None,
    name: str | None = None,
    objective: tuple[str, str] | None = None,
    ranges: Mapping[str, Any] | None = None,
    retry_attempts: int | None = None,
    max_runtime_seconds: int = 300,
    output_path: str = OUTPUT,
    role: str = ROLE,
    **members: Any,
) -> dict[str, Any]:
    """A HyperParameterTrainingJobDefinition.

    ``source``: a script-mode script (see the module docstring) or None for a plain ``image``;
    ``builtin``: a built-in algorithm instead (``BUILTINS``: no MetricDefinitions).
    ``algorithm_name`` replaces the image (and needs no metric definitions). ``static`` is merged
    over the source's static hyperparameters. ``name``, ``objective`` (type, metric) and
    ``ranges`` are the members of one of several definitions (DefinitionName, TuningObjective,
    HyperParameterRanges). ``members`` are set as given (InputDataConfig, Environment, ...).
    """
    statics: dict[str, str] = {}
    metrics: list[dict[str, str]] = [dict(m) for m in LOSS]
    if source is not None:
        _, source_image, source_metrics, source_static = SOURCES[source]
        metrics = [dict(m) for m in source_metrics]
        statics = {"sagemaker_program": "train.py", "sagemaker_submit_directory": source, **source_static}
        image = image or source_image
    if builtin is not None:
        image, statics, channels = BUILTINS[builtin][0], dict(BUILTINS[builtin][1]), BUILTINS[builtin][2]
        metrics = []  # a built-in algorithm reports its own metrics
        members = {"InputDataConfig": copy.deepcopy(channels), **members}
    if metric_definitions is not None:
        metrics = [dict(m) for m in metric_definitions]
    algorithm: dict[str, Any] = {"TrainingInputMode": "File"}
    if algorithm_name is not None:
        algorithm["AlgorithmName"] = algorithm_name
        if metric_definitions is not None:
            algorithm["MetricDefinitions"] = metrics
    else:
        algorithm["TrainingImage"] = image or IMAGE
        if metrics or builtin is None:
            algorithm["MetricDefinitions"] = metrics
    definition: dict[str, Any] = {}
    if name is not None:
        definition["DefinitionName"] = name
    if objective is not None:
        definition["TuningObjective"] = {"Type": objective[0], "MetricName": objective[1]}
    if ranges is not None:
        definition["HyperParameterRanges"] = copy.deepcopy(dict(ranges))
    statics.update(static or {})
    if statics:
        definition["StaticHyperParameters"] = statics
    definition.update(
        {
            "AlgorithmSpecification": algorithm,
            "RoleArn": role,
            "OutputDataConfig": {"S3OutputPath": output_path},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
        }
    )
    if retry_attempts is not None:
        definition["RetryStrategy"] = {"MaximumRetryAttempts": retry_attempts}
    definition.update(copy.deepcopy(members))
    return definition


def tuning_request(
    name: str | None = "job",
    *,
    strategy: str = "Random",
    ranges: Mapping[str, Any] | None = None,
    max_jobs: int | None = 3,
    max_parallel: int = 1,
    max_runtime: int | None = None,
    seed: int | None = 1,
    objective_type: str = "Minimize",
    objective_metric: str | None = None,
    early_stopping: str | None = None,
    completion: Mapping[str, Any] | None = None,
    strategy_config: Mapping[str, Any] | None = None,
    warm_start: Sequence[str] | None = None,
    warm_start_type: str = "IdenticalDataAndAlgorithm",
    definitions: Sequence[Mapping[str, Any]] | None = None,
    tags: Sequence[Mapping[str, str]] | None = None,
    auto_parameters: Mapping[str, str] | None = None,
    **definition: Any,
) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request (a fresh dict every call).

    ``name`` None leaves HyperParameterTuningJobName out (a family's BaseRequest). ``ranges``
    defaults to a continuous ``x`` in [0, 10] (``eta`` in [0.05, 0.5] for a ``builtin``);
    ``max_jobs`` None leaves MaxNumberOfTrainingJobs out (Grid runs every combination); ``seed``
    None leaves RandomSeed out. ``objective_metric`` defaults to the first metric definition
    (``validation:auc`` for a ``builtin``). ``completion`` is TuningJobCompletionCriteria,
    ``early_stopping`` TrainingJobEarlyStoppingType, ``warm_start`` the parents' names.
    ``auto_parameters`` (name -> ValueHint) turns Autotune on and lists them as
    ``ParameterRanges.AutoParameters``, beside ``ranges`` when given (else alone).
    ``definitions`` (see ``training_definition(name=, objective=, ranges=)``) makes a request with
    TrainingJobDefinitions, the objective and ranges then in each; otherwise the remaining keywords
    go to ``training_definition`` for the one TrainingJobDefinition.
    """
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": max_parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    if max_runtime is not None:
        limits["MaxRuntimeInSeconds"] = max_runtime
    config: dict[str, Any] = {"Strategy": strategy, "ResourceLimits": limits}
    request: dict[str, Any] = {}
    if name is not None:
        request["HyperParameterTuningJobName"] = name
    request["HyperParameterTuningJobConfig"] = config
    if definitions is not None:
        assert not definition, f"give {sorted(definition)} to each training_definition"
        request["TrainingJobDefinitions"] = [copy.deepcopy(dict(d)) for d in definitions]
    else:
        single = training_definition(**definition)
        metrics = single["AlgorithmSpecification"].get("MetricDefinitions") or LOSS
        metric = objective_metric or ("validation:auc" if definition.get("builtin") else metrics[0]["Name"])
        config["HyperParameterTuningJobObjective"] = {"Type": objective_type, "MetricName": metric}
        default = continuous(0, 10) if auto_parameters is None else {}
        if definition.get("builtin") and auto_parameters is None:
            default = continuous(0.05, 0.5, name="eta")  # a hyperparameter the built-in knows
        config["ParameterRanges"] = copy.deepcopy(dict(ranges)) if ranges is not None else default
        request["TrainingJobDefinition"] = single
    if auto_parameters is not None:
        assert definitions is None, "give AutoParameters in each definition's HyperParameterRanges"
        request["Autotune"] = {"Mode": "Enabled"}
        config["ParameterRanges"]["AutoParameters"] = [{"Name": k, "ValueHint": v} for k, v in auto_parameters.items()]
    if seed is not None:
        config["RandomSeed"] = seed
    if early_stopping is not None:
        config["TrainingJobEarlyStoppingType"] = early_stopping
    if completion is not None:
        config["TuningJobCompletionCriteria"] = copy.deepcopy(dict(completion))
    if strategy_config is not None:
        config["StrategyConfig"] = copy.deepcopy(dict(strategy_config))
    if warm_start is not None:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in warm_start],
            "WarmStartType": warm_start_type,
        }
    if tags is not None:
        request["Tags"] = [dict(t) for t in tags]
    return request


def event_request(
    file: str = "request_random", name: str | None = None, *, config: Mapping[str, Any] | None = None, **members: Any
) -> dict[str, Any]:
    """The example request tests/events/<file>.json (a fresh copy): renamed when ``name`` is given,
    ``config`` merged into its HyperParameterTuningJobConfig, ``members`` set at the top level."""
    request = json.loads((EVENTS / f"{file}.json").read_text())
    if name is not None:
        request["HyperParameterTuningJobName"] = name
    request["HyperParameterTuningJobConfig"].update(copy.deepcopy(dict(config or {})))
    request.update(copy.deepcopy(members))
    return request


EVENT_REQUESTS = sorted(p.stem for p in EVENTS.glob("request_*.json"))


# ---- hostile requests, generated from SageMaker's own input shape -------------------------------
OPERATION = "CreateHyperParameterTuningJob"
SEEDS = [event_request(file) for file in EVENT_REQUESTS]
MAX_DEPTH = 8

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def input_shape() -> Any:
    """botocore's input shape of CreateHyperParameterTuningJob."""
    return shapes.service_model().operation_model(OPERATION).input_shape


def _string(shape: Any) -> st.SearchStrategy[str]:
    enum = list(getattr(shape, "enum", None) or [])
    lo, hi = shape.metadata.get("min", 0), shape.metadata.get("max", 64)
    hi = min(hi, 64)
    options: list[st.SearchStrategy[str]] = []
    if enum:
        options.append(st.sampled_from(enum))
    pattern = shape.metadata.get("pattern")
    compiled = shapes._pattern(pattern) if pattern else None
    if compiled is not None and pattern not in (".*", ".+", "[\\S\\s]*"):
        try:
            in_bounds = st.from_regex(compiled, fullmatch=True).filter(lambda s: lo <= len(s) <= max(hi, lo))
            options.append(in_bounds)
        except Exception:  # a construct hypothesis cannot generate from
            pass
    options.append(st.text(alphabet=st.characters(codec="utf-8"), min_size=lo, max_size=max(hi, lo)))
    options.append(st.sampled_from(["", " ", "-", "x" * 300, "0", "1e400", "nan", "ml.m5.large", "Maximize"]))
    return st.one_of(*options)


def _number(shape: Any, integral: bool) -> st.SearchStrategy[Any]:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    lo_v = int(lo) if lo is not None else -5
    hi_v = int(hi) if hi is not None else lo_v + 100
    inside = st.integers(lo_v, max(lo_v, min(hi_v, lo_v + 10_000))) if integral else st.floats(lo_v, hi_v)
    edges = st.sampled_from([lo_v - 1, hi_v + 1, 0, -1, 2**31, 10**9])
    return st.one_of(inside, inside, edges)


_CACHE: dict[tuple[str, int], st.SearchStrategy[Any]] = {}


def from_shape(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for ``shape``: mostly of the right type and bounds, sometimes not (cached per depth).

    Invalid choices are mixed in at every level: a required member dropped, an unknown member
    added, a value of the wrong type, a number or a length out of bounds, a string outside its
    enum or pattern."""
    key = (shape.name, min(depth, MAX_DEPTH + 1))
    if key not in _CACHE:
        _CACHE[key] = _from_shape(shape, depth)
    return _CACHE[key]


def _from_shape(shape: Any, depth: int) -> st.SearchStrategy[Any]:
    t = shape.type_name
    if depth > MAX_DEPTH:
        return JUNK
    if t == "structure":
        return _structure(shape, depth)
    if t == "list":
        lo = shape.metadata.get("min", 0)
        return st.lists(from_shape(shape.member, depth + 1), min_size=0, max_size=max(3, lo + 1))
    if t == "map":
        return st.dictionaries(_string(shape.key), from_shape(shape.value, depth + 1), max_size=3)
    if t == "string":
        return _string(shape)
    if t in ("integer", "long"):
        return _number(shape, True)
    if t in ("float", "double"):
        return _number(shape, False)
    if t == "boolean":
        return st.booleans()
    if t == "timestamp":
        return st.sampled_from(["2024-01-01T00:00:00Z", "yesterday", 0])
    return JUNK


@st.composite
def _structure(draw: st.DrawFn, shape: Any, depth: int) -> dict[str, Any]:
    required = set(getattr(shape, "required_members", []) or [])
    out: dict[str, Any] = {}
    keep_optional = 0.5 if depth < 3 else 0.25
    for name, sub in shape.members.items():
        wanted = name in required or draw(st.floats(0, 1)) < keep_optional
        if name in required and draw(st.integers(0, 19)) == 0:
            wanted = False  # a required member missing
        if not wanted:
            continue
        if draw(st.integers(0, 24)) == 0:
            out[name] = draw(JUNK)  # the wrong type
        else:
            out[name] = draw(from_shape(sub, depth + 1))
    if draw(st.integers(0, 29)) == 0:
        out[draw(st.sampled_from(["Extra", "hyperParameterTuningJobName", "__proto__", "x y"]))] = draw(JUNK)
    return out


def _paths(value: Any, shape: Any, prefix: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, shape) of every member present in a request."""
    out = [(prefix, shape)]
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                out.extend(_paths(v, shape.members[k], (*prefix, k)))
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, shape.member, (*prefix, i)))
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, shape.value, (*prefix, k)))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid example request (``SEEDS``) with one to three members replaced by a value generated
    for that member's shape (valid or not), deleted, or set to null."""
    request = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    shape = input_shape()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(request, shape) if p[0]]
        path, sub = draw(st.sampled_from(paths))
        parent = request
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "null"]))
        key = path[-1]
        if action == "delete":
            del parent[key]
        elif action == "null":
            parent[key] = None
        else:
            parent[key] = draw(from_shape(sub, depth=len(path)))
    return request


# ---- a finished tuning job's responses (x on a log axis, a colour; the loss is |x - 3|) ---------
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def job_summary(
    i: int, x: float, color: str, value: float | None, *, status: str = "Completed", definition: str | None = None
) -> dict[str, Any]:
    """The TrainingJobSummary of trial ``i`` (started at T0 + i seconds, 2.5 seconds long)."""
    s: dict[str, Any] = {
        "TrainingJobName": f"job-{i:03d}-abc",
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/job-{i:03d}-abc",
        "CreationTime": T0 + timedelta(seconds=i),
        "TrainingStartTime": T0 + timedelta(seconds=i),
        "TrainingEndTime": T0 + timedelta(seconds=i + 2.5),
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"x": str(x), "color": color},
        "ObjectiveStatus": "Succeeded" if value is not None else "Failed",
    }
    if value is not None:
        s["FinalHyperParameterTuningJobObjectiveMetric"] = {"Type": "Minimize", "MetricName": "loss", "Value": value}
    if definition:
        s["TrainingJobDefinitionName"] = definition
    return s


def job_summaries(n: int = 30) -> list[dict[str, Any]]:
    """``n`` completed trials (reproducible) and one failed one."""
    rng = random.Random(0)
    out = []
    for i in range(1, n + 1):
        x = 10 ** rng.uniform(-1, 1)
        out.append(job_summary(i, round(x, 4), rng.choice(["red", "green", "blue"]), abs(x - 3) + rng.uniform(0, 0.01)))
    out.append(job_summary(n + 1, 1.0, "red", None, status="Failed"))
    return out


def job_describe() -> dict[str, Any]:
    """The DescribeHyperParameterTuningJob response the summaries belong to (what analytics and
    the report read of it)."""
    return {
        "HyperParameterTuningJobName": "job",
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": T0,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ParameterRanges": {
                **continuous("0.1", "10", scaling="Logarithmic"),
                **categorical("red", "green", "blue", name="color"),
            },
        },
        "TrainingJobStatusCounters": {
            "Completed": 30,
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": 1,
            "Stopped": 0,
        },
    }


# ---- the offline loop ----------------------------------------------------------------------------
SDK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"


def sdk_estimator(sess: Any, hyperparameters: Mapping[str, Any] | None = None) -> Any:
    """The SageMaker SDK's generic ``Estimator`` in script mode on tests/e2e/scripts/quick/train.py."""
    from sagemaker.estimator import Estimator

    return Estimator(
        image_uri=IMAGE,
        role=SDK_ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        entry_point="train.py",
        source_dir=str(SCRIPTS / "quick"),
        hyperparameters=dict(hyperparameters or {"epochs": 2}),
        sagemaker_session=sess,
    )


def source_dir(request: Mapping[str, Any]) -> Path:
    """The folder holding the request's script-mode sources (SCRIPTS or EXAMPLES), or a built-in
    XGBoost's data (BUILTIN_XGBOOST)."""
    definitions = request.get("TrainingJobDefinitions") or [request.get("TrainingJobDefinition") or {}]
    for d in definitions:
        submit = (d.get("StaticHyperParameters") or {}).get("sagemaker_submit_directory")
        if submit and (EXAMPLES / submit).is_dir() and not (SCRIPTS / submit).is_dir():
            return EXAMPLES
        if (d.get("AlgorithmSpecification") or {}).get("TrainingImage") == XGBOOST_IMAGE and not submit:
            return BUILTIN_XGBOOST
    return SCRIPTS


def start_and_wait(
    lt: Any, request: Mapping[str, Any], *, timeout: float = 300, base_dir: Path | None = None
) -> dict[str, Any]:
    """Start ``request`` in the LocalTuner ``lt`` (sources from ``base_dir``, by default the folder
    holding its script) and wait until it ends: its DescribeHyperParameterTuningJob response."""
    lt.start(request, base_dir=base_dir or source_dir(request))
    return lt.wait(request["HyperParameterTuningJobName"], timeout=timeout)


def training_jobs(lt: Any, name: str) -> list[dict[str, Any]]:
    """Every TrainingJobSummary of the tuning job ``name``."""
    return lt.all_training_jobs(name)["TrainingJobSummaries"]


def created_jobs(lt: Any, prefix: str) -> set[str]:
    """The training jobs the local SageMaker created for the tuning job ``prefix``."""
    return {job for _, job, _ in lt.sagemaker.transitions if job.startswith(prefix + "-")}


def logged(lt: Any, training_job: str, metric: str = "loss") -> list[float]:
    """The values a training job printed as ``<metric>: <value>``, in order."""
    pattern = re.compile(rf"(?:^|\s){re.escape(metric)}: (\S+)")
    return [float(m.group(1)) for line in lt.service.ports.logs.lines(training_job) if (m := pattern.search(line))]


def max_concurrent(transitions: list[tuple[float, str, str]], prefix: str) -> int:
    """Most training jobs of one tuning job InProgress at once, from the stand-in's transitions."""
    running: set[str] = set()
    peak = 0
    for _, job, status in sorted(transitions, key=lambda t: t[0]):
        if not job.startswith(prefix + "-"):
            continue
        if status == "InProgress":
            running.add(job)
        else:
            running.discard(job)
        peak = max(peak, len(running))
    return peak
