"""The tuner's "Hyperparameter Tuning Job State Change" event: what its detail may carry, how large
its PutEvents entry is, and the log line an alarm counts when an event is lost (docs/events-security.md).

The detail is the job's ``DescribeHyperParameterTuningJob`` response (``Queries.state_change_detail``),
with two rules applied here, in one place:

**No secrets.** Describe answers an authorised caller; an event reaches every consumer of the bus
(rules, archives, their targets' logs), and the state machine's own logging leaves the request out
for the same reason (``include_execution_data=False``). botocore's SageMaker model has exactly two
members in that response whose values the user writes freely, both string-to-string maps of a
training job definition (in ``TrainingJobDefinition`` and each of ``TrainingJobDefinitions``):
``StaticHyperParameters`` (``HyperParameters``) and ``Environment``
(``HyperParameterTrainingJobEnvironmentMap``). SageMaker passes both to the training container, so
they are where API keys and passwords end up. The event keeps their names (keys), so a consumer still
sees *which* were set, and replaces every value with ``REDACTED``. The free-text members
(``FailureReason``, ``TuningJobCompletionReason``) can quote a value (a training script that failed
on it): every occurrence of a value of at least ``MIN_SCRUBBED_LENGTH`` characters is replaced too.
Left as they are, by decision:

* ``BestTrainingJob`` / ``OverallBestTrainingJob`` ``TunedHyperParameters`` (the same
  ``HyperParameters`` shape): values the tuner chose from the request's ranges, the result the
  event exists to announce, not user secrets;
* ``HyperParameterTuningJobConfig``: ranges, objective, limits, strategy; no free-form slot;
* the identifiers of a definition (``RoleArn``, ``TrainingImage``, S3 URIs, ``VpcConfig``, KMS key
  ids): names of resources that IAM guards, not credentials;
* ``Tags``: not a member of the describe response, so never in the event.

**Always fits.** EventBridge takes a PutEvents entry smaller than 256 KB ("Calculating Amazon
EventBridge PutEvents event entry size", EventBridge user guide: Time 14 bytes when given, then the
UTF-8 bytes of Source, DetailType, Detail and each Resources entry; ``entry_size``). An entry at or
over it is refused. When the detail would not fit, members are dropped in ``DROP_ORDER`` until it
does, and ``DETAIL_TRUNCATED: true`` is added, so a consumer knows to call describe. The job's name,
ARN, status, times, counters, ``BestTrainingJob``, ``FailureReason`` and
``TuningJobCompletionReason`` always stay (bounded: a few KB).
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.constants import TUNER_SOURCE, TUNING_STATE_CHANGE

#: What replaces each value of a redacted map, and each quoted value in a free-text member.
REDACTED = "*****"
#: The maps of a training job definition whose values the event never carries.
REDACTED_MAPS = ("StaticHyperParameters", "Environment")
#: The describe members holding training job definitions (one, or a list of them).
DEFINITION = "TrainingJobDefinition"
DEFINITIONS = "TrainingJobDefinitions"
#: Free text that may quote a value; shorter values ("3", "true", "auc") occur in any text and are
#: no secret of useful strength, so only values of at least this many characters are scrubbed there.
FREE_TEXT = ("FailureReason", "TuningJobCompletionReason")
MIN_SCRUBBED_LENGTH = 8

#: EventBridge's bound on a PutEvents entry: the entry must be smaller ("less than 256KB").
MAX_ENTRY_BYTES = 256 * 1024
#: The bytes the ``Time`` parameter counts when given.
TIME_BYTES = 14
#: Added (``true``) to a detail that left members out to fit; the consumer calls describe.
DETAIL_TRUNCATED = "DetailTruncated"
#: What a too-large detail leaves out, first to last: the definitions (the bulk: ranges, metric
#: definitions, the redacted maps' keys), then the other optional members; the config last (its
#: ranges can be large, but Describe's shape requires it).
DROP_ORDER = (
    DEFINITIONS,
    DEFINITION,
    "OverallBestTrainingJob",
    "WarmStartConfig",
    "Autotune",
    "HyperParameterTuningJobConfig",
)

#: The token of the ERROR log line written when a state-change event could not be published (after
#: the publisher's retries); the stack's metric filter counts the lines holding it.
NOT_PUBLISHED = "TunerEventNotPublished"
#: The CloudWatch metric those lines are counted in (one per line), and the stack's alarm on it.
METRIC_NAMESPACE = "SageMakerTuner"
METRIC_NOT_PUBLISHED = "StateChangeEventsNotPublished"


# ---- no secrets ----------------------------------------------------------------------------------
def redact(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` (a describe response) without any value of the redacted maps (a new dict)."""
    out = dict(detail)
    values = _secret_values(detail)
    if DEFINITION in out:
        out[DEFINITION] = _redacted_definition(out[DEFINITION])
    if DEFINITIONS in out:
        definitions = out[DEFINITIONS]
        out[DEFINITIONS] = (
            [_redacted_definition(d) for d in definitions] if isinstance(definitions, list) else REDACTED
        )
    for member in FREE_TEXT:
        if isinstance(out.get(member), str):
            out[member] = scrub(out[member], values)
    return out


def _redacted_definition(definition: Any) -> Any:
    if not isinstance(definition, Mapping):
        return REDACTED  # not a definition (a request stored as given): nothing of it is shown
    out = dict(definition)
    for member in REDACTED_MAPS:
        if member not in out:
            continue
        values = out[member]
        out[member] = {str(k): REDACTED for k in values} if isinstance(values, Mapping) else REDACTED
    return out


def _secret_values(detail: Mapping[str, Any]) -> list[str]:
    """Every value of the redacted maps, as text, longest first."""
    definitions = detail.get(DEFINITIONS)
    found: list[Any] = [detail.get(DEFINITION), *(definitions if isinstance(definitions, list) else [])]
    values: set[str] = set()
    for definition in found:
        if not isinstance(definition, Mapping):
            continue
        for member in REDACTED_MAPS:
            mapping = definition.get(member)
            if isinstance(mapping, Mapping):
                values.update(v if isinstance(v, str) else json.dumps(v, default=str) for v in mapping.values())
    return sorted(values, key=len, reverse=True)


def scrub(text: str, values: Sequence[str]) -> str:
    """``text`` with every occurrence of each value (of ``MIN_SCRUBBED_LENGTH`` or more characters)
    replaced by ``REDACTED``; ``values`` longest first, so a value inside another goes with it."""
    for value in values:
        if len(value) >= MIN_SCRUBBED_LENGTH and value in text:
            text = text.replace(value, REDACTED)
    return text


# ---- always fits ---------------------------------------------------------------------------------
def detail_json(detail: Mapping[str, Any]) -> str:
    """The ``Detail`` string of the entry, as the publisher sends it (a datetime as ``str()``)."""
    return json.dumps(detail, default=str)


def entry(detail: Mapping[str, Any], resources: Sequence[str], bus: str | None = None) -> dict[str, Any]:
    """The PutEvents entry of a tuner state-change event."""
    out: dict[str, Any] = {
        "Source": TUNER_SOURCE,
        "DetailType": TUNING_STATE_CHANGE,
        "Detail": detail_json(detail),
        "Resources": list(resources),
    }
    if bus is not None:
        out["EventBusName"] = bus
    return out


def entry_size(put_entry: Mapping[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge counts it: ``Time`` 14 bytes when given, then the
    UTF-8 bytes of ``Source``, ``DetailType``, ``Detail`` and each ``Resources`` entry
    (``EventBusName`` and ``TraceHeader`` are not counted)."""
    size = TIME_BYTES if put_entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        if put_entry.get(member) is not None:
            size += len(str(put_entry[member]).encode("utf-8"))
    for resource in put_entry.get("Resources") or ():
        if resource is not None:
            size += len(str(resource).encode("utf-8"))
    return size


def fits(put_entry: Mapping[str, Any]) -> bool:
    return entry_size(put_entry) < MAX_ENTRY_BYTES


def fit(detail: Mapping[str, Any], resources: Sequence[str]) -> dict[str, Any]:
    """``detail`` when its entry fits; otherwise without the members of ``DROP_ORDER``, first to
    last, until it does, and with ``DETAIL_TRUNCATED: true``. ``ValueError`` if even the kept
    members do not fit (not reachable within SageMaker's request bounds)."""
    out = dict(detail)
    if fits(entry(out, resources)):
        return out
    out[DETAIL_TRUNCATED] = True
    for member in DROP_ORDER:
        if out.pop(member, None) is not None and fits(entry(out, resources)):
            return out
    if fits(entry(out, resources)):
        return out
    raise ValueError(
        f"the state-change event of {detail.get('HyperParameterTuningJobName')!r} is "
        f"{entry_size(entry(out, resources))} bytes without {', '.join(DROP_ORDER)}; "
        f"EventBridge takes less than {MAX_ENTRY_BYTES}"
    )


def state_change_detail(describe: Mapping[str, Any]) -> dict[str, Any]:
    """The event detail of a describe response: redacted, then fitted to one entry (resources:
    the job's ARN, as the publisher sends it)."""
    redacted = redact(describe)
    return fit(redacted, [str(redacted.get("HyperParameterTuningJobArn", ""))])
