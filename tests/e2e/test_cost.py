"""The tuner's own usage, counted in the offline run (tuner.local.metering) and priced
(tuner.core.cost, docs/cost.md): the counts follow from what the run did."""
from __future__ import annotations

from collections import Counter

import pytest
from tuner.core import cost

from tests.builders import start_and_wait, tuning_request

pytestmark = pytest.mark.e2e


def test_a_jobs_usage_follows_from_its_invocations_and_is_priced(local_tuner):
    lt = local_tuner
    before = lt.usage()
    describe = start_and_wait(lt, tuning_request("cost-3", source="quick", max_jobs=3, max_parallel=1))
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    after = lt.usage()
    used = after - before
    # invocations by function, as the meter saw them (a delivery thread may still be finishing one)
    ran = Counter({f: int(n["requests"] - before.by_function.get(f, {}).get("requests", 0))
                   for f, n in after.by_function.items() if "requests" in n})
    # transitions from the definition: CreateTuningJob (+RunLaps, Finalized?, end), NextTrial (+2), Finalize;
    # the sweeper (another thread) runs in between and is no state of the machine
    assert used.state_transitions == 4 * ran["create_job"] + 3 * ran["next_trial"] + ran["finalize"] + ran["fail_job"]
    assert ran["next_trial"] >= 4  # three trials, then the lap's last call that finds none left
    assert used.lambda_requests == sum(ran.values())
    assert used.read_units >= 3 and used.write_units >= 3 * 2  # each trial is claimed and recorded
    assert used.custom_events >= 2  # InProgress and Completed
    spent = cost.overhead(used, cost.PriceTable.load(), lt.region)
    assert 0 < spent < 0.01  # three trials of the tuner's own work: well under a cent
