"""IAM policy evaluation for the offline IAM twin (``tuner.local.iam``): an explicit Deny wins,
then any Allow; ``Action``/``NotAction`` and ``Resource``/``NotResource`` with ``*`` and ``?``; the
condition operators ``String*``, ``Arn*``, ``Bool`` and ``Null`` (with ``IfExists``), and the set
operators ``ForAllValues:`` / ``ForAnyValue:`` for multivalued keys such as ``aws:TagKeys``
("Single-valued vs. multivalued context keys", IAM user guide). A single-valued operator on a
multivalued key is refused as unmodelled (IAM's result then depends on the values' order)."""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tuner.aws.iam_requests import Access, UnmodelledCallError


@functools.lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * is any run of characters (":" and "/" included), ? is one character.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"(?s:{regex})\\Z", re.IGNORECASE if ignore_case else 0)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return bool(_pattern(pattern, ignore_case).match(value))


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


_STRING_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    # operator -> (test of one condition value against the request's value, negated)
    "StringEquals": (lambda want, got: want == got, False),
    "StringNotEquals": (lambda want, got: want == got, True),
    "StringEqualsIgnoreCase": (lambda want, got: want.lower() == got.lower(), False),
    "StringLike": (lambda want, got: matches(want, got), False),
    "StringNotLike": (lambda want, got: matches(want, got), True),
    "ArnEquals": (lambda want, got: want == got, False),
    "ArnLike": (lambda want, got: matches(want, got), False),
    "ArnNotEquals": (lambda want, got: want == got, True),
    "ArnNotLike": (lambda want, got: matches(want, got), True),
    "Bool": (lambda want, got: want.lower() == got.lower(), False),
}


_SET_OPERATORS = ("ForAllValues:", "ForAnyValue:")


def _matched(operator: str, wanted: list[str], value: str) -> bool:
    """One value of the request against a condition's values (a negated operator: none matches)."""
    test, negated = _STRING_OPERATORS[operator]
    return any(test(str(w), value) for w in wanted) != negated


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str | tuple[str, ...]]) -> bool:
    for operator, keys in condition.items():
        qualifier = next((q for q in _SET_OPERATORS if operator.startswith(q)), "")
        base = operator[len(qualifier):]
        base, if_exists = (base[:-8], True) if base.endswith("IfExists") else (base, False)
        for key, wanted in keys.items():
            got = context.get(key.lower())
            if base == "Null":
                if (got is None) != (str(wanted).lower() == "true"):
                    return False
                continue
            if base not in _STRING_OPERATORS:
                raise UnmodelledCallError(f"condition operator {operator} (tuner.local.iam evaluates "
                                          f"{sorted(_STRING_OPERATORS)} and Null)")
            matched = functools.partial(_matched, base, _listed(wanted))
            if qualifier:
                values = () if got is None else (got,) if isinstance(got, str) else got
                if not values and if_exists:
                    continue
                # ForAllValues: every value matches (no value at all: true); ForAnyValue: one does (none: false)
                holds = all(map(matched, values)) if qualifier == "ForAllValues:" else any(map(matched, values))
                if not holds:
                    return False
                continue
            if got is None:
                if if_exists:
                    continue
                return False
            if not isinstance(got, str):
                raise UnmodelledCallError(f"condition operator {operator} on the multivalued key {key} (use "
                                          f"ForAllValues:{operator} or ForAnyValue:{operator})")
            if not matched(got):
                return False
    return True


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    condition: Mapping[str, Any]
    policy: str
    principals: tuple[str, ...] = ("*",)  # a resource policy's Principal (AWS ARNs, "*"); none: "*"

    @classmethod
    def parse(cls, raw: Mapping[str, Any], policy: str) -> Statement:
        principal = raw.get("Principal", "*")
        return cls(
            principals=tuple(_listed(principal.get("AWS", []) if isinstance(principal, Mapping) else principal)),
            effect=raw.get("Effect", "Deny"),
            actions=tuple(_listed(raw.get("Action"))),
            not_actions=tuple(_listed(raw.get("NotAction"))),
            resources=tuple(_listed(raw.get("Resource"))),
            not_resources=tuple(_listed(raw.get("NotResource"))),
            condition=raw.get("Condition") or {},
            policy=policy,
        )

    def applies(self, access: Access) -> bool:
        if self.actions and not any(matches(a, access.action, ignore_case=True) for a in self.actions):
            return False
        if self.not_actions and any(matches(a, access.action, ignore_case=True) for a in self.not_actions):
            return False
        if self.resources and not any(matches(r, access.resource) for r in self.resources):
            return False
        if self.not_resources and any(matches(r, access.resource) for r in self.not_resources):
            return False
        return _condition_holds(self.condition, {k.lower(): v for k, v in access.context})


@dataclass(frozen=True)
class Policy:
    """A role's statements, from every policy attached to it."""

    statements: tuple[Statement, ...]

    @classmethod
    def of(cls, documents: Mapping[str, Mapping[str, Any]]) -> Policy:
        return cls(tuple(Statement.parse(s, name) for name, doc in documents.items()
                         for s in _statements(doc)))

    def denies(self, access: Access, principal_arn: str) -> bool:
        """A resource policy's explicit Deny of ``access`` by ``principal_arn`` (which the request
        context carries as ``aws:PrincipalArn``)."""
        asked = Access(access.action, access.resource, (*access.context, ("aws:PrincipalArn", principal_arn)))
        return any(
            s.effect == "Deny" and any(p == "*" or matches(p, principal_arn) for p in s.principals) and s.applies(asked)
            for s in self.statements
        )

    def allows(self, access: Access) -> bool:
        return self.decision(access) == "allowed"

    def decision(self, access: Access) -> str:
        """IAM's decision on ``access``, in the policy simulator's words: ``explicitDeny``,
        ``allowed`` or ``implicitDeny``."""
        relevant = [s for s in self.statements if s.applies(access)]
        if any(s.effect == "Deny" for s in relevant):
            return "explicitDeny"
        return "allowed" if any(s.effect == "Allow" for s in relevant) else "implicitDeny"


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = document.get("Statement") or []
    return [raw] if isinstance(raw, Mapping) else list(raw)


def role_policy(iam: Any, role_arn: str) -> Policy:
    """Every inline and attached policy of the role, read through an IAM client."""
    name = role_arn.rsplit("/", 1)[-1]
    documents: dict[str, Mapping[str, Any]] = {}
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        documents[policy_name] = _document(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        meta = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=meta["DefaultVersionId"])
        documents[attached["PolicyArn"]] = _document(version["PolicyVersion"]["Document"])
    return Policy.of(documents)


def principal_policy(iam: Any, arn: str) -> Policy:
    """Every policy of a role or an IAM user (its inline and attached policies, and its groups'),
    read through an IAM client; a principal IAM does not have has none."""
    kind, _, rest = arn.split(":", 5)[-1].partition("/")
    name = rest.rsplit("/", 1)[-1]
    if kind == "role":
        return role_policy(iam, arn)
    if kind != "user":
        return Policy(())
    documents: dict[str, Mapping[str, Any]] = {}

    def attached(listing: Mapping[str, Any]) -> None:
        for entry in listing["AttachedPolicies"]:
            meta = iam.get_policy(PolicyArn=entry["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=entry["PolicyArn"], VersionId=meta["DefaultVersionId"])
            documents[entry["PolicyArn"]] = _document(version["PolicyVersion"]["Document"])

    for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
        documents[f"user:{policy_name}"] = _document(
            iam.get_user_policy(UserName=name, PolicyName=policy_name)["PolicyDocument"]
        )
    attached(iam.list_attached_user_policies(UserName=name))
    for group in iam.list_groups_for_user(UserName=name)["Groups"]:
        for policy_name in iam.list_group_policies(GroupName=group["GroupName"])["PolicyNames"]:
            documents[f"group:{policy_name}"] = _document(
                iam.get_group_policy(GroupName=group["GroupName"], PolicyName=policy_name)["PolicyDocument"]
            )
        attached(iam.list_attached_group_policies(GroupName=group["GroupName"]))
    return Policy.of(documents)


def _document(doc: Any) -> Mapping[str, Any]:
    if isinstance(doc, str):
        return dict(json.loads(unquote(doc)))
    return dict(doc)
