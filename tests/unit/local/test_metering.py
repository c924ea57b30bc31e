"""DynamoDB's unit rules and item sizes as the offline meter applies them (tuner.local.metering)."""

from __future__ import annotations

from tuner.local.metering import Meter, attribute_bytes, fixed_resources, item_bytes, read_units, write_units


def test_item_sizes_follow_dynamodb():
    assert attribute_bytes({"S": "héllo"}) == 6  # UTF-8 bytes
    assert attribute_bytes({"N": "12345"}) == 4  # ~1 byte per 2 digits, plus 1
    assert attribute_bytes({"BOOL": True}) == 1
    assert attribute_bytes({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 2
    assert item_bytes({"pk": {"S": "job"}, "n": {"N": "7"}}) == 2 + 3 + 1 + 2


def test_units_round_up_per_4_kb_read_and_1_kb_written():
    assert read_units(0, consistent=True) == 1  # a read that finds nothing still costs one
    assert read_units(4097, consistent=True) == 2
    assert read_units(4096, consistent=False) == 0.5
    assert read_units(100, consistent=True, transactional=True) == 2
    assert write_units(1025) == 2 and write_units(10, transactional=True) == 2


def test_a_call_is_counted_for_the_function_that_made_it():
    meter = Meter(lambda: None)
    big = {"pk": {"S": "p"}, "blob": {"S": "x" * 5000}}
    meter.count("next_trial", "dynamodb", "GetItem", {"ConsistentRead": True}, {"Item": big}, lambda *a: None)
    meter.count("next_trial", "dynamodb", "PutItem", {"Item": big}, {}, lambda *a: None)
    meter.count("next_trial", "dynamodb", "UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "p"}}}, {},
                lambda op, params: {"Item": big})
    meter.count("finalize", "events", "PutEvents", {"Entries": [{}, {}]}, {}, lambda *a: None)
    meter.invoked("next_trial", 0.25, 1769)
    u = meter.usage
    assert (u.read_units, u.write_units, u.custom_events) == (2.0, 10.0, 2)
    assert u.lambda_requests == 1 and abs(u.lambda_gb_seconds - 0.25 * 1769 / 1024) < 1e-9
    assert u.state_transitions == 3  # NextTrial, LapDone?, and the state after it
    assert u.by_function["next_trial"]["write_units"] == 10.0


def test_fixed_fees_come_from_the_template():
    template = {"Resources": {
        "Key": {"Type": "AWS::KMS::Key"},
        "A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors"}},
        "B": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [
            {"Expression": "SUM([m0,m1])"}, {"MetricStat": {}}, {"MetricStat": {}}]}},
    }}
    assert fixed_resources(template) == (1, 3)
