"""AlgorithmName: an algorithm resource's metrics, read with DescribeAlgorithm when a job is created.

AMT takes an algorithm resource's metrics from its ``TrainingSpecification``:
``MetricDefinitions`` (how SageMaker parses its logs) and ``SupportedTuningJobObjectiveMetrics``
(what may be the objective, and in which direction). The create use case does the same, through
the training backend (``TrainingBackend.describe_algorithm``):

* ``with_algorithm_metrics`` (``CreateJob.prepare``): a definition with an ``AlgorithmName`` and no
  ``MetricDefinitions`` gets the algorithm's, stored with the job, so every later step parses the
  logs with them (the intermediate series; early stopping). They are never passed to
  CreateTrainingJob (``Definition.passes_metric_definitions``): SageMaker applies the algorithm's
  own and reports the final values in ``FinalMetricDataList``, which the recorder prefers.
* ``check_algorithms`` (``CreateJob.check``): the algorithm must exist; the objective must be one
  of its ``SupportedTuningJobObjectiveMetrics``, with that ``Type`` (when it lists any); and
  ``MetricDefinitions`` given with an ``AlgorithmName`` must be among the algorithm's own, since SageMaker
  refuses to override them ("you can't override the metric definitions for AWS Marketplace
  algorithms").

Both are idempotent: a request ``prepare`` filled in passes ``check`` and is left as it is by a
second ``prepare`` (the state machine's create step prepares the request ``submit`` prepared).
"""
from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from tuner.core.metrics import regex_problem
from tuner.core.objective import objective_of
from tuner.errors import ValidationError
from tuner.service.ports import TrainingBackend

#: An algorithm's name or ARN as DescribeAlgorithm takes it (botocore's ``ArnOrName``, 1-170 chars).
#: Anything else is not described: the request's shape check refuses it with the field's rule.
_ARN_OR_NAME = re.compile(
    r"(arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*/)?[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"
)


def _definitions(request: Mapping[str, Any]) -> Iterator[tuple[str, int | None, dict[str, Any]]]:
    """``(field path, index in TrainingJobDefinitions or None, definition)`` of every definition that
    names an AlgorithmName DescribeAlgorithm can take."""
    single = request.get("TrainingJobDefinition")
    found: list[tuple[str, int | None, Any]] = [("TrainingJobDefinition", None, single)] if single else []
    many = request.get("TrainingJobDefinitions")
    found += [(f"TrainingJobDefinitions[{i}]", i, d) for i, d in enumerate(many if isinstance(many, list) else [])]
    for path, index, d in found:
        spec = d.get("AlgorithmSpecification") if isinstance(d, Mapping) else None
        name = spec.get("AlgorithmName") if isinstance(spec, Mapping) else None
        if isinstance(name, str) and len(name) <= 170 and _ARN_OR_NAME.fullmatch(name):
            yield path, index, d


def _training_specification(backend: TrainingBackend, name: str, path: str) -> Mapping[str, Any]:
    described = backend.describe_algorithm(name)
    if described is None:
        raise ValidationError(
            f"SageMaker has no algorithm {name!r} in this account and region (DescribeAlgorithm); give the "
            "name or ARN of an algorithm resource you created or subscribed to",
            f"{path}.AlgorithmSpecification.AlgorithmName",
        )
    return described.get("TrainingSpecification") or {}


def _own(spec: Mapping[str, Any]) -> list[dict[str, str]]:
    """The algorithm's MetricDefinitions that the tuner can run: a regex ``regex_problem`` refuses
    is left out (SageMaker still reports that metric's final value in FinalMetricDataList)."""
    return [{"Name": m["Name"], "Regex": m["Regex"]} for m in spec.get("MetricDefinitions") or []
            if not regex_problem(m["Regex"])]


def with_algorithm_metrics(request: Mapping[str, Any], backend: TrainingBackend) -> dict[str, Any]:
    """The request with each AlgorithmName's own MetricDefinitions where it gives none (a copy when
    one is filled in). An unknown algorithm is left for ``check_algorithms`` to refuse."""
    filled: dict[str, Any] | None = None
    for _, index, d in list(_definitions(request)):
        spec = d["AlgorithmSpecification"]
        if spec.get("MetricDefinitions"):
            continue
        own = _own((backend.describe_algorithm(spec["AlgorithmName"]) or {}).get("TrainingSpecification") or {})
        if not own:
            continue
        filled = filled if filled is not None else copy.deepcopy(dict(request))
        target = filled["TrainingJobDefinition"] if index is None else filled["TrainingJobDefinitions"][index]
        target["AlgorithmSpecification"]["MetricDefinitions"] = own
    return filled if filled is not None else dict(request)


def check_algorithms(request: Mapping[str, Any], backend: TrainingBackend) -> None:
    """AMT's rules for every AlgorithmName (module docstring); ``ValidationError`` naming the field."""
    for path, _, d in _definitions(request):
        algorithm = d["AlgorithmSpecification"]["AlgorithmName"]
        spec = _training_specification(backend, algorithm, path)
        own, given = _own(spec), d["AlgorithmSpecification"].get("MetricDefinitions") or []
        if own and any(dict(m) not in own for m in given):
            raise ValidationError(
                f"algorithm {algorithm!r} defines its own metrics and SageMaker refuses to override them; "
                f"remove MetricDefinitions (the tuner reads the algorithm's: {[m['Name'] for m in own]})",
                f"{path}.AlgorithmSpecification.MetricDefinitions",
            )
        objective = objective_of(request, d.get("DefinitionName")) or {}
        supported = {m.get("MetricName"): m.get("Type") for m in spec.get("SupportedTuningJobObjectiveMetrics") or []}
        metric, kind = objective.get("MetricName"), objective.get("Type")
        if not supported:
            continue
        if metric not in supported:
            raise ValidationError(
                f"algorithm {algorithm!r} supports the objective metrics {sorted(supported)} "
                f"(SupportedTuningJobObjectiveMetrics), not {metric!r}; choose one of them",
                f"{path}.AlgorithmSpecification.AlgorithmName",
            )
        if supported[metric] and kind != supported[metric]:
            raise ValidationError(
                f"algorithm {algorithm!r} supports {metric!r} as an objective to {supported[metric]}; "
                f"set the objective's Type to {supported[metric]}",
                f"{path}.AlgorithmSpecification.AlgorithmName",
            )
