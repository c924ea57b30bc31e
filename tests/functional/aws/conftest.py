"""Clients stubbed with botocore's ``Stubber``: every request is checked against the service
model (and against the expected parameters), every response against the output shape; and the
tuner's table in moto for the store's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.functional.tables import create_tuner_table

REGION = "us-east-1"
TABLE = "tuner"


@pytest.fixture
def stubbed() -> Iterator[Callable[[str], tuple[Any, Stubber]]]:
    """``stubbed("logs")`` -> (client, stubber), active; at the end of a passing test every queued
    response must have been asked for."""
    stubbers: list[Stubber] = []

    def make(service: str) -> tuple[Any, Stubber]:
        client = boto3.client(service, region_name=REGION)
        stub = Stubber(client)
        stub.activate()
        stubbers.append(stub)
        return client, stub

    yield make
    for stub in stubbers:
        stub.deactivate()
        stub.assert_no_pending_responses()


@pytest.fixture
def ddb(aws: Any) -> Iterator[Any]:
    """A DynamoDB client (moto) holding the tuner's table ``TABLE``, with the offline twin's
    atomic conditional writes installed (as the local stack runs them)."""
    from tuner.local import atomic

    atomic.install()
    client = boto3.client("dynamodb", region_name=REGION)
    create_tuner_table(client, TABLE)
    yield client
    atomic.uninstall()
