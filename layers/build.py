"""Build the Lambda layers without Docker and report how big each function gets.

    python layers/build.py [--out build/layers] [--force]

1. ``<out>/scientific/python``: numpy + scipy wheels for Lambda's Linux (manylinux, CPython 3.12),
   installed by pip for a foreign platform, then trimmed (see ``trim``). The pip step is skipped
   when ``<out>/scientific.stamp.json`` records the same requirements and trim rules, so a second
   run takes a fraction of a second.
2. The ``tuner`` layer is not copied: the stack points its asset at ``layers/tuner`` with an
   exclude list (``stacks.functions.CODE_EXCLUDE``). A copy could go stale when the package changes
   and nobody rebuilds; the asset hash of the source tree cannot.
3. A size report (unzipped bytes of each layer, and of each function's code plus its layers) is
   printed and written to ``<out>/sizes.json``. Lambda's limit is 250 MB for a function and all of
   its layers, unzipped; the infra tests hold us to 200 MB.

Trimming: tests, caches, type stubs, C headers / Cython sources / static libraries (build-time
only), package metadata, numpy's test-only extensions, and the scipy subpackages that no module we
use can reach. Reachability is a static closure over the installed tree: Python imports (``ast``,
absolute and relative, including imports inside functions), string constants naming a ``scipy.*``
module, and ``scipy.*`` names found in the compiled extensions (Cython turns ``cimport`` into a
runtime import). The seeds are the scipy modules the tuner's Lambda code imports. The closure also
reaches subpackages only through optimize functions the tuner never calls (global optimisers, curve
fitting): ``UNUSED_SUBPACKAGES`` are dropped all the same. Extension modules are stripped of the
symbols they do not need to load (``strip --strip-unneeded``; not the vendored ``*.libs``, whose
load commands ``strip`` would break).

Because that goes beyond the static closure, the trimmed layer is proven by running the engine on
it: ``layers/engine_smoke.py`` with CPython 3.12 (Lambda's Python; ``$TUNER_PYTHON312``,
``python3.12`` on the PATH, or a pyenv 3.12), numpy/scipy from the layer only. Without a 3.12 the
build says the layer is unverified.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUNER_LAYER = ROOT / "layers" / "tuner"
LAMBDAS_DIR = ROOT / "lambdas"
sys.path[:0] = [str(ROOT), str(TUNER_LAYER / "python")]

from stacks.functions import FUNCTIONS, SCIENTIFIC, TUNER, is_code_excluded, is_layer_excluded  # noqa: E402

# Pinned to the versions the test suite runs against; bump together with the dev environment.
REQUIREMENTS = ("numpy==2.4.6", "scipy==1.17.1")
PIP_PLATFORM = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")  # Lambda python3.12: AL2023, glibc 2.34
PYTHON_VERSION = "3.12"
TRIM_VERSION = 2  # bump when the trim rules change: forces a fresh install

# scipy modules the tuner's Lambda code imports (``scipy_seeds`` adds any other it imports).
SCIPY_SEEDS = ("scipy", "scipy.linalg", "scipy.optimize", "scipy.special")
# Reached statically only through functions the tuner never calls (scipy.optimize's shgo,
# differential_evolution, curve_fit...); ``engine_smoke.py`` proves the engine runs without them.
UNUSED_SUBPACKAGES = ("stats", "signal", "integrate", "interpolate", "ndimage")
# Test-only extension modules and the Cython API of scipy.special (cimported by scipy.stats only).
DROP_GLOBS = (
    "numpy/_core/_simd.*.so",
    "numpy/_core/_*_tests.*.so",
    "scipy/special/cython_special.*.so",
    "*.dist-info",
)
# Build-time only: C/C++ headers and sources, Cython sources and declarations, static libraries.
DROP_SUFFIXES = (".pyi", ".h", ".hpp", ".c", ".cpp", ".pyx", ".pxd", ".pxi", ".a")
DROP_DIR_NAMES = ("tests", "__pycache__")
DROP_RELATIVE = (
    "bin",
    "numpy/_core/include",
    "numpy/_core/lib",
    "numpy/random/lib",
    "numpy/random/_examples",
    "numpy/f2py/src",
    "numpy/_pyinstaller",
    "scipy/conftest.py",
    "numpy/conftest.py",
)
MB = 1_000_000
LAMBDA_LIMIT = 250 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "layers", help="output folder")
    parser.add_argument("--force", action="store_true", help="reinstall even if the stamp matches")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    scientific = build_scientific(out, force=args.force)
    report = size_report({SCIENTIFIC: scientific, TUNER: TUNER_LAYER})
    out.mkdir(parents=True, exist_ok=True)
    (out / "sizes.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    too_big = [name for name, fn in report["functions"].items() if fn["total_bytes"] >= LAMBDA_LIMIT]
    if too_big:
        print(f"ERROR: over Lambda's 250 MB unzipped limit: {too_big}", file=sys.stderr)
        return 1
    return 0


# --- the scientific layer ---------------------------------------------------------------------------


def build_scientific(out: Path, *, force: bool = False) -> Path:
    """Install and trim numpy + scipy into ``out/scientific/python``; return the layer root."""
    layer = out / "scientific"
    site = layer / "python"
    stamp_file = out / "scientific.stamp.json"
    stamp = {
        "requirements": list(REQUIREMENTS),
        "platform": list(PIP_PLATFORM),
        "python": PYTHON_VERSION,
        "trim": TRIM_VERSION,
        "seeds": sorted(scipy_seeds()),
    }
    if not force and site.is_dir() and stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        print(f"scientific layer up to date ({stamp_file.relative_to(out.parent)}); --force rebuilds")
        return layer
    if layer.exists():
        shutil.rmtree(layer)
    stamp_file.unlink(missing_ok=True)
    started = time.monotonic()
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *(f"--platform={p}" for p in PIP_PLATFORM),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-compile",
        "--target",
        str(site),
        *REQUIREMENTS,
    ]
    print("+", " ".join(cmd[1:]))
    subprocess.run(cmd, check=True)
    before = tree_size(site)
    dropped = trim(site, set(stamp["seeds"]))
    after = tree_size(site)
    print(
        f"scientific layer: {before / MB:.1f} MB installed, {after / MB:.1f} MB after trimming "
        f"({time.monotonic() - started:.0f} s); dropped scipy subpackages: {', '.join(dropped) or 'none'}"
    )
    print(verify(site))
    stamp_file.write_text(json.dumps(stamp, indent=2) + "\n")
    return layer


def scipy_seeds() -> set[str]:
    """``SCIPY_SEEDS`` and every scipy module the tuner layer's code imports (the tools the layer
    leaves out, such as the offline harness, do not count)."""
    seeds = set(SCIPY_SEEDS)
    for path in (TUNER_LAYER / "python" / "tuner").rglob("*.py"):
        if is_layer_excluded(path.relative_to(TUNER_LAYER).as_posix()):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                seeds.update(a.name for a in node.names if a.name.startswith("scipy"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scipy") and not node.level:
                seeds.add(str(node.module))
    return {s for s in seeds if not s.startswith("scipy._")} | {"scipy"}


def trim(site: Path, seeds: set[str]) -> list[str]:
    """Delete what Lambda never imports from ``site``; return the scipy subpackages dropped."""
    for rel in DROP_RELATIVE:
        remove(site / rel)
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in DROP_DIR_NAMES:
            remove(path)
        elif path.is_file() and path.name.endswith(DROP_SUFFIXES):
            path.unlink()
    for pattern in DROP_GLOBS:
        for path in site.glob(pattern):
            remove(path)
    reached = reachable_subpackages(site, "scipy", seeds) - set(UNUSED_SUBPACKAGES)
    dropped = []
    for sub in sorted((site / "scipy").iterdir()):
        if sub.is_dir() and not sub.name.startswith("_") and sub.name not in reached:
            dropped.append(sub.name)
            remove(sub)
    strip_extensions(site)
    return dropped


def strip_extensions(site: Path) -> None:
    """``strip --strip-unneeded`` every extension module (not the vendored ``*.libs``: their load
    commands are patched by auditwheel, and ``strip`` would misalign them). No ``strip``: kept."""
    strip = shutil.which("strip")
    if strip is None:
        print("(no strip on this machine: extension modules keep their symbols)")
        return
    for path in site.rglob("*.cpython-*.so"):
        subprocess.run([strip, "--strip-unneeded", str(path)], check=True)


def python312() -> str | None:
    """A CPython 3.12 interpreter (Lambda's Python) to run the engine on the layers with."""
    import glob
    import os

    candidates = [os.environ.get("TUNER_PYTHON312"), shutil.which("python3.12"),
                  *sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.12*" / "bin" / "python3.12")))]

    def is_312(python: str | None) -> bool:  # a pyenv shim may be on the PATH without a 3.12 behind it
        if not python or not Path(python).is_file():
            return False
        probe = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                               capture_output=True, text=True)
        return probe.stdout.strip() == "True"

    return next((c for c in candidates if is_312(c)), None)


def verify(site: Path) -> str:
    """Run ``engine_smoke.py`` on the layers with CPython 3.12; its report, or why it did not run."""
    python = python312()
    if python is None:
        return "not verified: no CPython 3.12 here (set TUNER_PYTHON312)"
    done = subprocess.run(
        [python, "-S", str(Path(__file__).with_name("engine_smoke.py")), str(site), str(TUNER_LAYER / "python")],
        capture_output=True, text=True,
    )
    if done.returncode:
        raise SystemExit(f"the trimmed scientific layer cannot run the engine:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def reachable_subpackages(site: Path, top: str, seeds: set[str]) -> set[str]:
    """Names ``x`` of the ``top.x`` subpackages reachable from ``seeds`` (a static import closure)."""
    modules = index_modules(site, top)
    seen: set[str] = set()
    todo = [m for m in seeds if m in modules]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parents run first
        for path in modules[name]:
            todo.extend(m for m in imports_of(path, name, top) if m in modules and m not in seen)
    return {m.split(".")[1] for m in seen if m.count(".") >= 1}


def index_modules(site: Path, top: str) -> dict[str, list[Path]]:
    """Dotted module name -> files implementing it (``pkg/__init__.py``, ``mod.py``, ``mod.*.so``)."""
    modules: dict[str, list[Path]] = {}
    for path in (site / top).rglob("*"):
        if not path.is_file() or not (path.suffix == ".py" or path.suffix == ".so"):
            continue
        rel = path.relative_to(site).with_suffix("")
        parts = list(rel.parts)
        parts[-1] = parts[-1].split(".")[0]  # _foo.cpython-312-x86_64-linux-gnu -> _foo
        if parts[-1] == "__init__":
            parts.pop()
        modules.setdefault(".".join(parts), []).append(path)
    return modules


_MODULE_NAME = re.compile(rb"\bscipy(?:\.[A-Za-z_]\w*)+")


def imports_of(path: Path, module: str, top: str) -> set[str]:
    """Modules (and ``from`` targets, which may be modules) that ``path`` can import."""
    if path.suffix == ".so":
        return {m.decode() for m in _MODULE_NAME.findall(path.read_bytes())} | prefixes(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(rf"{top}(\.\w+)+", node.value)
        ):
            found.add(node.value)  # importlib.import_module("scipy.x") and lazy loaders
    return {m for m in found if m == top or m.startswith(top + ".")}


def prefixes(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


# --- sizes ------------------------------------------------------------------------------------------


def tree_size(root: Path, *, code: bool = False, layer: bool = False) -> int:
    """Bytes of the files under ``root``; ``code=True`` applies the stack's code exclude list,
    ``layer=True`` the ``tuner`` layer's."""
    total = 0
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not (code and is_code_excluded(rel)) and not (layer and is_layer_excluded(rel)):
            total += path.stat().st_size
    return total


def size_report(layers: dict[str, Path]) -> dict:
    layer_bytes = {
        name: tree_size(path, layer=(name == TUNER)) if path.is_dir() else 0 for name, path in layers.items()
    }
    functions = {}
    for name, spec in FUNCTIONS.items():
        code_dir = LAMBDAS_DIR / name
        code = tree_size(code_dir, code=True) if code_dir.is_dir() else 0
        total = code + sum(layer_bytes[layer] for layer in spec.layers)
        functions[name] = {"code_bytes": code, "layers": list(spec.layers), "total_bytes": total}
    return {
        "unit": "bytes, unzipped",
        "limit_bytes": LAMBDA_LIMIT,
        "layers": layer_bytes,
        "functions": functions,
    }


def print_report(report: dict) -> None:
    print("unzipped sizes (Lambda limit: 250 MB per function including its layers)")
    for name, size in report["layers"].items():
        print(f"  layer    {name:<15} {size / MB:8.1f} MB")
    for name, fn in report["functions"].items():
        print(
            f"  function {name:<15} {fn['total_bytes'] / MB:8.1f} MB  "
            f"(code {fn['code_bytes'] / 1000:.1f} kB + {' + '.join(fn['layers'])})"
        )


if __name__ == "__main__":
    sys.exit(main())
