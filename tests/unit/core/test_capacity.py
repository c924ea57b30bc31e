"""Account quotas on training instances and the capacity-wait policy (``core.capacity``), and how
many capacity waits a lap's history holds (``core.laps``)."""
from __future__ import annotations

import pytest
from tuner.core.capacity import CapacityWait, instances_by_type, instances_needed, quota_instance_type, quota_name
from tuner.core.laps import capacity_waits_allowed


@pytest.mark.parametrize(
    ("resource_config", "expected"),
    [
        ({"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 5}, {"ml.m5.xlarge": 2}),
        ({"InstanceType": "ml.m5.xlarge"}, {"ml.m5.xlarge": 1}),
        (  # a heterogeneous cluster
            {"InstanceGroups": [
                {"InstanceGroupName": "a", "InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2},
                {"InstanceGroupName": "b", "InstanceType": "ml.c5.18xlarge", "InstanceCount": 4},
                {"InstanceGroupName": "c", "InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1},
            ]},
            {"ml.p4d.24xlarge": 3, "ml.c5.18xlarge": 4},
        ),
        ({}, {}),
    ],
)
def test_instances_by_type(resource_config, expected):
    assert instances_by_type(resource_config) == expected


@pytest.mark.parametrize(
    ("quota", "instance_type"),
    [
        ("ml.m5.xlarge for training job usage", "ml.m5.xlarge"),
        ("ml.g4dn.xlarge for spot training job usage", "ml.g4dn.xlarge"),
        ("training-job/ml.p2.xlarge", "ml.p2.xlarge"),  # the wording before quotas had names
        ("Number of instances across all training jobs", None),
        (None, None),
    ],
)
def test_the_instance_type_a_quota_is_about(quota, instance_type):
    assert quota_instance_type(quota) == instance_type


def test_quota_names_are_sagemakers():
    assert quota_name("ml.m5.xlarge") == "ml.m5.xlarge for training job usage"
    assert quota_name("ml.m5.xlarge", spot=True) == "ml.m5.xlarge for spot training job usage"


def test_instances_one_job_needs_of_a_quota():
    cluster = {"InstanceGroups": [{"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2},
                                  {"InstanceType": "ml.c5.18xlarge", "InstanceCount": 4}]}
    assert instances_needed(cluster, "ml.c5.18xlarge for training job usage") == 4
    assert instances_needed(cluster, "Number of instances across all training jobs") == 6
    assert instances_needed(cluster, "ml.m5.large for training job usage") is None  # not this job's type


def test_the_default_backoff_doubles_from_30_s_to_5_min_and_gives_up_after_a_day():
    policy = CapacityWait()
    waited, waits = 0, []
    while not policy.gives_up(waited):
        waits.append(policy.wait_seconds(waited))
        waited += waits[-1]
    assert waits[:6] == [30, 60, 120, 240, 300, 300]
    assert set(waits[5:-1]) == {300}
    assert waited == 86_400 and len(waits) == 4 + (86_400 - 450 + 299) // 300  # 291 waits in a day


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"first": 0}, "1 <= first"), ({"first": 60, "cap": 30}, "1 <= first"), ({"first": 30, "give_up": 10}, "give_up")],
)
def test_a_policy_that_cannot_work_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CapacityWait(**kwargs)


def test_the_policy_travels_in_the_state_machine_payload():
    policy = CapacityWait(first=2, cap=8, give_up=60)
    assert policy.to_payload() == {"FirstSeconds": 2, "MaxSeconds": 8, "GiveUpSeconds": 60}
    assert CapacityWait.from_payload(policy.to_payload()) == policy
    assert CapacityWait.from_payload(None) == CapacityWait()  # a definition deployed before capacity waits


@pytest.mark.parametrize(("lap_trials", "waits"), [(1000, 1248), (None, 1248), (1, 2247), (2248, 0), (5000, 0)])
def test_a_lap_holds_as_many_capacity_waits_as_its_history_has_room_for(lap_trials, waits):
    # 25,000 events, 2,500 kept for timeouts and retries, 12 per lap, 10 per trial, 10 per wait
    assert capacity_waits_allowed(lap_trials) == waits
    trials = 1000 if lap_trials is None else lap_trials
    if waits:
        assert 12 + 10 * trials + 10 * waits <= 25_000 - 2_500 < 12 + 10 * trials + 10 * (waits + 1)
