"""The composition root: builds the use cases over boto3-backed adapters.

Handlers call ``service()`` / ``family_service()``, which read the Lambda environment
(``tuner.constants.ENV_*``) at call time and cache one service per configuration; the client and
the offline harness call ``build_service`` (``tuner.aws.assembly``, re-exported here) with their own
session. Clients are created on first
use, never at import (moto must be active first).
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

from tuner import constants
from tuner.aws.assembly import CLIENT_CONFIG, build_family_service, build_service, clock, set_clock
from tuner.service.families import FamilyService
from tuner.service.tuning import TuningService

_lock = threading.Lock()
_services: dict[tuple[str, ...], TuningService] = {}
_families: dict[tuple[str, ...], FamilyService] = {}
_front_doors: dict[tuple[str, ...], Any] = {}


def _config() -> tuple[str, ...]:
    table = os.environ.get(constants.ENV_TABLE_NAME, "")
    if not table:
        raise RuntimeError(f"{constants.ENV_TABLE_NAME} is not set; the stack sets it on every tuner Lambda")
    return (
        table,
        os.environ.get(constants.ENV_EVENT_BUS_NAME, "default"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        os.environ.get(constants.ENV_STATE_MACHINE_ARN, ""),
    )


def service() -> TuningService:
    """The TuningService of this Lambda's environment (cached per configuration)."""
    config = _config()
    with _lock:
        if config not in _services:
            logging.getLogger("tuner").setLevel(os.environ.get(constants.ENV_LOG_LEVEL, "INFO"))
            table, bus, region, machine = config
            _services[config] = build_service(table, bus, region, state_machine_arn=machine or None)
        return _services[config]


def family_service() -> FamilyService:
    """The FamilyService of this Lambda's environment (cached per configuration)."""
    from tuner.aws.families import auto_deploy_granted

    granted = auto_deploy_granted(os.environ.get(constants.ENV_RETUNE_AUTO_DEPLOY))
    config = (*_config(), str(granted))
    tuning = service()
    with _lock:
        if config not in _families:
            table, bus, region, machine, _ = config
            _families[config] = build_family_service(
                table, machine or None, bus=bus, region=region, tuning=tuning, auto_deploy=granted
            )
        return _families[config]


def front_door() -> Any:
    """The front door (``tuner.aws.front_door.FrontDoor``) of this Lambda's environment: it acts
    with ``TunerClient`` over this deployment, directly (cached per configuration)."""
    import boto3

    from tuner.aws.front_door import FrontDoor, IamPermissions, tuning_job_tags
    from tuner.aws.iam_requests import Scope
    from tuner.client import TunerClient
    from tuner.core import arns

    config = _config()
    tuning = service()
    with _lock:
        if config not in _front_doors:
            table, _, region, machine = config
            if not machine:
                raise RuntimeError(f"{constants.ENV_STATE_MACHINE_ARN} is not set; the stack sets it on front_door")
            session = boto3.session.Session(region_name=region)
            scope = Scope(region, arns.region_and_account(machine)[1], arns.partition(region))
            outputs = {constants.OUTPUT_STATE_MACHINE_ARN: machine, constants.OUTPUT_TABLE_NAME: table}
            _front_doors[config] = FrontDoor(
                api=lambda: TunerClient(region, session=session, outputs=outputs, front_door=False, service=tuning),
                permissions=IamPermissions(session.client("iam", config=CLIENT_CONFIG)),
                scope=scope,
                tags_of=tuning_job_tags(tuning.store, scope),
            )
        return _front_doors[config]


def lap_trials() -> int:
    """Trials per lap (``constants.ENV_LAP_TRIALS``; the stack sets it on create_job)."""
    return int(os.environ.get(constants.ENV_LAP_TRIALS) or constants.DEFAULT_LAP_TRIALS)


def reset() -> None:
    """Forget cached services (tests that start a new moto session call this)."""
    with _lock:
        _services.clear()
        _families.clear()
        _front_doors.clear()


__all__ = [
    "CLIENT_CONFIG", "build_family_service", "build_service", "clock", "family_service", "front_door", "lap_trials",
    "reset", "service", "set_clock",
]
