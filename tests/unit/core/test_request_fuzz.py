"""Hostile input: CreateHyperParameterTuningJob requests generated from botocore's own shape.

Two generators (in tests/builders.py) feed one property:

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
import os
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tuner import shapes
from tuner.core.request import parse_request
from tuner.core.strategies import make_strategy
from tuner.errors import ValidationError

from tests.builders import OPERATION, SEEDS, from_shape, input_shape, mutated

EXAMPLES = int(os.environ.get("TUNER_FUZZ_EXAMPLES", "1000"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


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


# ---- the property -------------------------------------------------------------------------------
MEMBERS = _member_names(input_shape()) | {"request"}


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
    outcomes = _run(from_shape(input_shape()))
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
