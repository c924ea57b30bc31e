"""DynamoDB store: one table, the tuning job and its trials under one partition key.

Items (pk = the tuning job's ``name_key``, its name in lower case: SageMaker names are unique
regardless of case, so ``Case-Job`` and ``case-job`` address one partition; the name as given is the
job item's ``name`` attribute):
- ``sk = "JOB"``: the job record; ``kind``/``created`` feed the sparse ``by-kind`` index;
  ``open_index`` (jobs created since the ``open-trials`` index exists) says its trials keep ``open_pk``.
- ``sk = "TRIAL#000042"``: one trial. While it is open (not recorded, or holding a task token) it
  carries ``open_pk`` (= its pk), the key of the sparse ``open-trials`` index (``open_trials``).
- ``sk = "CLAIM#<lap>#<iteration>"``: which trial a lap's iteration claimed, so that an
  at-least-once retry of the claiming step gets the same trial instead of a new one (``reserved``:
  the USD a budgeted job's claim reserved; the job item's ``reservations`` holds those still open).
- ``sk = "NAME"``: the name reserved by a create (``CreateJob.submit``) before it starts the job's
  execution (``name``, ``at``), so that two creates of one name in different cases cannot both
  start: Step Functions execution names are case-sensitive.
- ``sk = "SLOT"``: the job holds one of the deployment's concurrent tuning jobs (``name``, ``at``;
  ``released`` once given back). With the counter item ``pk = "QUOTA#TuningJobs"``,
  ``sk = "COUNTER"`` (``active``: slots held; ``#`` is in no job name, nor in ``FAMILY#<name>``).
  ``take_job_slot`` puts the marker and the counter in one transaction, each conditional
  (``attribute_not_exists`` / ``active = :prev``): of creates racing for the last slot one wins,
  and a retried create finds its marker and takes none more. ``release_job_slot`` marks the marker
  released and decrements the counter in one transaction, conditional on the marker not released:
  a job that ends twice gives one slot back. Only PutItem (take) and UpdateItem (release) are
  called, the grants the create_job and the ending functions have (stacks/functions.py).
Structured fields (request, params, series, metrics) are stored as JSON strings: exact floats,
no Decimal conversions, and NaN never reaches DynamoDB.

Trials as the store reads them (``list_trials``, ``open_trials``):

- A recorded trial never changes again but for its ``task_token``. Every write of a trial is
  conditional on it being unrecorded (``only_unrecorded=True``: the result, a retry, a stop
  reason, a rung, capacity waits, a give-up) except setting or clearing the token, and
  ``update_trial`` refuses any other unconditional write. ``list_trials`` therefore keeps the
  recorded trials it has read (per store instance, so per Lambda container; ``TrialCache``) and
  reads again only the job item (``next_trial``: the trials claimed) and the trials not cached:
  the unrecorded ones and those claimed or recorded since, by consistent Queries over runs of
  trial numbers. A warm container reads O(open + newly recorded) items, a cold one the history
  once. ``list_trials`` never carries a recorded trial's ``task_token`` (it would be stale);
  ``open_trials`` and ``get_trial`` do.
- ``open_pk`` is set by ``put_trial`` on a new (unrecorded) trial and by every write that stores a
  token, and removed by the write after which the trial is recorded and holds no token: in the same
  update when that write knows both (recorded with the token cleared, a token cleared on a
  recorded trial), else by a conditional follow-up (``_close``) once the update's new image shows
  it. An interrupted follow-up leaves a closed trial in the index; ``open_trials`` filters it out.
- Jobs created before the index (no ``open_index`` on the job item) may have open trials without
  ``open_pk``: ``open_trials`` reads their trial list instead (a consistent Query), as before.

Items written before names were keyed by ``name_key`` sit under the name as given (``Case-Job``).
Every method finds them by that exact name (``_pk``: the lower-case partition when its job item
exists, else a legacy partition under the exact name, else the lower-case one for a new job), which
is how the Lambdas, the training-job names and the execution address a job; the resolution costs one
small read per mixed-case name and store instance. A legacy job is not found under another casing
of its name (docs/parity.md).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

from botocore.exceptions import ClientError

from tuner.aws.trial_cache import TrialCache, missing_runs
from tuner.core.naming import name_key
from tuner.core.records import JobRecord, TrialRecord, check_update_trial, now_iso
from tuner.errors import ConcurrentUpdateError, TransientBackendError

#: DynamoDB's throttling and brief unavailability ("Error handling with DynamoDB", DynamoDB developer
#: guide): still failing after the client's adaptive retries (``tuner.aws.assembly.CLIENT_CONFIG``),
#: the call raises ``TransientBackendError``, which the state machine retries with backoff.
THROTTLED = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable",
})
#: Optimistic-lock conflicts (claims, slots) are retried this many times, with full-jitter backoff.
CONFLICT_ATTEMPTS = 20


def backoff(attempt: int, base: float = 0.01, cap: float = 0.5) -> None:
    """Sleep before retrying a lost optimistic-lock race: "full jitter" (a uniform draw up to
    ``base * 2**attempt``, capped), so laps that started together spread out instead of colliding
    again ("Exponential Backoff And Jitter", AWS Architecture Blog)."""
    time.sleep(random.uniform(0.0, min(cap, base * 2**attempt)))


class _ThrottlingIsTransient:
    """A DynamoDB client whose throttled calls raise ``TransientBackendError`` (``THROTTLED``)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                if code in THROTTLED:
                    raise TransientBackendError(f"DynamoDB {name}: {code}; retried with backoff") from err
                raise

        return call

JOB_SK = "JOB"
NAME_SK = "NAME"
SLOT_SK = "SLOT"
SLOTS_KEY = {"pk": {"S": "QUOTA#TuningJobs"}, "sk": {"S": "COUNTER"}}
KIND = "TuningJob"
INDEX = "by-kind"
#: The sparse index of open trials (not recorded, or holding a task token): key ``open_pk``, ``sk``.
OPEN_INDEX = "open-trials"
OPEN_PK = "open_pk"
#: On a job item: its trials keep ``open_pk`` (the job was created since the index exists).
OPEN_MARK = "open_index"
_JSON_FIELDS = {"request", "params", "series", "metrics", "attempts", "log_cursor", "reservations"}


def _trial_sk(n: int) -> str:
    return f"TRIAL#{n:06d}"


def _encode(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": repr(value)}
    return {"S": str(value)}


def _decode(attr: dict[str, Any]) -> Any:
    ((kind, value),) = attr.items()
    if kind == "NULL":
        return None
    if kind == "BOOL":
        return value
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    return value


def _to_item(record: Any, pk: str, sk: str) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"S": sk}}
    for f in fields(record):
        value = getattr(record, f.name)
        item[f.name] = {"S": json.dumps(value)} if f.name in _JSON_FIELDS else _encode(value)
    return item


# Attributes renamed since items were first written: (old name, new name). Read both, write the new.
_RENAMED = (("worker", "lap"),)


def _from_item(cls: type, item: dict[str, Any]) -> Any:
    item = dict(item)
    for old, new in _RENAMED:
        if old in item and new not in item:
            item[new] = item.pop(old)
    kwargs = {}
    for f in fields(cls):
        if f.name in item:
            v = _decode(item[f.name])
            kwargs[f.name] = json.loads(v) if f.name in _JSON_FIELDS and v is not None else v
    return cls(**kwargs)


def query_by_kind(ddb: Any, table: str, kind: str) -> Iterator[dict[str, Any]]:
    """Every item of one ``kind`` through the sparse by-kind index, newest first, all pages."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": INDEX,
        "KeyConditionExpression": "kind = :k",
        "ExpressionAttributeValues": {":k": {"S": kind}},
        "ScanIndexForward": False,
    }
    while True:
        r = ddb.query(**kwargs)
        yield from r["Items"]
        if "LastEvaluatedKey" not in r:
            return
        kwargs["ExclusiveStartKey"] = r["LastEvaluatedKey"]


class DynamoStore:
    """The tuner's state in one DynamoDB table."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.ddb = _ThrottlingIsTransient(client)
        self._partitions: dict[str, str] = {}  # mixed-case name -> the partition its job item is in
        self._trials = TrialCache()  # recorded trials read so far (module docstring)
        self._indexed: dict[str, bool] = {}  # pk -> its job item has OPEN_MARK (never changes)

    def _pk(self, name: str) -> str:
        """The partition of the job ``name``: its ``name_key``, or a legacy one under the exact name."""
        key = name_key(name)
        if key == name:
            return key
        found = self._partitions.get(name)
        if found is not None:
            return found
        for pk in (key, name):
            r = self.ddb.get_item(
                TableName=self.table,
                Key={"pk": {"S": pk}, "sk": {"S": JOB_SK}},
                ProjectionExpression="pk",
                ConsistentRead=True,
            )
            if "Item" in r:
                self._partitions[name] = pk
                return pk
        return key  # no job yet: a new one goes under its key

    # ---- tuning jobs -------------------------------------------------------------------
    def create_job(self, job: JobRecord) -> JobRecord | None:
        """Store a new job; returns None on success, or the record already under that name
        (whatever its case)."""
        item = _to_item(job, self._pk(job.name), JOB_SK)
        item["kind"] = {"S": KIND}
        item[OPEN_MARK] = {"N": "1"}
        try:
            self.ddb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            return None
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return self.get_job(job.name)

    def get_job(self, name: str) -> JobRecord | None:
        """The job called ``name`` in any case (a legacy item: in the case it was stored under)."""
        r = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": self._pk(name)}, "sk": {"S": JOB_SK}}, ConsistentRead=True
        )
        return _from_item(JobRecord, r["Item"]) if "Item" in r else None

    def update_job(self, name: str, *, expect_status: tuple[str, ...] | None = None, **values: Any) -> bool:
        """Set fields of a job; with ``expect_status`` only while the job is in one of them."""
        values["last_modified"] = now_iso()
        condition: dict[str, Any] = {}
        if expect_status:
            condition = {f":expect{i}": {"S": s} for i, s in enumerate(expect_status)}
        cond = "#status IN (" + ", ".join(condition) + ")" if condition else None
        return self._set(self._pk(name), JOB_SK, values, cond, {"#status": "status"} if cond else {}, condition)

    def reserve_name(self, name: str, at: str, *, replace: str | None = None) -> tuple[str, str] | None:
        """Reserve ``name`` (any case) for a create about to start its execution: None when done,
        else ``(name, at)`` of the holder. ``replace``: take the reservation over from that holder."""
        key = {"pk": {"S": name_key(name)}, "sk": {"S": NAME_SK}}
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if replace is not None:
            condition = {
                "ConditionExpression": "#name = :holder",
                "ExpressionAttributeNames": {"#name": "name"},
                "ExpressionAttributeValues": {":holder": {"S": replace}},
            }
        try:
            self.ddb.put_item(
                TableName=self.table, Item={**key, "name": {"S": name}, "at": {"S": at}}, **condition
            )
            return None
        except self.ddb.exceptions.ConditionalCheckFailedException:
            held = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item") or {}
            return _decode(held.get("name", {"S": ""})), _decode(held.get("at", {"S": ""}))

    def reserved(self, name: str) -> str | None:
        """The name (as given) that holds the reservation of ``name`` (any case), if any."""
        key = {"pk": {"S": name_key(name)}, "sk": {"S": NAME_SK}}
        held = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return _decode(held["name"]) if held and "name" in held else None

    # ---- concurrent tuning jobs (the module docstring has the items) ----------------------
    def take_job_slot(self, name: str, limit: int) -> int | None:
        """Atomically take one of ``limit`` slots for the job ``name``: None when it holds one (now or
        from an earlier call), else the number of slots in use (all taken)."""
        marker = {"pk": {"S": self._pk(name)}, "sk": {"S": SLOT_SK}}
        for attempt in range(CONFLICT_ATTEMPTS):
            if attempt:
                backoff(attempt)
            if "Item" in self.ddb.get_item(TableName=self.table, Key=marker, ConsistentRead=True):
                return None  # a retried create: the name holds its slot (or held it and gave it back)
            active = self.job_slots_in_use()
            if active >= limit:
                return active
            counter_condition: dict[str, Any] = (
                {"ConditionExpression": "active = :prev", "ExpressionAttributeValues": {":prev": {"N": str(active)}}}
                if active
                else {"ConditionExpression": "attribute_not_exists(pk) OR active = :zero",
                      "ExpressionAttributeValues": {":zero": {"N": "0"}}}
            )
            try:
                self.ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": {**marker, "name": {"S": name}, "at": {"S": now_iso()}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": {**SLOTS_KEY, "active": {"N": str(active + 1)}},
                                **counter_condition,
                            }
                        },
                    ]
                )
                return None
            except self.ddb.exceptions.TransactionCanceledException:
                continue  # another create took a slot (or this name's) first: look again
        raise ConcurrentUpdateError(
            f"could not take a tuning-job slot for {name} after {CONFLICT_ATTEMPTS} attempts; retry"
        )

    def release_job_slot(self, name: str) -> bool:
        """Give back the slot of the job ``name``; True only for the call that gave it back."""
        marker = {"pk": {"S": self._pk(name)}, "sk": {"S": SLOT_SK}}
        release: dict[str, Any] = {
            "TableName": self.table,
            "Key": marker,
            "UpdateExpression": "SET released = :at",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(released)",
            "ExpressionAttributeValues": {":at": {"S": now_iso()}},
        }
        decrement = {
            "TableName": self.table,
            "Key": SLOTS_KEY,
            "UpdateExpression": "SET active = active - :one",
            "ConditionExpression": "active >= :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        for attempt in range(CONFLICT_ATTEMPTS):
            if attempt:
                backoff(attempt)
            held = self.ddb.get_item(TableName=self.table, Key=marker, ConsistentRead=True).get("Item")
            if not held or "released" in held:
                return False  # no slot held, or given back already
            if self.job_slots_in_use() < 1:  # a counter out of step (never below 0): free the marker only
                try:
                    self.ddb.update_item(**release)
                    return True
                except self.ddb.exceptions.ConditionalCheckFailedException:
                    return False
            try:
                self.ddb.transact_write_items(TransactItems=[{"Update": release}, {"Update": decrement}])
                return True
            except self.ddb.exceptions.TransactionCanceledException:
                continue  # a conflict (a create taking a slot, another release): look again
        raise ConcurrentUpdateError(
            f"could not give back the tuning-job slot of {name} after {CONFLICT_ATTEMPTS} attempts; retry"
        )

    def job_slots_in_use(self) -> int:
        """How many slots are taken and not given back."""
        item = self.ddb.get_item(TableName=self.table, Key=SLOTS_KEY, ConsistentRead=True).get("Item") or {}
        return int(_decode(item["active"])) if "active" in item else 0

    def list_jobs(self) -> list[JobRecord]:
        """Every tuning job, newest first (the sparse by-kind index)."""
        return [_from_item(JobRecord, i) for i in query_by_kind(self.ddb, self.table, KIND)]

    # ---- claiming trial numbers ----------------------------------------------------------
    def claimed(self, name: str, claim_key: str) -> int | None:
        """The trial number ``claim_key`` claimed already, if any."""
        key = {"pk": {"S": self._pk(name)}, "sk": {"S": f"CLAIM#{claim_key}"}}
        item = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return _decode(item["trial"]) if item else None

    def claim_trial(
        self, name: str, claim_key: str, max_trials: int,
        admit: Callable[[JobRecord], dict[str, float] | None] | None = None,
    ) -> int | None:
        """Atomically take the next trial number (1-based) for ``claim_key``.

        Idempotent per claim key: a retried claim returns the number claimed the first time.
        Returns None when ``max_trials`` numbers are taken already.

        ``admit`` (a budgeted job, ``tuner.core.budget``): called with the job item as read
        (consistently) before each attempt; it returns the job's ``reservations`` to write with the
        claim (None: no claim). The write is conditional on ``next_trial`` being what that read
        found, so a decision made on it cannot race another claim: a claim in between fails the
        condition, and the next attempt reads and decides again.
        """
        pk = self._pk(name)
        key = {"pk": {"S": pk}, "sk": {"S": f"CLAIM#{claim_key}"}}
        previous = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if previous:
            return _decode(previous["trial"])
        for attempt in range(CONFLICT_ATTEMPTS):
            if attempt:
                backoff(attempt)
            job = self.get_job(name)
            if job is None or job.next_trial >= max_trials:
                return None
            n = job.next_trial + 1
            update = "SET next_trial = :n, last_modified = :t"
            values = {":n": {"N": str(n)}, ":prev": {"N": str(n - 1)}, ":t": {"S": now_iso()}}
            claim = {**key, "trial": {"N": str(n)}}
            if admit is not None:
                reservations = admit(job)
                if reservations is None:
                    return None
                update += ", reservations = :r"
                values[":r"] = {"S": json.dumps(reservations)}
                if str(n) in reservations:
                    claim["reserved"] = _encode(reservations[str(n)])
            try:
                self.ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self.table,
                                "Key": {"pk": {"S": pk}, "sk": {"S": JOB_SK}},
                                "UpdateExpression": update,
                                "ConditionExpression": "next_trial = :prev",
                                "ExpressionAttributeValues": values,
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": claim,
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
                return n
            except self.ddb.exceptions.TransactionCanceledException:
                previous = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
                if previous:
                    return _decode(previous["trial"])
                continue  # another lap took n first: try n + 1
        raise ConcurrentUpdateError(
            f"could not claim a trial of {name} after {CONFLICT_ATTEMPTS} attempts; retry"
        )

    # ---- trials --------------------------------------------------------------------------
    def put_trial(self, trial: TrialRecord) -> TrialRecord:
        """Store a new trial; if it exists already (a retry), return the stored one."""
        pk = self._pk(trial.job)
        item = _to_item(trial, pk, _trial_sk(trial.number))
        if not trial.recorded or trial.task_token:
            item[OPEN_PK] = {"S": pk}
        try:
            self.ddb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            return trial
        except self.ddb.exceptions.ConditionalCheckFailedException:
            stored = self.get_trial(trial.job, trial.number)
            if stored is None:  # the condition failed, so the item existed; it cannot vanish (no deletes)
                raise ConcurrentUpdateError(
                    f"trial {trial.number} of {trial.job} changed while being stored; retry"
                ) from None
            return stored

    def get_trial(self, name: str, number: int) -> TrialRecord | None:
        r = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": self._pk(name)}, "sk": {"S": _trial_sk(number)}},
            ConsistentRead=True,
        )
        return _from_item(TrialRecord, r["Item"]) if "Item" in r else None

    def update_trial(
        self, name: str, number: int, *, only_unrecorded: bool = False, attempt_of: str | None = None,
        **values: Any,
    ) -> bool:
        """Set fields of a trial; with ``only_unrecorded`` only if no result is written yet, and with
        ``attempt_of`` (a training job name) only while the trial's current attempt is that job.

        Without ``only_unrecorded`` only ``task_token`` may be set: a recorded trial changes in
        nothing else (``list_trials`` caches recorded trials on that promise). Keeps ``open_pk``
        (module docstring): set with a token, removed once the trial is recorded without one.
        """
        check_update_trial(name, number, only_unrecorded, attempt_of, values)
        pk, sk = self._pk(name), _trial_sk(number)
        names = {"#recorded": "recorded"}
        unrecorded: tuple[str, dict[str, str], dict[str, Any]]
        unrecorded = ("#recorded = :false", names, {":false": {"BOOL": False}})
        if attempt_of is not None:  # and its current attempt is still that training job
            unrecorded = (
                "#recorded = :false AND #training_job_name = :attempt_of",  # the placeholder a SET uses too
                {**names, "#training_job_name": "training_job_name"},
                {":false": {"BOOL": False}, ":attempt_of": {"S": attempt_of}},
            )
        recorded = ("#recorded = :true", names, {":true": {"BOOL": True}})
        anyhow: tuple[None, dict[str, str], dict[str, Any]] = (None, {}, {})
        if values.get("task_token"):  # a token to deliver: open
            return self._set(pk, sk, {**values, OPEN_PK: pk}, *(unrecorded if only_unrecorded else anyhow))
        if not only_unrecorded:  # the token cleared: a recorded trial has nothing left open
            closed = self._update(pk, sk, values, *recorded, remove=(OPEN_PK,)) is not None
            return closed or self._set(pk, sk, values, *anyhow)
        if values.get("recorded") is not True:
            return self._set(pk, sk, values, *unrecorded)
        if "task_token" in values:  # recorded, and the token cleared in the same write
            return self._update(pk, sk, values, *unrecorded, remove=(OPEN_PK,)) is not None
        after = self._update(pk, sk, values, *unrecorded, new_image=True)
        if after is None:
            return False
        if not _decode(after.get("task_token", {"NULL": True})):
            self._close(pk, sk)
        return True

    def _close(self, pk: str, sk: str) -> None:
        """Remove ``open_pk`` from a trial that is recorded and holds no token (else leave it)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": pk}, "sk": {"S": sk}},
                UpdateExpression="REMOVE #open",
                ConditionExpression=(
                    "#recorded = :true AND (attribute_not_exists(#token) OR attribute_type(#token, :null))"
                ),
                ExpressionAttributeNames={"#open": OPEN_PK, "#recorded": "recorded", "#token": "task_token"},
                ExpressionAttributeValues={":true": {"BOOL": True}, ":null": {"S": "NULL"}},
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            pass  # a token was stored meanwhile: the trial is open again

    def _set(
        self,
        pk: str,
        sk: str,
        values: dict[str, Any],
        condition: str | None,
        names: dict[str, str],
        vals: dict[str, Any],
    ) -> bool:
        """SET ``values`` on an existing item, under an extra ``condition``; False when it fails."""
        return self._update(pk, sk, values, condition, names, vals) is not None

    def _update(
        self,
        pk: str,
        sk: str,
        values: dict[str, Any],
        condition: str | None,
        names: dict[str, str],
        vals: dict[str, Any],
        *,
        remove: tuple[str, ...] = (),
        new_image: bool = False,
    ) -> dict[str, Any] | None:
        """SET ``values`` and REMOVE ``remove`` on an existing item, under an extra ``condition``.
        None when the condition fails; else the item after the update when ``new_image``, else {}."""
        names = {**names, **{f"#{k}": k for k in (*values, *remove)}}
        vals = {
            **vals,
            **{f":{k}": ({"S": json.dumps(v)} if k in _JSON_FIELDS else _encode(v)) for k, v in values.items()},
        }
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in values)
        if remove:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in remove)
        try:
            r = self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": pk}, "sk": {"S": sk}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)" + (f" AND {condition}" if condition else ""),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=vals,
                **({"ReturnValues": "ALL_NEW"} if new_image else {}),
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return None
        return dict(r.get("Attributes") or {})

    def list_trials(self, name: str) -> list[TrialRecord]:
        """Every trial of the job, by number; recorded ones without ``task_token`` (module docstring).

        The first call for a job in this store reads its whole trial list (one consistent Query);
        later ones read the job item, then only the trials numbered up to ``next_trial`` (or the
        highest seen) that are not cached as recorded, one consistent Query per run of them."""
        pk = self._pk(name)
        cached = self._trials.recorded(pk)
        claimed = self._claimed(pk) if cached is not None else None
        if cached is None or claimed is None:  # first list here, or no job item: read them all
            fetched = list(self._query_trials(pk))
            cached = {}
        else:
            top = max(claimed, self._trials.highest(pk))
            fetched = [t for lo, hi in missing_runs(top, cached) for t in self._query_trials(pk, lo, hi)]
        fetched = self._trials.remember(pk, fetched)
        merged = {**cached, **{t.number: t for t in fetched}}
        return [merged[n] for n in sorted(merged)]

    def _claimed(self, pk: str) -> int | None:
        """The job's ``next_trial`` (trials claimed so far); None when there is no job item."""
        r = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": pk}, "sk": {"S": JOB_SK}},
            ProjectionExpression="next_trial",
            ConsistentRead=True,
        )
        return int(_decode(r["Item"].get("next_trial", {"N": "0"}))) if "Item" in r else None

    def open_trials(self, name: str) -> list[TrialRecord]:
        """Trials not recorded yet, or recorded with a task token still to deliver, by number: the
        sparse ``open-trials`` index (eventually consistent); a job created before it: its trial list."""
        pk = self._pk(name)
        if not self._has_open_index(pk):
            return [t for t in self._query_trials(pk) if not t.recorded or t.task_token]
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OPEN_INDEX,
            "KeyConditionExpression": "#open = :pk",
            "ExpressionAttributeNames": {"#open": OPEN_PK},
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        trials = [_from_item(TrialRecord, i) for i in self._pages(kwargs)]
        return [t for t in trials if not t.recorded or t.task_token]  # a close interrupted half-way

    def _has_open_index(self, pk: str) -> bool:
        """Whether the job's trials keep ``open_pk`` (its job item has ``OPEN_MARK``; no job: nothing to miss)."""
        known = self._indexed.get(pk)
        if known is not None:
            return known
        r = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": pk}, "sk": {"S": JOB_SK}},
            ProjectionExpression="#mark",
            ExpressionAttributeNames={"#mark": OPEN_MARK},
            ConsistentRead=True,
        )
        if "Item" not in r:
            return True
        self._indexed[pk] = OPEN_MARK in r["Item"]
        return self._indexed[pk]

    def _query_trials(self, pk: str, first: int | None = None, last: int | None = None) -> Iterator[TrialRecord]:
        """The stored trials of ``pk`` (numbered ``first``..``last`` when given), consistently."""
        if first is None or last is None:
            condition, bounds = "pk = :pk AND begins_with(sk, :p)", {":p": {"S": "TRIAL#"}}
        else:
            condition = "pk = :pk AND sk BETWEEN :lo AND :hi"
            bounds = {":lo": {"S": _trial_sk(first)}, ":hi": {"S": _trial_sk(last)}}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": {"S": pk}, **bounds},
            "ConsistentRead": True,
        }
        for item in self._pages(kwargs):
            yield _from_item(TrialRecord, item)

    def _pages(self, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            r = self.ddb.query(**kwargs)
            yield from r["Items"]
            if "LastEvaluatedKey" not in r:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": r["LastEvaluatedKey"]}
