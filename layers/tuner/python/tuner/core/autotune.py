"""Autotune (``Autotune: {Mode: Enabled}``): the ranges and settings chosen for a request (pure).

What AMT documents (SageMaker API reference: ``Autotune``, ``AutoParameter``; the SageMaker Python
SDK's ``HyperparameterTuner(autotune=True)``): Autotune chooses ``ParameterRanges`` for the
hyperparameters listed in ``ParameterRanges.AutoParameters`` (``Name`` and ``ValueHint``, an example
value) that it finds eligible, and ``ResourceLimits``, ``TrainingJobEarlyStoppingType``,
``RetryStrategy``, ``Strategy`` and ``ConvergenceDetected``; a setting the request gives is kept
("the parameter ranges or other unset settings" are chosen). AMT does not document the values it
picks; this module's rule does, and docs/parity.md states it:

* **Ranges** (per ``AutoParameter``, in the order given, while the definition has fewer than
  ``MAX_RANGES`` ranges): a ``ValueHint`` that is an integer ``v >= 1`` gives the
  ``IntegerParameterRange`` ``[max(1, v // 2), 2 v]`` (Linear); a decimal ``0 < v < 1`` the
  ``ContinuousParameterRange`` ``[v / 10, min(10 v, (1 + v) / 2)]`` (Logarithmic: it stays below 1,
  as a fraction or a rate must); a decimal ``v >= 1`` ``[v / 10, 10 v]`` (Logarithmic). Not
  eligible, and passed to every training job as a static hyperparameter with the hint as its value:
  reserved names (``sagemaker_*``, ``_*``), training-length names (``EPOCH_KEYS``: more epochs
  nearly always score better, and Hyperband reads its resource from them), and hints that are zero,
  negative or not a number.
* **Settings**, each only when the request leaves it out: ``MaxNumberOfTrainingJobs``
  ``clamp(10 d, 20, 100)`` for ``d`` tuned hyperparameters, given or chosen (not for Grid, which
  runs every combination); ``TrainingJobEarlyStoppingType`` ``Off`` (the median rule needs every job to emit
  the objective each epoch, which a request does not tell); ``RetryStrategy`` of each definition
  ``MaximumRetryAttempts: 2`` (AMT retries ``InternalServerError`` only); and, except for Grid,
  ``TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence: Enabled``. ``Strategy``
  and ``MaxParallelTrainingJobs`` are required members of the request's shape: always the caller's.
  ``MaxRuntimeInSeconds`` stays unset.

``resolve`` returns the request with ``AutoParameters`` replaced by what was chosen, so the job
runs, stores and describes explicit ranges and settings (``Autotune`` itself is kept); a resolved
request resolves to itself.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from tuner.core.request_checks import _CONFIG, _choice, _mapping
from tuner.core.strategies.hyperband import EPOCH_KEYS
from tuner.errors import ValidationError

AUTO_PARAMETERS = "AutoParameters"
MODES = ("Enabled",)
MAX_RANGES = 30  # ranges per definition (AMT)
RESERVED_PREFIXES = ("sagemaker_", "_")
MIN_JOBS, JOBS_PER_HYPERPARAMETER, MAX_JOBS = 20, 10, 100
RETRY_ATTEMPTS = 2
_INTEGER = re.compile(r"[+-]?\d+")
_RANGE_LISTS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")


def enabled(request: Mapping[str, Any]) -> bool:
    """Whether the request asks for Autotune (``Autotune.Mode`` is checked here)."""
    value = request.get("Autotune")
    if value is None:
        return False
    _choice(_mapping(value, "Autotune").get("Mode"), MODES, "Autotune.Mode")
    return True


def pending(request: Mapping[str, Any]) -> bool:
    """Whether any ``AutoParameters`` are still to be resolved."""
    return any(ranges.get(AUTO_PARAMETERS) for _, ranges, _ in _locations(request))


def choose_range(name: str, hint: str) -> tuple[str, dict[str, str]] | None:
    """The range the rule chooses for ``name`` from its ``ValueHint``: (list key, range), or None
    when the hyperparameter is not eligible (it stays static at ``hint``)."""
    if name.startswith(RESERVED_PREFIXES) or name.lower() in EPOCH_KEYS:
        return None
    text = hint.strip()
    if _INTEGER.fullmatch(text):
        v = int(text)
        if v < 1:
            return None
        return "IntegerParameterRanges", {
            "Name": name, "MinValue": str(max(1, v // 2)), "MaxValue": str(2 * v), "ScalingType": "Linear"
        }
    try:
        x = float(text)
    except ValueError:
        return None
    if not math.isfinite(x) or x <= 0:
        return None
    hi = min(10 * x, (1 + x) / 2) if x < 1 else 10 * x
    return "ContinuousParameterRanges", {
        "Name": name, "MinValue": _decimal(x / 10), "MaxValue": _decimal(hi), "ScalingType": "Logarithmic"
    }


def max_jobs(tuned: int) -> int:
    """``MaxNumberOfTrainingJobs`` for ``tuned`` hyperparameters (given or chosen): 10 each, at least
    20, at most 100."""
    return min(MAX_JOBS, max(MIN_JOBS, JOBS_PER_HYPERPARAMETER * tuned))


def resolve(request: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request with Autotune's choices filled in (the request itself when there is nothing to
    choose). Raises ``ValidationError`` naming the member for AutoParameters without Autotune, a
    hyperparameter given twice, or Grid with AutoParameters."""
    if not enabled(request):
        for path, ranges, _ in _locations(request):
            if ranges.get(AUTO_PARAMETERS):
                raise ValidationError(
                    "AutoParameters are chosen by Autotune: add Autotune {Mode: Enabled} to the request, "
                    "or give the ranges as Integer/Continuous/CategoricalParameterRanges",
                    f"{path}.{AUTO_PARAMETERS}",
                )
        return request
    out = copy.deepcopy(dict(request))
    config = out.get(_CONFIG)
    if not isinstance(config, dict):
        return out  # parse_request names the missing config
    strategy = config.get("Strategy")
    tuned = 0
    for path, ranges, definition in _locations(out):
        tuned += _resolve_ranges(ranges, definition, path, strategy)
    _choose_settings(out, config, strategy, tuned)
    return out


# ---- the parts --------------------------------------------------------------------------------
def _locations(request: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, ranges, the definition they belong to) of every ParameterRanges of the request."""
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    config = request.get(_CONFIG)
    single = request.get("TrainingJobDefinition")
    multi = request.get("TrainingJobDefinitions")
    if isinstance(single, dict):  # the ranges of one definition: the config's, else the definition's
        if isinstance(config, dict) and isinstance(config.get("ParameterRanges"), dict):
            out.append((f"{_CONFIG}.ParameterRanges", config["ParameterRanges"], single))
        elif isinstance(single.get("HyperParameterRanges"), dict):
            out.append(("TrainingJobDefinition.HyperParameterRanges", single["HyperParameterRanges"], single))
    if isinstance(multi, list):
        for i, d in enumerate(multi):
            if isinstance(d, dict) and isinstance(d.get("HyperParameterRanges"), dict):
                out.append((f"TrainingJobDefinitions[{i}].HyperParameterRanges", d["HyperParameterRanges"], d))
    return out


def _auto_parameters(value: Any, path: str) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise ValidationError("must be a list of {Name, ValueHint}", path)
    out: list[tuple[str, str]] = []
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        item = _mapping(item, p)
        name, hint = item.get("Name"), item.get("ValueHint")
        if not isinstance(name, str) or not name:
            raise ValidationError("give the hyperparameter's Name", f"{p}.Name")
        if not isinstance(hint, str):
            raise ValidationError(f'give an example value as a string, such as "0.1" (not {hint!r})', f"{p}.ValueHint")
        if any(name == n for n, _ in out):
            raise ValidationError(f"{name!r} is listed twice; list it once", f"{p}.Name")
        out.append((name, hint))
    return out


def _resolve_ranges(ranges: dict[str, Any], definition: dict[str, Any], path: str, strategy: Any) -> int:
    """Replace ``ranges``' AutoParameters by chosen ranges and static hyperparameters; the number of
    ranges ``ranges`` then holds."""
    wanted = _auto_parameters(ranges.pop(AUTO_PARAMETERS, None) or [], f"{path}.{AUTO_PARAMETERS}")
    if wanted and strategy == "Grid":
        raise ValidationError(
            "Grid search takes categorical ranges only and Autotune chooses numeric ones: use Bayesian, "
            "Random or Hyperband, or list the values as CategoricalParameterRanges",
            f"{path}.{AUTO_PARAMETERS}",
        )
    given = {
        spec["Name"]
        for key in _RANGE_LISTS
        for spec in _list(ranges.get(key))
        if isinstance(spec, Mapping) and isinstance(spec.get("Name"), str)
    }
    static = definition.get("StaticHyperParameters")
    static = dict(static) if isinstance(static, Mapping) else {}
    count = len(given)
    for name, hint in wanted:
        if name in given or name in static:
            where = "a range" if name in given else "StaticHyperParameters"
            raise ValidationError(
                f"{name!r} is in AutoParameters and in {where}; give it once", f"{path}.{AUTO_PARAMETERS}"
            )
        pick = choose_range(name, hint) if count < MAX_RANGES else None
        if pick is None:
            static[name] = hint
            continue
        key, spec = pick
        ranges[key] = [*_list(ranges.get(key)), spec]
        count += 1
    if static:
        definition["StaticHyperParameters"] = static
    return count


def _choose_settings(request: dict[str, Any], config: dict[str, Any], strategy: Any, tuned: int) -> None:
    """The settings Autotune chooses, each only where the request leaves it out."""
    limits = config.get("ResourceLimits")
    if isinstance(limits, dict) and limits.get("MaxNumberOfTrainingJobs") is None and strategy != "Grid":
        limits["MaxNumberOfTrainingJobs"] = max_jobs(tuned)
    config.setdefault("TrainingJobEarlyStoppingType", "Off")
    definitions = request.get("TrainingJobDefinitions")
    if not isinstance(definitions, list):
        definitions = [request.get("TrainingJobDefinition")]
    for d in definitions:
        if isinstance(d, dict) and d.get("RetryStrategy") is None:
            d["RetryStrategy"] = {"MaximumRetryAttempts": RETRY_ATTEMPTS}
    if strategy != "Grid":
        criteria = config.get("TuningJobCompletionCriteria")
        if criteria is None:
            criteria = config["TuningJobCompletionCriteria"] = {}
        if isinstance(criteria, dict) and criteria.get("ConvergenceDetected") is None:
            criteria["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _decimal(x: float) -> str:
    """A bound as a short decimal string (6 significant digits)."""
    return f"{x:.6g}"
