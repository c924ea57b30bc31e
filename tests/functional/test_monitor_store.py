"""The monitor's cursor through the DynamoDB store (moto): written as JSON, read back by
``get_trial`` and ``open_trials``, and the stored series equals a parse of the whole log."""
from __future__ import annotations

import boto3
import pytest
from tuner.aws.logs import CloudWatchLogSource
from tuner.aws.store import DynamoStore
from tuner.core.metrics import ParseState, parse_metrics, resume_metrics
from tuner.service.ports import Ports
from tuner.service.tuning import TuningService

from tests.builders import LOSS, tuning_request
from tests.fakes import FakeBackend, FakeClock, FakeExecutions, FakeTokens
from tests.functional.tables import create_tuner_table
from tests.logs_client import FakeLogsClient

pytestmark = pytest.mark.usefixtures("aws")


def test_a_sweep_stores_the_cursor_on_the_trial_item_and_the_next_one_reads_on() -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    create_tuner_table(ddb)
    client = FakeLogsClient(page_events=50)
    executions = FakeExecutions()
    service = TuningService(Ports(store=DynamoStore("tuner", ddb), backend=FakeBackend(),
                                  logs=CloudWatchLogSource(client), tokens=FakeTokens(),
                                  executions=executions, clock=FakeClock()))
    request = tuning_request("moto-monitor", max_jobs=3, max_parallel=2, early_stopping="Auto")
    service.create_job(request, executions.start("moto-monitor", request))
    names = [service.next_trial("moto-monitor", lap, 0, f"t{lap}")["TrainingJobName"] for lap in (1, 2)]
    lines = [f"epoch {i} loss: {1 / (i + 1):.5f}" for i in range(120)]
    for name in names:
        client.put(f"{name}/algo-1-1700000000", *lines[:70])
    service.sweep()
    for name in names:
        client.put(f"{name}/algo-1-1700000000", *lines[70:])
    client.reset_counts()
    service.sweep()
    assert client.events_returned == 2 * 50  # only the new lines
    for number in (1, 2):
        stored = service.store.get_trial("moto-monitor", number)
        assert stored is not None and stored.log_cursor["parse"]["lines"] == 120
        series = resume_metrics([], LOSS, ParseState.from_dict(stored.log_cursor["parse"])).series["loss"].values
        assert series == parse_metrics(lines, LOSS)["loss"].values
    listed = {t.number: t.log_cursor for t in service.store.open_trials("moto-monitor")}
    assert listed == {n: service.store.get_trial("moto-monitor", n).log_cursor for n in (1, 2)}
