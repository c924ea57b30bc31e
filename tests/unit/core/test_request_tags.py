"""Tags of a request and of the training jobs it starts (docs/security.md, "Least privilege by tags"):
a request may not set the tuner's own keys, and every training job carries the deployment's tag,
after the request's own, whatever the request says."""
from __future__ import annotations

import pytest
from tuner import constants
from tuner.core import families
from tuner.core.request import MAX_REQUEST_TAGS, MAX_TAGS, parse_request
from tuner.errors import ValidationError

from tests.builders import tuning_request


def tags(*keys: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": f"v{i}"} for i, k in enumerate(keys)]


@pytest.mark.parametrize("key", [
    constants.DEPLOYMENT_TAG,
    constants.DEPLOYMENT_TAG.upper(),  # IAM compares tag keys in condition keys without case
    constants.RESERVED_TAG_PREFIX + "anything",
    constants.FAMILY_TAG.title(),  # the family tag is allowed as the tuner writes it, not in another case
])
def test_a_request_may_not_set_the_tuner_s_own_tag_keys(key: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_request(tuning_request("t", tags=tags("team", key)))
    assert refused.value.field == "Tags[1].Key"
    assert "reserved" in str(refused.value) and constants.DEPLOYMENT_TAG in str(refused.value)


def test_the_family_tag_the_family_service_sets_is_allowed() -> None:
    # the key core.families writes on the requests it builds, not a copy of it
    request = parse_request(tuning_request("t", tags=[{"Key": families.FAMILY_TAG, "Value": "f"}]))
    assert request.tags == ({"Key": families.FAMILY_TAG, "Value": "f"},)


def test_one_tag_of_a_training_job_is_the_tuner_s() -> None:
    assert MAX_REQUEST_TAGS == MAX_TAGS - 1
    many = tags(*(f"k{i}" for i in range(MAX_REQUEST_TAGS)))
    assert len(parse_request(tuning_request("t", tags=many)).tags) == MAX_REQUEST_TAGS
    with pytest.raises(ValidationError, match=f"at most {MAX_REQUEST_TAGS}"):
        parse_request(tuning_request("t", tags=[*many, {"Key": "one-more", "Value": ""}]))


def test_every_training_job_carries_the_deployment_tag_after_the_request_s_own() -> None:
    request = parse_request(tuning_request("t", tags=tags("team", "cost-center")))
    [definition] = request.definitions
    job = definition.training_job_request("t-001-abc", {"x": "1"}, request.tags, deployment="TunerTable-1")
    assert job["Tags"] == [*request.tags, {"Key": constants.DEPLOYMENT_TAG, "Value": "TunerTable-1"}]
    # without a deployment (a service on fakes) the job has the request's tags only
    assert definition.training_job_request("t-001-abc", {"x": "1"}, request.tags)["Tags"] == list(request.tags)
    assert "Tags" not in definition.training_job_request("t-001-abc", {"x": "1"})


def test_a_deployment_tag_that_got_into_a_stored_request_is_replaced_not_doubled() -> None:
    # (AddTags on a tuning job bypasses parse_request: the builder does not trust the stored tags)
    [definition] = parse_request(tuning_request("t")).definitions
    spoofed = [{"Key": constants.DEPLOYMENT_TAG.upper(), "Value": "other-team"}, {"Key": "team", "Value": "a"}]
    job = definition.training_job_request("t-001-abc", {"x": "1"}, spoofed, deployment="mine")
    assert job["Tags"] == [{"Key": "team", "Value": "a"}, {"Key": constants.DEPLOYMENT_TAG, "Value": "mine"}]
