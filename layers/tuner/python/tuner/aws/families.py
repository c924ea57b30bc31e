"""Tuning families in the tuner's DynamoDB table (beside the tuning jobs).

One item per family: ``pk = "FAMILY#<name>"``, ``sk = "FAMILY"``; ``kind = "TuningFamily"`` and
``created`` put it in the sparse ``by-kind`` index (tuning jobs use ``kind = "TuningJob"``, so the
two never mix). Attributes:

- ``spec``: the family definition (JSON string, as registered);
- ``jobs``: the tuning jobs the family started, oldest first (JSON list of names);
- ``running`` / ``running_since``: the lock. Set by a conditional write when a retune starts
  (``acquire``); never trusted alone: whoever finds it set reads that tuning job's status from its
  job item and takes the lock over once the job is terminal. A state-change event may clear it
  earlier (``release``), but nothing depends on that event arriving;
- ``pending``: a retune was requested while one ran (JSON: trigger and overrides), started when the
  running job's terminal state-change event arrives (or by the next trigger);
- ``best``: the best result the family has deployed (auto-deploy), JSON.
"""

from __future__ import annotations

import json
from typing import Any

from tuner.aws.store import query_by_kind
from tuner.core.records import now_iso

FAMILY_SK = "FAMILY"
KIND = "TuningFamily"


def auto_deploy_granted(setting: str | None) -> bool:
    """Whether a deployment grants ``AutoDeploy``, from its setting: the stack output
    ``RetuneAutoDeploy`` or the retune Lambda's ``TUNER_RETUNE_AUTO_DEPLOY`` (``"true"`` /
    ``"false"``, stacks/retuning.py). Absent (a stack from before the setting): not granted."""
    return (setting or "").strip().lower() == "true"


def family_pk(name: str) -> str:
    return f"FAMILY#{name}"


def _key(name: str) -> dict[str, Any]:
    return {"pk": {"S": family_pk(name)}, "sk": {"S": FAMILY_SK}}


def _item_to_dict(item: dict[str, Any]) -> dict[str, Any]:
    def s(key: str) -> str | None:
        return item[key]["S"] if key in item and "S" in item[key] else None

    def j(key: str, default: Any) -> Any:
        text = s(key)
        return json.loads(text) if text else default

    return {
        "name": s("pk")[len("FAMILY#") :],  # type: ignore[index]
        "spec": j("spec", {}),
        "jobs": j("jobs", []),
        "running": s("running"),
        "running_since": s("running_since"),
        "pending": j("pending", None),
        "best": j("best", None),
        "spent": j("spent", {}),
        "created": s("created"),
        "last_modified": s("last_modified"),
    }


class FamilyStore:
    """Families and their retune lock in the tuner table."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.ddb = client

    def put(self, name: str, spec: dict[str, Any], *, replace: bool = False) -> bool:
        """Register a family; False when it exists and ``replace`` is off. Replacing keeps the
        family's jobs, lock and best result."""
        now = now_iso()
        if replace:
            self.ddb.update_item(
                TableName=self.table,
                Key=_key(name),
                UpdateExpression="SET spec = :s, kind = :k, last_modified = :t, "
                "created = if_not_exists(created, :t)",
                ExpressionAttributeValues={
                    ":s": {"S": json.dumps(spec)},
                    ":k": {"S": KIND},
                    ":t": {"S": now},
                },
            )
            return True
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={
                    **_key(name),
                    "kind": {"S": KIND},
                    "created": {"S": now},
                    "last_modified": {"S": now},
                    "spec": {"S": json.dumps(spec)},
                    "jobs": {"S": "[]"},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False

    def get(self, name: str) -> dict[str, Any] | None:
        r = self.ddb.get_item(TableName=self.table, Key=_key(name), ConsistentRead=True)
        return _item_to_dict(r["Item"]) if "Item" in r else None

    def list_all(self) -> list[dict[str, Any]]:
        """Every family, newest first."""
        return [_item_to_dict(i) for i in query_by_kind(self.ddb, self.table, KIND)]

    def delete(self, name: str) -> bool:
        try:
            self.ddb.delete_item(
                TableName=self.table, Key=_key(name), ConditionExpression="attribute_exists(pk)"
            )
            return True
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False

    # ---- the retune lock ------------------------------------------------------------------------
    def acquire(self, name: str, job: str, *, previous: str | None, jobs: list[str]) -> bool:
        """Take the lock for ``job`` if it is still as read: free (``previous`` None) or held by
        ``previous`` (which the caller found terminal). Appends ``job`` to the family's jobs and
        clears ``pending``. False when someone else moved first."""
        values: dict[str, Any] = {
            ":job": {"S": job},
            ":t": {"S": now_iso()},
            ":jobs": {"S": json.dumps([*jobs, job])},
        }
        if previous is None:
            condition = "attribute_exists(pk) AND attribute_not_exists(running)"
        else:
            condition = "attribute_exists(pk) AND running = :prev"
            values[":prev"] = {"S": previous}
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_key(name),
                UpdateExpression="SET running = :job, running_since = :t, jobs = :jobs, last_modified = :t "
                "REMOVE pending",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
            return True
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False

    def release(self, name: str, job: str, *, forget: bool = False) -> bool:
        """Clear the lock if ``job`` holds it; ``forget`` also drops the job from the family's list
        (its execution never started)."""
        item = self.get(name)
        if item is None or item["running"] != job:
            return False
        update = "REMOVE running, running_since SET last_modified = :t"
        values: dict[str, Any] = {":job": {"S": job}, ":t": {"S": now_iso()}}
        if forget:
            update += ", jobs = :jobs"
            values[":jobs"] = {"S": json.dumps([j for j in item["jobs"] if j != job])}
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_key(name),
                UpdateExpression=update,
                ConditionExpression="running = :job",
                ExpressionAttributeValues=values,
            )
            return True
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False

    def set_pending(self, name: str, pending: dict[str, Any]) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key=_key(name),
            UpdateExpression="SET pending = :p, last_modified = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":p": {"S": json.dumps(pending)}, ":t": {"S": now_iso()}},
        )

    def clear_pending(self, name: str) -> None:
        """Drop a deferred retune request (it was skipped)."""
        self.ddb.update_item(
            TableName=self.table,
            Key=_key(name),
            UpdateExpression="REMOVE pending SET last_modified = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":t": {"S": now_iso()}},
        )

    def set_best(self, name: str, best: dict[str, Any], *, previous: dict[str, Any] | None) -> bool:
        """Record a newly deployed best; conditional on the best read before (no lost update)."""
        return self._swap(name, "best", best, previous, absent="attribute_not_exists(best)")

    def record_spend(self, name: str, job: str, usd: float, month: str) -> bool:
        """Keep an ended run's final spend (``month``: the month it counts in) on the family item,
        so a monthly limit reads it here instead of the run's trials. Entries of months other than
        ``month`` are dropped (only the current month is ever summed). Conditional on the entries as
        read; False when the family is gone or the write kept losing to others."""
        for _ in range(3):
            item = self.get(name)
            if item is None:
                return False
            previous = item["spent"]
            entries = {j: e for j, e in previous.items() if e.get("Month") == month}
            entries[job] = {"Month": month, "USD": usd}
            absent = "attribute_exists(pk) AND attribute_not_exists(spent)"
            if self._swap(name, "spent", entries, previous or None, absent=absent):
                return True
        return False

    def _swap(self, name: str, attribute: str, value: Any, previous: Any, *, absent: str) -> bool:
        """Set the JSON ``attribute`` to ``value`` if it still holds ``previous`` as read (``absent``:
        the condition when ``previous`` is None); False when someone else wrote it first."""
        values: dict[str, Any] = {":v": {"S": json.dumps(value)}, ":t": {"S": now_iso()}}
        if previous is None:
            condition = absent
        else:
            condition = f"{attribute} = :prev"
            values[":prev"] = {"S": json.dumps(previous)}
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_key(name),
                UpdateExpression=f"SET {attribute} = :v, last_modified = :t",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
            return True
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False
