"""The import walk the architecture and layer tests share (read with ``ast``; nothing is imported).

Every ``import`` and ``from ... import`` counts, also those inside functions (a lazy import is
still a dependency; ``Import.lazy`` tells it apart from one that runs when the module is imported),
except those under ``if TYPE_CHECKING:`` (never run). Relative imports are resolved against the
importing module.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "layers" / "tuner" / "python" / "tuner"
HANDLERS = sorted((ROOT / "lambdas").glob("*/handler.py"))

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Import:
    """One imported module: ``target`` is the most specific module the statement names (for
    ``from a.b import c``: ``a.b.c`` when that is a ``tuner`` module, else ``a.b``)."""

    source: str  # the importing module
    target: str
    line: int
    lazy: bool = False  # inside a function: runs when it is called, not when the module is imported

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def tuner_modules() -> dict[str, Path]:
    """Every module of the ``tuner`` package, by dotted name (packages by their ``__init__``)."""
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST, lazy: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """The import statements under ``node``, at any depth, each with whether it sits in a function
    (lazy), skipping ``if TYPE_CHECKING:`` bodies (their ``else:`` runs, so it counts)."""
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.orelse:
            yield from _import_nodes(child, lazy)
        return
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, lazy
        return
    lazy = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    for child in ast.iter_child_nodes(node):
        yield from _import_nodes(child, lazy)


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of ``from <...> import``, relative levels resolved."""
    if node.level == 0:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    parts = package.split(".")
    if node.level - 1 >= len(parts):
        raise AssertionError(f"{module}: relative import beyond the top-level package (line {node.lineno})")
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


@cache
def imports_of(path: Path, module: str) -> tuple[Import, ...]:
    """Every module that the file at ``path`` (named ``module``) imports."""
    known = tuner_modules()
    is_package = path.name == "__init__.py"
    out: list[Import] = []
    for node, lazy in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.extend(Import(module, alias.name, node.lineno, lazy) for alias in node.names)
            continue
        base = _resolve_from(node, module, is_package)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            out.append(Import(module, candidate if candidate in known else base, node.lineno, lazy))
    return tuple(out)
