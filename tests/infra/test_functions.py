"""The tuner's Lambdas (tuner.constants.LAMBDAS): configuration, layers, sizes, and what their code can import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tuner import constants

from stacks.functions import FUNCTIONS, SCIENTIFIC, TUNER
from tests.imports import imports_of

ROOT = Path(__file__).resolve().parents[2]
TUNER_SRC = ROOT / "layers" / "tuner" / "python"
MB = 1024 * 1024
SIZE_BUDGET = 200 * MB  # Lambda allows 250 MB unzipped, function and layers together
RUNTIME_PROVIDED = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
    "awslambdaric",
}


def function(synth, name: str) -> dict:
    [props] = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::Function").values()
        if r["Properties"].get("Description") == constants.LAMBDAS[name]
    ]
    return props


def layer_names(synth) -> dict[str, str]:
    """Layer logical id -> ``tuner`` / ``scientific`` (from the layer's description)."""
    names = {}
    for logical_id, layer in synth.resources("AWS::Lambda::LayerVersion").items():
        description = layer["Properties"]["Description"]
        names[logical_id] = SCIENTIFIC if description.startswith("numpy") else TUNER
    return names


def asset_dir(synth, code: dict) -> Path:
    key = code["S3Key"]
    return synth.outdir / f"asset.{key.removesuffix('.zip')}"


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_there_is_one_function_per_lambdas_entry(synth):
    assert len(synth.resources("AWS::Lambda::Function")) == len(constants.LAMBDAS)


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_function_configuration(synth, name):
    props = function(synth, name)
    spec = FUNCTIONS[name]
    assert props["Runtime"] == "python3.12"
    assert props["Handler"] == "handler.handler"
    assert props["Architectures"] == ["x86_64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_seconds
    env = props["Environment"]["Variables"]
    assert set(env) == {
        constants.ENV_TABLE_NAME,
        constants.ENV_BUCKET_NAME,
        constants.ENV_EVENT_BUS_NAME,
        constants.ENV_LOG_LEVEL,
    } | ({constants.ENV_STATE_MACHINE_ARN} if name in ("retune", "front_door") else set()) | (
        {constants.ENV_RETUNE_AUTO_DEPLOY} if name == "retune" else set()  # test_auto_deploy_setting.py
    ) | (
        {constants.ENV_LAP_TRIALS, *constants.ENV_QUOTAS} if name == "create_job" else set()
    ) | (set(constants.ENV_QUOTAS) if name == "front_door" else set()) | (
        set(constants.THREAD_VARIABLES) if SCIENTIFIC in spec.layers else set()
    )
    [bus] = synth.resources("AWS::Events::EventBus")
    assert env[constants.ENV_EVENT_BUS_NAME] == {"Ref": bus}  # the tuner's own bus
    assert "Ref" in env[constants.ENV_TABLE_NAME] and "Ref" in env[constants.ENV_BUCKET_NAME]
    assert "LoggingConfig" in props  # its own log group, with the configured retention
    if name == "create_job":
        assert env[constants.ENV_LAP_TRIALS] == str(constants.DEFAULT_LAP_TRIALS)
    # numpy's thread pools sized to the function's CPU share (1 vCPU per 1,769 MB), never to the
    # cores the sandbox shows
    for variable in set(constants.THREAD_VARIABLES) & set(env):
        assert env[variable] == str(max(1, spec.memory_mb // 1769))


def test_sizing_of_the_heavy_functions():
    assert FUNCTIONS["next_trial"].memory_mb == 1769  # one full vCPU for the GP
    assert FUNCTIONS["next_trial"].timeout_seconds == 300
    assert FUNCTIONS["training_event"].timeout_seconds == 300
    assert FUNCTIONS["sweeper"].timeout_seconds == 300
    assert all(FUNCTIONS[n].timeout_seconds == 60 for n in ("create_job", "finalize", "fail_job"))


def test_function_log_groups_have_a_retention(synth):
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) == len(constants.LAMBDAS) + 1  # + the state machine's
    assert all(g["Properties"]["RetentionInDays"] == 90 for g in groups.values())


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_function_layers_match_the_spec(synth, name):
    names = layer_names(synth)
    attached = sorted(names[ref["Ref"]] for ref in function(synth, name)["Layers"])
    assert attached == sorted(FUNCTIONS[name].layers)


def test_layers_target_python_3_12(synth):
    for layer in synth.resources("AWS::Lambda::LayerVersion").values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_unzipped_function_with_its_layers_stays_under_200_mb(synth, name):
    """Measured on the staged assets of the cloud assembly, i.e. what `cdk deploy` uploads."""
    props = function(synth, name)
    layers = synth.json["Resources"]
    total = tree_bytes(asset_dir(synth, props["Code"]))
    for ref in props["Layers"]:
        total += tree_bytes(asset_dir(synth, layers[ref["Ref"]]["Properties"]["Content"]))
    assert total < SIZE_BUDGET, f"{name}: {total / MB:.1f} MiB unzipped"


def test_staged_assets_carry_no_caches_or_build_metadata(synth):
    names = layer_names(synth)
    layers = synth.json["Resources"]
    staged = [asset_dir(synth, layers[i]["Properties"]["Content"]) for i in names]
    staged += [asset_dir(synth, function(synth, n)["Code"]) for n in constants.LAMBDAS]
    for root in staged:
        bad = [
            p for p in root.rglob("*") if p.name == "__pycache__" or p.name.endswith((".pyc", ".egg-info"))
        ]
        assert not bad, bad[:5]
    [tuner_layer] = [i for i, n in names.items() if n == TUNER]
    assert (
        asset_dir(synth, layers[tuner_layer]["Properties"]["Content"]) / "python" / "tuner" / "constants.py"
    ).is_file()


# --- what a handler can import on Lambda ------------------------------------------------------------


def _imports(path: Path, module: str, *, cold_start: bool = False) -> set[str]:
    return {i.target for i in imports_of(path, module) if not (cold_start and i.lazy)}


def _tuner_file(module: str) -> Path | None:
    base = TUNER_SRC.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def import_closure(handler: Path, *, cold_start: bool = False) -> tuple[set[Path], set[str]]:
    """What the handler can reach through ``tuner``: the ``tuner`` files, and the top-level names of
    the other modules. Conservative: imports inside functions count too; ``cold_start=True``: only
    what importing the handler loads (the imports that run at module level)."""
    todo, seen, external = [("handler", handler)], set(), set()
    while todo:
        module, path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path, module, cold_start=cold_start):
            top = name.split(".")[0]
            if top == "tuner":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # parents' __init__ run first
                    target = _tuner_file(".".join(parts[:i]))
                    if target:
                        todo.append((".".join(parts[:i]), target))
            elif top and top != "__future__":
                external.add(top)
    return seen - {handler}, external


def external_imports(handler: Path, *, cold_start: bool = False) -> set[str]:
    """Top-level names of the non-``tuner`` modules the handler can reach through ``tuner``
    (``cold_start``: as in ``import_closure``)."""
    return import_closure(handler, cold_start=cold_start)[1]


SCIENTIFIC_MODULES = {"numpy", "scipy"}


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_handler_imports_only_what_its_layers_and_the_runtime_provide(name):
    """Every module the handler can import, lazily or not, is in its layers or the runtime, except
    numpy and scipy behind a lazy import: the core loads them only to propose, and which functions
    propose is found by running each handler without them (tests/unit/test_lean_imports.py).
    Importing the handler (its cold start) loads nothing its layers lack."""
    handler = ROOT / "lambdas" / name / "handler.py"
    provided = set(sys.stdlib_module_names) | RUNTIME_PROVIDED
    if SCIENTIFIC in FUNCTIONS[name].layers:
        provided |= SCIENTIFIC_MODULES
    missing = external_imports(handler) - provided - SCIENTIFIC_MODULES
    at_cold_start = external_imports(handler, cold_start=True) - provided
    assert not (missing | at_cold_start), (
        f"lambdas/{name} can import {sorted(missing | at_cold_start)} (at cold start: {sorted(at_cold_start)}), "
        f"which neither its layers {FUNCTIONS[name].layers} nor the Lambda runtime provide (stacks/functions.py)"
    )


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_no_handler_loads_numpy_or_scipy_at_cold_start(name):
    """Not even the proposer: it loads them on its first proposal (``tuner.core.strategies`` loads
    a strategy by name), so a cold start that only records or waits does not pay for them."""
    handler = ROOT / "lambdas" / name / "handler.py"
    assert not external_imports(handler, cold_start=True) & SCIENTIFIC_MODULES


@pytest.mark.parametrize("name", [n for n, s in FUNCTIONS.items() if SCIENTIFIC in s.layers])
def test_the_scientific_layer_goes_only_where_numpy_or_scipy_is_reached(name):
    handler = ROOT / "lambdas" / name / "handler.py"
    assert external_imports(handler) & {"numpy", "scipy"}, (
        f"lambdas/{name} never reaches numpy/scipy: drop the scientific layer in stacks/functions.py"
    )


def test_sizes_report_of_the_layer_build_is_consistent(synth):
    """The size report `make layers` prints (``layers/build.py``'s ``size_report``, computed here on
    the current trees, as the build computes it) counts exactly what the synthesized assets hold."""
    sys.path.insert(0, str(ROOT / "layers"))
    try:
        import build as layer_build
    finally:
        sys.path.pop(0)
    data = layer_build.size_report(
        {SCIENTIFIC: ROOT / "build" / "layers" / "scientific", TUNER: ROOT / "layers" / "tuner"}
    )
    assert set(data["functions"]) == set(constants.LAMBDAS)
    assert all(f["total_bytes"] < SIZE_BUDGET for f in data["functions"].values())
    staged = {
        layer_names(synth)[logical]: tree_bytes(asset_dir(synth, layer["Properties"]["Content"]))
        for logical, layer in synth.resources("AWS::Lambda::LayerVersion").items()
    }
    assert staged == data["layers"]
    # the performance issue's goal for the proposer: its code and layers within 120 MB unzipped
    assert data["functions"]["next_trial"]["total_bytes"] <= 120 * 10**6
