"""The architecture, checked on the import graph (read with ``ast``, nothing is imported).

Every ``import`` and ``from ... import`` counts, also those inside functions (a lazy import is
still a dependency), except those under ``if TYPE_CHECKING:`` (never run). Relative imports are
resolved against the importing module.

* no import cycle among the ``tuner`` modules;
* the service (``tuner.service``) knows only ports: nothing from ``tuner.aws``, ``tuner.local``,
  ``tuner.wiring``, boto3 or botocore;
* the core (``tuner.core``) is pure: the standard library, numpy, scipy, ``tuner.core``,
  ``tuner.errors`` and ``tuner.constants`` only (no AWS SDK, no adapter, no service, no harness);
* the Lambda handlers (``lambdas/<fn>/handler.py``) only call the composition root: the standard
  library, ``tuner.wiring`` and ``tuner.constants``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tests.imports import HANDLERS, STDLIB, Import, imports_of, tuner_modules


def _package_imports() -> list[Import]:
    return [i for name, path in tuner_modules().items() for i in imports_of(path, name)]


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _top(name: str) -> str:
    return name.split(".")[0]


def _listing(found: list[Import]) -> str:
    return "\n".join(f"  {i}" for i in sorted(found, key=lambda i: (i.source, i.line, i.target)))


# ---- the walk itself ------------------------------------------------------------------------------
def test_the_walk_sees_the_package_and_the_handlers() -> None:
    names = set(tuner_modules())
    assert {"tuner", "tuner.core", "tuner.service", "tuner.aws", "tuner.errors", "tuner.constants"} <= names
    assert {"tuner.core.request", "tuner.core.request_definitions", "tuner.core.request_checks"} <= names
    assert len(HANDLERS) >= 7, HANDLERS


def test_the_walk_resolves_relative_imports_and_skips_type_checking(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "import typing\n"
        "from . import errors\n"
        "from .. import constants\n"
        "from .space import SearchSpace\n"
        "if TYPE_CHECKING:\n"
        "    import boto3\n"
        "else:\n"
        "    import json\n"
        "if typing.TYPE_CHECKING:\n"
        "    from tuner.aws import store\n"
        "def f():\n"
        "    import botocore.exceptions\n"
        "    from tuner.core import space\n"
    )
    got = {i.target for i in imports_of(src, "tuner.core.m")}
    assert got == {
        "typing",
        "tuner.core.errors" if "tuner.core.errors" in tuner_modules() else "tuner.core",
        "tuner.constants",
        "tuner.core.space",
        "json",
        "botocore.exceptions",
    }


# ---- (a) no cycle ---------------------------------------------------------------------------------
def _graph() -> dict[str, set[str]]:
    known = tuner_modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for i in _package_imports():
        if i.target in known:
            graph[i.source].add(i.target)
    return graph


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with a cycle (2+ modules, or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    found.append(sorted(component))
    return found


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth-first, inside it)."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if child not in parents:
                    parents[child] = node
                    nxt.append(child)
        frontier = nxt
    return [start, start]


def test_no_import_cycle_among_tuner_modules() -> None:
    graph = _graph()
    cycles = _strongly_connected(graph)
    lines = []
    for component in cycles:
        lines.append(f"- modules in a cycle: {', '.join(component)}")
        lines.append(f"  e.g. {' -> '.join(_one_cycle(graph, component))}")
    assert not cycles, "import cycles among the tuner modules:\n" + "\n".join(lines)


def test_the_cycle_finder_reports_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(_strongly_connected(graph)) == [["a", "b", "c"], ["e"]]
    assert _one_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


# ---- (b) the service sees ports only --------------------------------------------------------------
SERVICE_FORBIDDEN = ("tuner.aws", "tuner.local", "tuner.wiring", "boto3", "botocore")


def test_the_service_imports_no_adapter_and_no_aws_sdk() -> None:
    found = [
        i for i in _package_imports() if _under(i.source, "tuner.service") and _under(i.target, *SERVICE_FORBIDDEN)
    ]
    assert not found, (
        f"tuner.service must import nothing from {', '.join(SERVICE_FORBIDDEN)} (adapters are injected "
        f"by tuner.wiring):\n{_listing(found)}"
    )


# ---- (c) the core is pure -------------------------------------------------------------------------
CORE_THIRD_PARTY = ("numpy", "scipy")
CORE_TUNER = ("tuner.core", "tuner.errors", "tuner.constants")


def _core_allows(target: str) -> bool:
    if _top(target) == "tuner":
        return _under(target, *CORE_TUNER)
    return _top(target) in STDLIB or _top(target) in CORE_THIRD_PARTY


def test_the_core_imports_only_the_standard_library_numpy_scipy_and_itself() -> None:
    found = [i for i in _package_imports() if _under(i.source, "tuner.core") and not _core_allows(i.target)]
    assert not found, (
        "tuner.core may import only the standard library, numpy, scipy, tuner.core, tuner.errors and "
        f"tuner.constants:\n{_listing(found)}"
    )


# ---- (d) the handlers call the composition root only ----------------------------------------------
def _handler_allows(target: str) -> bool:
    if _top(target) == "tuner":
        return _under(target, "tuner.wiring", "tuner.constants")
    return _top(target) in STDLIB


def test_the_handlers_import_only_the_wiring() -> None:
    found = [
        i
        for path in HANDLERS
        for i in imports_of(path, f"lambdas.{path.parent.name}.handler")
        if not _handler_allows(i.target)
    ]
    assert not found, (
        "a Lambda handler may import only tuner.wiring, tuner.constants and the standard library:\n"
        f"{_listing(found)}"
    )
