"""Requests and responses checked against botocore's SageMaker service model.

The service model is the source of truth for every shape the tuner accepts or returns:
``validate_input`` checks a request the way the SageMaker front end would (types, required
members, unknown members, length / value bounds, enums, patterns), and ``validate_output``
checks a response we built (so that boto3 and the SageMaker Python SDK can parse it).

botocore is imported lazily: the pure core never needs it, and a Lambda that does not validate
does not pay for loading the (large) SageMaker model. botocore's ``ParamValidator`` checks types,
required / unknown members and *minimum* bounds only; the rest is checked by ``_walk`` below.

Patterns in the service model are Java regular expressions without anchors; they are applied
with ``re.fullmatch``. The few Java-only constructs (``\\p{L}`` classes, surrogate pairs) are
translated to a close Python equivalent, and a pattern that still does not compile is skipped
(never a false rejection).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from typing import Any

from tuner.errors import ValidationError

SERVICE = "sagemaker"

# Java regex constructs -> Python. Approximate on purpose: accept at least what Java accepts.
_JAVA_CLASSES = {
    r"\p{L}": r"\w",
    r"\p{N}": r"\w",
    r"\p{M}": r"\w",
    r"\p{Alnum}": r"\w",
    r"\p{Z}": r"\s",
    r"\p{P}": r"\W",
    r"\p{S}": r"\W",
    r"\uD800\uDC00-\uDBFF\uDFFF": r"\U00010000-\U0010FFFF",
}


# ---- the service model (cached) --------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def service_model() -> Any:
    """botocore's SageMaker ``ServiceModel`` (loaded once per process)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE)


def _operation(operation: str) -> Any:
    model = service_model()
    try:
        return model.operation_model(operation)
    except Exception:  # botocore.exceptions.OperationNotFoundError
        raise ValueError(f"SageMaker has no operation {operation!r}") from None


@functools.cache
def _pattern(java: str) -> re.Pattern[str] | None:
    text = java
    for java_cls, py_cls in _JAVA_CLASSES.items():
        text = text.replace(java_cls, py_cls)
    try:
        return re.compile(text)
    except re.error:
        return None


# ---- describing what a shape wants (the "what to do" half of a message) ---------------------
def _bounds(shape: Any, unit: str) -> str:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and hi is not None:
        return f"{lo}-{hi} {unit}" if unit else f"between {lo} and {hi}"
    if lo is not None:
        return f"at least {lo} {unit}".rstrip() if unit else f">= {lo}"
    if hi is not None:
        return f"at most {hi} {unit}".rstrip() if unit else f"<= {hi}"
    return ""


def describe(shape: Any) -> str:
    """A short human description of the values a shape accepts, e.g. 'an integer >= 1'."""
    t = shape.type_name
    if t == "structure":
        req = list(getattr(shape, "required_members", []) or [])
        return f"an object with {', '.join(req)}" if req else "an object"
    if t == "list":
        b = _bounds(shape, "items")
        return f"a list of {b}" if b else "a list"
    if t == "map":
        b = _bounds(shape, "entries")
        return f"an object of strings to strings ({b})" if b else "an object of strings to strings"
    if t == "string":
        enum = getattr(shape, "enum", None) or []
        if enum:
            shown = enum if len(enum) <= 12 else [*enum[:12], "..."]
            return "one of " + ", ".join(shown)
        parts = ["a string"]
        b = _bounds(shape, "characters")
        if b:
            parts.append(f"of {b}")
        pat = shape.metadata.get("pattern")
        if pat and pat not in (".*", ".+", "[\\S\\s]*"):
            parts.append(f"matching {pat}")
        return " ".join(parts)
    if t in ("integer", "long"):
        b = _bounds(shape, "")
        return f"an integer {b}" if b else "an integer"
    if t in ("float", "double"):
        b = _bounds(shape, "")
        return f"a number {b}" if b else "a number"
    if t == "boolean":
        return "true or false"
    if t == "timestamp":
        return "a datetime or an ISO-8601 string"
    return f"a {t}"


# ---- problems --------------------------------------------------------------------------------
def _join(path: str, member: str) -> str:
    member = member if member else '""'  # an empty member name must still be visible in the path
    return f"{path}.{member}" if path else member


def _botocore_problems(params: Any, shape: Any) -> list[tuple[str, str]]:
    """Type / required / unknown / minimum problems, from botocore's ParamValidator."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(params, shape)
    if not report.has_errors():
        return []
    errors = getattr(report, "_errors", None)
    if errors is None:  # a future botocore: keep its text, one problem
        return [("", report.generate_report())]
    out: list[tuple[str, str]] = []
    for reason, name, extra in errors:
        path = _botocore_path(name)
        sub = _shape_at(shape, path)
        if reason == "missing required field":
            req = extra["required_name"]
            member = sub.members.get(req) if sub is not None and sub.type_name == "structure" else None
            want = f" ({describe(member)})" if member is not None else ""
            out.append((_join(path, req), f"missing required field; add it{want}"))
        elif reason == "unknown field":
            valid = ", ".join(extra.get("valid_names", []))
            out.append(
                (_join(path, extra["unknown_param"]), f"unknown field; remove it or use one of: {valid}")
            )
        elif reason == "invalid type":
            value = extra.get("param")
            want = describe(sub) if sub is not None else ", ".join(map(str, extra.get("valid_types", [])))
            out.append((path, f"wrong type {type(value).__name__} ({value!r:.60}); give {want}"))
        elif reason in ("invalid range", "invalid length"):
            value = extra.get("param")
            noun = "value" if reason == "invalid range" else "length"
            want = describe(sub) if sub is not None else f">= {extra.get('min_allowed')}"
            out.append(
                (path, f"{noun} {value!r:.60} is below the minimum {extra.get('min_allowed')}; give {want}")
            )
        else:
            out.append((path, f"{reason}: {extra}"))
    return out


def _botocore_path(name: str) -> str:
    """botocore's names ('.A.B[0].C', '.Map (key: k)') -> our paths ('A.B[0].C')."""
    name = name[1:] if name.startswith(".") else name
    return re.sub(r" \(key: (.*)\)$", r"{\1}", name)


_STEP = re.compile(r"\.?([^.\[{]+)|\[(\d+)\]|\{([^}]*)\}")


def _shape_at(shape: Any, path: str) -> Any:
    """The shape found at a path built by ``_join`` / ``[i]`` / ``{key}`` (None when lost)."""
    for m in _STEP.finditer(path):
        if shape is None:
            return None
        member, index, key = m.groups()
        if member is not None:  # a structure member, or a map entry's value
            if shape.type_name == "structure":
                shape = shape.members.get(member)
            else:
                shape = shape.value if shape.type_name == "map" else None
        elif index is not None:
            shape = shape.member if shape.type_name == "list" else None
        else:
            shape = shape.key if shape.type_name == "map" else None
    return shape


def _walk(value: Any, shape: Any, path: str, out: list[tuple[str, str]], *, output: bool) -> None:
    """Bounds (max, and min where botocore does not look), enums and patterns.

    Values of the wrong type are skipped here (botocore's pass reports them), except in
    ``output`` mode, where this walker also does the type checks and required / unknown members.
    """
    t = shape.type_name
    if t == "structure":
        _walk_structure(value, shape, path, out, output=output)
    elif t == "list":
        _walk_list(value, shape, path, out, output=output)
    elif t == "map":
        _walk_map(value, shape, path, out, output=output)
    elif t == "string":
        _walk_string(value, shape, path, out, output=output)
    else:
        _walk_scalar(value, shape, path, out, output=output)


def _walk_structure(value: Any, shape: Any, path: str, out: list[tuple[str, str]], *, output: bool) -> None:
    """A structure: (``output`` mode) its type, required and unknown members; then each member set."""
    if not isinstance(value, dict):
        if output:
            out.append((path, f"wrong type {type(value).__name__}; give {describe(shape)}"))
        return
    if output:
        for req in shape.required_members:
            if value.get(req) is None:
                out.append((_join(path, req), f"missing required field ({describe(shape.members[req])})"))
        unknown = sorted(set(value) - set(shape.members))
        for name in unknown:
            out.append((_join(path, name), "unknown field; not in the response shape"))
    for name, sub in shape.members.items():
        if value.get(name) is not None:
            _walk(value[name], sub, _join(path, name), out, output=output)


def _walk_list(value: Any, shape: Any, path: str, out: list[tuple[str, str]], *, output: bool) -> None:
    """A list: its length, then each item (paths ``path[i]``)."""
    if not isinstance(value, (list, tuple)):
        if output:
            out.append((path, f"wrong type {type(value).__name__}; give {describe(shape)}"))
        return
    _check_size(len(value), shape, path, out, "items", check_min=output)
    for i, item in enumerate(value):
        _walk(item, shape.member, f"{path}[{i}]", out, output=output)


def _walk_map(value: Any, shape: Any, path: str, out: list[tuple[str, str]], *, output: bool) -> None:
    """A map: its size, then each key (path ``path{key}``) and value (path ``path.key``)."""
    if not isinstance(value, dict):
        if output:
            out.append((path, f"wrong type {type(value).__name__}; give {describe(shape)}"))
        return
    _check_size(len(value), shape, path, out, "entries", check_min=output)
    for k, v in value.items():
        _walk(k, shape.key, f"{path}{{{k}}}", out, output=output)
        _walk(v, shape.value, f"{path}.{k}", out, output=output)


def _walk_string(value: Any, shape: Any, path: str, out: list[tuple[str, str]], *, output: bool) -> None:
    """A string: its enum; else its length, then its pattern (only when the length is fine)."""
    if not isinstance(value, str):
        if output:
            out.append((path, f"wrong type {type(value).__name__} ({value!r:.60}); give {describe(shape)}"))
        return
    enum = getattr(shape, "enum", None) or []
    if enum and value not in enum:
        out.append((path, f"{value!r} is not valid; use {describe(shape)}"))
        return
    before = len(out)
    _check_size(len(value), shape, path, out, "characters", check_min=output)
    pat = shape.metadata.get("pattern")
    rx = _pattern(pat) if pat and len(out) == before else None
    if rx is not None and rx.fullmatch(value) is None:
        out.append((path, f"{value!r:.80} does not match the pattern {pat}; give {describe(shape)}"))


def _walk_scalar(value: Any, shape: Any, path: str, out: list[tuple[str, str]], *, output: bool) -> None:
    """A number (its range), a boolean or a timestamp (type only, ``output`` mode); other types
    (e.g. blob) are not checked."""
    t = shape.type_name
    if t in ("integer", "long", "float", "double"):
        kinds = int if t in ("integer", "long") else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            if output:
                out.append((path, f"wrong type {type(value).__name__} ({value!r:.60}); give {describe(shape)}"))
            return
        _check_value(value, shape, path, out, check_min=output)
    elif t == "boolean":
        if output and not isinstance(value, bool):
            out.append((path, f"wrong type {type(value).__name__} ({value!r:.60}); give true or false"))
    elif t == "timestamp":
        if output and not _is_timestamp(value):
            out.append((path, f"{value!r:.60} is not a timestamp; give {describe(shape)}"))


def _check_size(
    n: int, shape: Any, path: str, out: list[tuple[str, str]], unit: str, *, check_min: bool
) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if hi is not None and n > hi:
        out.append((path, f"{n} {unit} is more than the maximum {hi}; give {describe(shape)}"))
    elif check_min and lo is not None and n < lo:
        out.append((path, f"{n} {unit} is fewer than the minimum {lo}; give {describe(shape)}"))


def _check_value(x: float, shape: Any, path: str, out: list[tuple[str, str]], *, check_min: bool) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if hi is not None and x > hi:
        out.append((path, f"{x} is above the maximum {hi}; give {describe(shape)}"))
    elif check_min and lo is not None and x < lo:
        out.append((path, f"{x} is below the minimum {lo}; give {describe(shape)}"))


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, _dt.datetime):
        return True
    if isinstance(value, str):
        try:
            _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True
        except ValueError:
            return False
    return False


def _format(problems: list[tuple[str, str]]) -> list[str]:
    return [f"{p}: {m}" if p else m for p, m in problems]


# ---- the public API --------------------------------------------------------------------------
def input_problems(operation: str, params: dict[str, Any]) -> list[str]:
    """Every problem of ``params`` against the input shape of ``operation`` ('path: what; fix')."""
    return _format(_input_problems(operation, params))


def _input_problems(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    shape = _operation(operation).input_shape
    problems = _botocore_problems(params, shape)
    seen = {p for p, _ in problems}
    extra: list[tuple[str, str]] = []
    _walk(params, shape, "", extra, output=False)
    problems.extend((p, m) for p, m in extra if p not in seen)
    return problems


def validate_input(operation: str, params: dict[str, Any]) -> None:
    """Raise ``ValidationError`` listing every problem of a request to ``operation``.

    ``field`` of the error is the path of the first problem; ``problems`` lists them all.
    """
    problems = _input_problems(operation, params)
    if not problems:
        return
    if len(problems) == 1:
        path, message = problems[0]
        err = ValidationError(message, path or None)
    else:
        lines = "\n".join(f"- {line}" for line in _format(problems))
        err = ValidationError(f"{len(problems)} problems in the {operation} request:\n{lines}")
        err.field = problems[0][0] or None
    err.problems = _format(problems)  # type: ignore[attr-defined]
    raise err


def validate_output(operation: str, response: dict[str, Any]) -> list[str]:
    """Problems of ``response`` against the output shape of ``operation`` (empty: valid).

    Checks required and unknown members, types, enums, bounds and patterns. Timestamps may be
    ``datetime`` objects or ISO-8601 strings (responses are stored as JSON). A ``ResponseMetadata``
    member (added by boto3 / moto) is ignored.
    """
    shape = _operation(operation).output_shape
    body = (
        {k: v for k, v in response.items() if k != "ResponseMetadata"}
        if isinstance(response, dict)
        else response
    )
    out: list[tuple[str, str]] = []
    if shape is None:
        return [] if not body else ["the operation returns no body"]
    _walk(body, shape, "", out, output=True)
    return _format(out)


def assert_valid_output(operation: str, response: dict[str, Any]) -> None:
    """``AssertionError`` listing every problem when ``response`` is not a valid ``operation`` output."""
    problems = validate_output(operation, response)
    if problems:
        raise AssertionError(f"invalid {operation} response:\n" + "\n".join(f"- {p}" for p in problems))


def members(shape_name: str) -> list[str]:
    """The member names of a structure shape of the SageMaker model (for mapping tests)."""
    return list(service_model().shape_for(shape_name).members)


__all__ = [
    "assert_valid_output",
    "describe",
    "input_problems",
    "members",
    "service_model",
    "validate_input",
    "validate_output",
]
