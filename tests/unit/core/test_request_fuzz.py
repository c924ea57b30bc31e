"""Hostile input: CreateHyperParameterTuningJob requests generated from botocore's own shape.

Two generators feed one property:

* ``from_shape``: a request built member by member from the SageMaker service model's input shape
  (structures, lists, maps, enums, bounds, patterns), with invalid choices mixed in at every level:
  a required member dropped, an unknown member added, a value of the wrong type, a number or a
  length out of bounds, a string outside its enum or pattern.
* ``mutated``: a valid example request (tests/events/) with one to three members replaced by a
  value generated for that member's shape (valid or not), deleted, or set to null.

The property: ``shapes.validate_input`` + ``core.request.parse_request`` either accept the request
(then every trial it would start is a valid ``CreateTrainingJob`` request) or raise
``ValidationError`` whose ``field`` names the offending member; nothing else is ever raised.

Examples per run: ``TUNER_FUZZ_EXAMPLES`` (default 1,000 per generator).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tuner import shapes
from tuner.core.request import parse_request
from tuner.core.strategies import make_strategy
from tuner.errors import ValidationError

OPERATION = "CreateHyperParameterTuningJob"
EXAMPLES = int(os.environ.get("TUNER_FUZZ_EXAMPLES", "1000"))
EVENTS = Path(__file__).resolve().parents[1] / "events"
SEEDS = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("request_*.json"))]
MAX_DEPTH = 8
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _input_shape() -> Any:
    return shapes.service_model().operation_model(OPERATION).input_shape


def _member_names(shape: Any, seen: set[str] | None = None) -> set[str]:
    """Every member name anywhere under ``shape`` (what a refusal's field may start with)."""
    seen = set() if seen is None else seen
    names: set[str] = set()
    if shape.name in seen:
        return names
    seen.add(shape.name)
    if shape.type_name == "structure":
        for name, sub in shape.members.items():
            names.add(name)
            names |= _member_names(sub, seen)
    elif shape.type_name == "list":
        names |= _member_names(shape.member, seen)
    elif shape.type_name == "map":
        names |= _member_names(shape.value, seen)
    return names


# ---- values from a shape ------------------------------------------------------------------------
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


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
    """Values for ``shape``: mostly of the right type and bounds, sometimes not (cached per depth)."""
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
def _structure_value(draw: st.DrawFn, shape: Any, depth: int) -> dict[str, Any]:
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


def _structure(shape: Any, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    return _structure_value(shape, depth)


# ---- mutations of valid requests -----------------------------------------------------------------
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
    request = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    shape = _input_shape()
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


# ---- the property -------------------------------------------------------------------------------
MEMBERS = _member_names(_input_shape()) | {"request"}


def check(request: dict[str, Any], outcomes: Counter) -> None:
    """Accepted (and every trial's CreateTrainingJob request valid) or a ValidationError naming a field."""
    try:
        shapes.validate_input(OPERATION, request)
        req = parse_request(request)
    except ValidationError as err:
        assert err.field, f"no field named in {err!s:.300}"
        root = re.split(r"[.\[{]", err.field)[0]
        assert root in MEMBERS or root in request, f"field {err.field!r} is not a member of the request"
        assert str(err).strip(), "empty message"
        outcomes["refused"] += 1
        return
    outcomes["accepted"] += 1
    for i, definition in enumerate(req.definitions):
        strategy = make_strategy("Random", definition.space, maximize=definition.maximize, seed=1)
        params = strategy.propose(1, [], [])
        training = definition.training_job_request(f"{req.name[:20]}-{i + 1:03d}-0badcafe", params, req.tags)
        assert shapes.input_problems("CreateTrainingJob", training) == [], training


def _run(strategy: st.SearchStrategy[dict[str, Any]]) -> Counter:
    outcomes: Counter = Counter()

    @FUZZ_SETTINGS
    @given(strategy)
    def prop(request: dict[str, Any]) -> None:
        check(request, outcomes)

    prop()
    print(f"fuzz outcomes: {dict(outcomes)}")  # shown with -s; docs/reliability.md quotes them
    return outcomes


def test_requests_generated_from_the_shape_are_accepted_or_refused_with_a_field():
    outcomes = _run(from_shape(_input_shape()))
    assert sum(outcomes.values()) >= EXAMPLES
    assert outcomes["refused"] > 0


def test_mutated_valid_requests_are_accepted_or_refused_with_a_field():
    outcomes = _run(mutated())
    assert sum(outcomes.values()) >= EXAMPLES
    assert outcomes["refused"] > 0 and outcomes["accepted"] > 0


def test_an_unknown_member_with_an_empty_name_is_named():
    request = copy.deepcopy(SEEDS[0])
    request[""] = 1
    with pytest.raises(ValidationError) as info:
        shapes.validate_input(OPERATION, request)
    assert info.value.field


def test_the_seed_requests_are_valid():
    outcomes: Counter = Counter()
    for request in SEEDS:
        check(request, outcomes)
    assert outcomes == Counter(accepted=len(SEEDS))
