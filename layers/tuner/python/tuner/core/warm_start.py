"""``WarmStartConfig``: AMT's rules for parent tuning jobs and their trials as observations (pure).

Rules checked when the child is created (``check_parents``):

* every parent exists and is terminal (Completed, Stopped or Failed);
* the objective metric (name and type) is the same as the child's;
* every hyperparameter tuned by both has the same type (Integer, Continuous, Categorical);
* ``IdenticalDataAndAlgorithm``: same training image (or algorithm), the same input data
  (``InputDataConfig``) and the same set of hyperparameter names (static + tuned), as AMT asks;
  ranges and static values of hyperparameters that stay static may not change value.
* ``TransferLearning``: data, ranges and static values may differ.

``observations``: each parent trial with an objective value becomes an ``Observation`` for the
child's strategy when its configuration lies in the child's search space (parameters the child
does not tune are dropped; configurations outside the child's ranges are left out).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tuner.core.records import TERMINAL_JOB, JobRecord, TrialRecord
from tuner.core.request import TuningRequest, parse_request
from tuner.core.strategies.base import Observation
from tuner.errors import ValidationError

IDENTICAL = "IdenticalDataAndAlgorithm"
TRANSFER = "TransferLearning"
_PATH = "WarmStartConfig.ParentHyperParameterTuningJobs"


def parent_names(warm_start: Mapping[str, Any] | None) -> list[str]:
    if not warm_start:
        return []
    return [p["HyperParameterTuningJobName"] for p in warm_start.get("ParentHyperParameterTuningJobs") or []]


def _image(req: TuningRequest) -> Any:
    spec = req.definitions[0].raw.get("AlgorithmSpecification") or {}
    return spec.get("TrainingImage") or spec.get("AlgorithmName")


def check_parents(child: TuningRequest, parents: Sequence[tuple[str, JobRecord | None]]) -> None:
    """Raise ValidationError when a parent breaks one of AMT's warm-start rules."""
    kind = (child.warm_start or {}).get("WarmStartType")
    cdef = child.definitions[0]
    for i, (name, job) in enumerate(parents):
        path = f"{_PATH}[{i}].HyperParameterTuningJobName"
        if job is None:
            raise ValidationError(
                f"no tuning job named {name!r}; name an existing parent tuning job", path, code="ResourceNotFound"
            )
        if job.status not in TERMINAL_JOB:
            raise ValidationError(
                f"parent {name!r} is {job.status}; a parent must be Completed, Stopped or Failed (wait for it)", path
            )
        preq = parse_request(job.request)
        if preq.multi_definition:
            raise ValidationError(f"parent {name!r} has several training job definitions; warm start needs one", path)
        pdef = preq.definitions[0]
        if (pdef.objective_metric, pdef.objective_type) != (cdef.objective_metric, cdef.objective_type):
            raise ValidationError(
                f"parent {name!r} {pdef.objective_type}s {pdef.objective_metric!r}, this job "
                f"{cdef.objective_type}s {cdef.objective_metric!r}; the objective must be the same",
                path,
            )
        ptypes = {p.name: p.kind for p in pdef.space}
        for p in cdef.space:
            if p.name in ptypes and ptypes[p.name] != p.kind:
                raise ValidationError(
                    f"hyperparameter {p.name!r} is {p.kind} here but {ptypes[p.name]} in parent {name!r}; "
                    "keep its type",
                    path,
                )
        if kind == IDENTICAL:
            _check_identical(name, path, child, preq)


def _check_identical(name: str, path: str, child: TuningRequest, preq: TuningRequest) -> None:
    """IdenticalDataAndAlgorithm: the parent's image, data, hyperparameter names and static values."""
    cdef, pdef = child.definitions[0], preq.definitions[0]
    ptypes = {p.name: p.kind for p in pdef.space}
    if _image(preq) != _image(child):
        raise ValidationError(
            f"IdenticalDataAndAlgorithm needs the parent's training image; {name!r} used "
            f"{_image(preq)!r} (use TransferLearning for another algorithm)",
            path,
        )
    if (pdef.raw.get("InputDataConfig") or None) != (cdef.raw.get("InputDataConfig") or None):
        raise ValidationError(
            f"IdenticalDataAndAlgorithm needs the parent's InputDataConfig; {name!r} used other data "
            "(use TransferLearning for new data)",
            path,
        )
    pnames = set(pdef.static_hyperparameters) | set(ptypes)
    cnames = set(cdef.static_hyperparameters) | set(cdef.space.names)
    if pnames != cnames:
        raise ValidationError(
            f"IdenticalDataAndAlgorithm keeps the set of hyperparameters; differences with {name!r}: "
            f"{sorted(pnames ^ cnames)}",
            path,
        )
    for key, value in cdef.static_hyperparameters.items():
        if key.startswith("sagemaker_"):
            continue  # sources are re-uploaded per job
        if key in pdef.static_hyperparameters and pdef.static_hyperparameters[key] != value:
            raise ValidationError(
                f"static hyperparameter {key!r} is {value!r} here but "
                f"{pdef.static_hyperparameters[key]!r} in {name!r}; keep it (or use TransferLearning)",
                path,
            )


def observations(child: TuningRequest, parent_trials: Sequence[TrialRecord]) -> list[Observation]:
    """The parents' scored trials that the child's strategy can use, as observations."""
    space = child.definitions[0].space
    out = []
    for t in parent_trials:
        if t.objective_status != "Succeeded" or t.final_objective is None:
            continue
        config = {n: t.params[n] for n in space.names if n in t.params}
        if len(config) != space.dim or not space.contains(config):
            continue
        out.append(Observation(params=config, value=float(t.final_objective), trial_number=0))
    return out
