"""The CLI's budget: ``--max-spend`` sets the tags, describe and the progress line show spent / budget."""
from __future__ import annotations

import io

import pytest
from tuner import cli_common
from tuner.errors import ValidationError

from tests.builders import job_describe, tuning_request

SPEND = {"MaxSpendUSD": 5.0, "SpendPolicy": "hard", "SpentUSD": 1.23456, "ReservedUSD": 0.5}


def test_max_spend_sets_the_budget_tags_replacing_any_given_and_keeping_the_others():
    request = tuning_request("job", tags=[{"Key": "team", "Value": "a"}, {"Key": "tuner:MaxSpendUSD", "Value": "1"}])
    cli_common.set_max_spend(request, 7.5, "hard")
    assert request["Tags"] == [{"Key": "team", "Value": "a"}, {"Key": "tuner:MaxSpendUSD", "Value": "7.5"},
                               {"Key": "tuner:SpendPolicy", "Value": "hard"}]
    unchanged = tuning_request("job")
    cli_common.set_max_spend(unchanged, None)
    assert "Tags" not in unchanged
    with pytest.raises(ValidationError, match="positive number"):
        cli_common.set_max_spend(tuning_request("job"), -1.0)


def test_describe_and_the_progress_line_show_spent_of_budget():
    assert cli_common.spend_text(SPEND) == "spent $1.2346 / $5 (held $0.5000, policy hard)"
    assert cli_common.spend_text(None) is None
    counters = {"Succeeded": 3, "Pending": 0, "Failed": 0}
    d = {**job_describe(), "ObjectiveStatusCounters": counters, "TuningJobSpend": SPEND,
         "TuningJobCompletionReason": "budget: ..."}
    shown = cli_common.describe_table(d)
    assert "spent $1.2346 / $5" in shown and "budget: ..." in shown
    out = io.StringIO()
    cli_common.Progress(3, out, spend=lambda: SPEND)(d)
    assert out.getvalue().rstrip().endswith("spent $1.2346 / $5 (held $0.5000, policy hard)")
