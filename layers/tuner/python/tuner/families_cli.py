"""``tuner family ...``: tuning families against the deployed stack (docs/retuning.md).

    tuner family register FILE [--replace]       store a family (JSON, see examples/retuning/family.json)
    tuner family list                            every family, newest first
    tuner family describe NAME                   the family, its tuning jobs and its running retune
    tuner family retune NAME [--overrides JSON]  start the next warm-started tuning job now

The stack is found by its CloudFormation outputs (``StateMachineArn``, ``TableName``) as
``tuner.client.TunerClient`` finds it: ``--stack-name`` (default ``SageMakerTuner``) and
``--region``. Output is JSON on stdout. ``register(subparsers)`` adds the command to a parser.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner import constants
from tuner.cli_common import load_json_object
from tuner.errors import TuningError, ValidationError


def register(subparsers: Any) -> None:
    """Add ``family`` (with register / list / describe / retune) to an argparse subparsers object."""
    family = subparsers.add_parser(
        "family", help="tuning families: stored retuning policies (docs/retuning.md)"
    )
    commands = family.add_subparsers(dest="family_command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_text)
        p.add_argument(
            "--stack-name", default=constants.DEFAULT_STACK_NAME, help="the tuner stack (default %(default)s)"
        )
        p.add_argument("--region", help="the stack's region (default: the AWS configuration's)")
        p.set_defaults(func=func)
        return p

    reg = add("register", "store a tuning family (JSON file)", cmd_register)
    reg.add_argument("file", help="the family definition (see examples/retuning/family.json)")
    reg.add_argument("--replace", action="store_true", help="replace a family of that name (keeps its jobs)")
    add("list", "list the tuning families", cmd_list)
    desc = add("describe", "a family, its tuning jobs and its running retune", cmd_describe)
    desc.add_argument("name")
    retune = add("retune", "start the family's next warm-started tuning job now", cmd_retune)
    retune.add_argument("name")
    retune.add_argument(
        "--overrides",
        type=_overrides,
        default=None,
        help="JSON object or @FILE, e.g. '{\"MaxNumberOfTrainingJobs\": 5}' (MaxParallelTrainingJobs, "
        "WarmStartType, Narrowing, MaxParents, RandomSeed, StaticHyperParameters, MaxRuntimeInSeconds)",
    )


def _overrides(text: str) -> dict[str, Any]:
    from tuner.core.families import parse_overrides

    if text.startswith("@"):
        text = _read(text[1:])
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"--overrides is not JSON: {err.msg}") from None
    try:
        return parse_overrides(value)
    except ValidationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _read(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no such file: {path}")
    return p.read_text()


def load_family(path: str) -> dict[str, Any]:
    """The family definition in ``path`` (a JSON object), or a ValidationError saying why not."""
    return load_json_object(path, "a tuning family")


def service(args: argparse.Namespace) -> Any:
    """The FamilyService of the deployed stack named by ``--stack-name`` / ``--region``."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tuner.aws.families import auto_deploy_granted
    from tuner.client import TunerClient
    from tuner.wiring import build_family_service

    client = TunerClient(region_name=args.region, stack_name=args.stack_name)
    try:
        outputs = client.outputs
    except (ClientError, BotoCoreError) as err:
        raise TuningError(str(err)) from None
    return build_family_service(
        outputs[constants.OUTPUT_TABLE_NAME],
        outputs[constants.OUTPUT_STATE_MACHINE_ARN],
        region=client.region_name,
        session=client.session,
        auto_deploy=auto_deploy_granted(outputs.get(constants.OUTPUT_RETUNE_AUTO_DEPLOY)),
    )


def _print(obj: Any, out: Any = None) -> int:
    print(json.dumps(obj, indent=2, default=str), file=out or sys.stdout)
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    spec = load_family(args.file)
    from tuner.core.families import parse_family

    parse_family(spec)  # refuse locally, before touching AWS
    return _print(service(args).register(spec, replace=args.replace))


def cmd_list(args: argparse.Namespace) -> int:
    return _print({"Families": service(args).list_families()})


def cmd_describe(args: argparse.Namespace) -> int:
    return _print(service(args).describe(args.name))


def cmd_retune(args: argparse.Namespace) -> int:
    return _print(service(args).retune(args.name, "cli", args.overrides))
