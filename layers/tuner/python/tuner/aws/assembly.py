"""Assembling the tuner's services over boto3 clients (real or moto): ``build_service``,
``build_family_service``, and the clock every service reads. ``tuner.wiring`` (the Lambdas'
composition root) and ``TunerClient`` both build with these; the client does not import the wiring,
which builds the front door with the client.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.config import Config

from tuner.service.families import FamilyService
from tuner.service.ports import Clock, Ports, system_clock
from tuner.service.tuning import TuningService

# Every AWS client the tuner builds: adaptive retries (exponential backoff with jitter, plus a
# client-side rate limiter that slows down when the service throttles), 8 attempts in all. What
# is still throttled after them becomes a TransientBackendError that the state machine retries.
CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})

_clock_override: Clock | None = None


def clock() -> datetime:
    """The services' clock: the system's, unless the offline twin moved it (``set_clock``)."""
    return (_clock_override or system_clock)()


def set_clock(override: Clock | None) -> None:
    """Offline only: every service built here reads time from ``override`` (None: the system's).

    The in-process Lambdas share this interpreter, so the twin can move the tuner's time (a
    runtime limit reached) without rewriting what is stored.
    """
    global _clock_override
    _clock_override = override



def build_service(
    table: str,
    bus: str = "default",
    region: str | None = None,
    session: Any = None,
    *,
    state_machine_arn: str | None = None,
) -> TuningService:
    """A TuningService over real (or moto) AWS clients."""
    import boto3

    from tuner.aws.events import EventPublisher
    from tuner.aws.logs import CloudWatchLogSource
    from tuner.aws.sagemaker import SageMakerBackend
    from tuner.aws.stepfunctions import Executions, TaskTokens
    from tuner.aws.store import DynamoStore

    session = session or boto3.session.Session(region_name=region)
    region = region or session.region_name

    def client(service: str) -> Any:
        return session.client(service, region_name=region, config=CLIENT_CONFIG)

    sfn = client("stepfunctions")
    return TuningService(
        Ports(
            store=DynamoStore(table, client("dynamodb")),
            backend=SageMakerBackend(client("sagemaker")),
            logs=CloudWatchLogSource(client("logs")),
            tokens=TaskTokens(sfn),
            events=EventPublisher(client("events"), bus),
            executions=Executions(sfn, state_machine_arn),
            clock=clock,
        ),
        deployment=table,  # tags its training jobs: the table's name identifies the deployment
    )


def build_family_service(
    table: str,
    state_machine_arn: str | None,
    *,
    bus: str = "default",
    region: str | None = None,
    session: Any = None,
    tuning: TuningService | None = None,
    auto_deploy: bool = False,
) -> FamilyService:
    """A FamilyService over real (or moto) AWS clients. ``auto_deploy``: the deployment grants
    ``AutoDeploy`` (``tuner.aws.families.auto_deploy_granted`` of its ``RetuneAutoDeploy`` output)."""
    import boto3

    from tuner.aws.families import FamilyStore
    from tuner.aws.sagemaker import ModelHosting
    from tuner.service.deploy import BestModelDeployment

    session = session or boto3.session.Session(region_name=region)
    region = region or session.region_name
    tuning = tuning or build_service(table, bus, region=region, session=session, state_machine_arn=state_machine_arn)
    hosting = ModelHosting(session.client("sagemaker", region_name=region, config=CLIENT_CONFIG), region)
    return FamilyService(
        FamilyStore(table, session.client("dynamodb", region_name=region, config=CLIENT_CONFIG)),
        tuning,
        deployment=BestModelDeployment(tuning.describe, hosting),
        auto_deploy_granted=auto_deploy,
        clock=clock,
    )
