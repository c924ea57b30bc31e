"""IAM, enforced offline: every AWS call a tuner Lambda (or the state machine) makes is evaluated
against the policies of its role as deployed, and refused as AWS would refuse it.

moto enforces no IAM, so a missing grant would only show in an account. ``IamTwin`` closes that
gap inside the offline loop:

* **Who calls.** ``InProcessLambdas`` runs each handler inside ``twin.acting_as(name, role)``
  (a context variable, so concurrent laps in other threads keep their own principal). moto's Step
  Functions invokes Lambdas with a client whose access key is ``ak``: those calls are the state
  machine's, evaluated against its role. Every other call (the user, the harness, the stand-in) is
  not evaluated.
* **What the call needs.** ``accesses(...)`` turns one API call into the IAM requests AWS makes of
  it: action, resource ARN and condition keys. ``CreateTrainingJob`` also needs
  ``sagemaker:AddTags`` when it carries tags, and ``iam:PassRole`` on its ``RoleArn`` with
  ``iam:PassedToService``; ``TransactWriteItems`` needs each item's own action on its table. A call
  this module cannot model is refused (fail closed) with what to add here.
* **Tags.** A call that sets tags carries ``aws:RequestTag/<key>`` and ``aws:TagKeys``; a call on an
  existing training job carries ``aws:ResourceTag/<key>`` of its tags as they are now, which the
  twin reads with SageMaker ``ListTags`` on the job's ARN, as nobody's call (through the
  ``sagemaker_client`` it was given, else the caller's own client). A job that does not exist has no
  tags, so a condition on them fails and the call is refused with ``AccessDeniedException``, as AWS
  refuses it. Such a refusal is kept apart (``absent``, not ``denials``): no grant is missing, and a
  caller may rely on it (``tuner.aws.sagemaker`` asks whether a job of its deployment has a name).
* **Whether the role allows it.** The role's inline and attached policies are read from moto's IAM
  (what CloudFormation created from the synthesized template, intrinsics resolved) and evaluated:
  explicit Deny, then Allow; ``Action``/``NotAction``, ``Resource``/``NotResource`` wildcards; the
  condition operators the template uses.
* **What IAM answers a caller.** moto has no ``SimulatePrincipalPolicy``: the twin answers it
  (``simulate``) with the same evaluation, for any role or user moto's IAM holds, whatever the
  mode (the front door asks it about its callers: ``tuner.aws.front_door``).
* **Whether the resource refuses it.** An event bus's resource policy (the template's
  ``AWS::Events::EventBusPolicy``, put on the bus at deploy: ``tuner.local.deploy``) is read too,
  and its explicit Deny refuses the call whatever the role allows; ``aws:PrincipalArn`` is the
  caller's role. Any principal can be evaluated: ``acting_as(name, role_arn)`` also stands for a
  caller outside the tuner (a test's forger).

A refused call raises ``AccessDeniedException`` to the caller, as AWS does, and is recorded in
``denials`` (so a caller that swallows the error still fails the run). ``exercised`` is every
distinct (role, action, resource) the run needed: the infra coverage check compares it with what
the roles grant. Where the AWS documentation leaves open which ARN IAM checks (task tokens issued
inside a distributed Map, see ``docs/reliability.md``), every candidate ARN must be allowed.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuner.aws.iam_requests import Access, Scope, UnmodelledCallError, accesses, distributed_map_labels
from tuner.local.iam_policy import Policy, matches, principal_policy

# The access key moto's Step Functions uses for the clients of its task states.
STATE_MACHINE_ACCESS_KEY = "ak"
STATE_MACHINE = "state machine"
IAM_MODES = ("enforce", "record", "off")


@dataclass(frozen=True)
class Principal:
    name: str  # the function's name, or STATE_MACHINE
    role_arn: str


@dataclass(frozen=True)
class Denial:
    principal: Principal
    operation: str
    access: Access
    by_resource_policy: bool = False  # an explicit Deny in the resource's own policy
    resource_absent: bool = False  # the resource does not exist (so it has no tags a condition needs)

    def __str__(self) -> str:
        if self.resource_absent:
            return (f"{self.principal.name} ({self.principal.role_arn}) called {self.operation}, which needs "
                    f"{self.access.describe()}: the resource does not exist, so it has no tags to match.")
        if self.by_resource_policy:
            return (f"{self.principal.name} ({self.principal.role_arn}) called {self.operation}, which needs "
                    f"{self.access.describe()}: the resource's policy denies it explicitly.")
        return (
            f"{self.principal.name} ({self.principal.role_arn}) called {self.operation}, which needs "
            f"{self.access.describe()}: no statement of its role allows it. Grant it in stacks/ "
            f"(or stop making the call)."
        )


_acting: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("tuner_iam_principal", default=None)


def acting_principal() -> Principal | None:
    """The tuner function (or other principal) whose call is running in this context, if any."""
    return _acting.get()


class IamTwin:
    """Evaluates the tuner's own AWS calls against its deployed roles (see the module docstring).

    ``mode``: ``"enforce"`` (refuse and record), ``"record"`` (record only) or ``"off"``.
    """

    def __init__(
        self, scope: Scope, iam_client: Any, *, mode: str = "enforce", events_client: Any = None,
        sagemaker_client: Any = None,
    ) -> None:
        if mode not in IAM_MODES:
            raise ValueError(f"IAM twin mode {mode!r}: use one of {', '.join(IAM_MODES)}")
        self.scope = scope
        self.mode = mode
        self._iam = iam_client
        self._events = events_client  # reads event buses' resource policies (None: not evaluated)
        self._sagemaker = sagemaker_client  # reads training jobs' tags (None: through the caller's client)
        self._resource_policies: dict[str, Policy | None] = {}
        self._policies: dict[str, Policy] = {}
        self._lock = threading.Lock()
        self.state_machine: Principal | None = None
        self.denials: list[Denial] = []
        self.absent: list[Denial] = []  # refused on a resource that does not exist (see the module docstring)
        self.exercised: set[tuple[Principal, Access]] = set()
        self.unmodelled: list[tuple[Principal, str]] = []
        self.calls = 0
        self._original: Callable[..., Any] | None = None

    # principals -------------------------------------------------------------------------------
    def register_state_machine(self, arn: str, role_arn: str, definition: Mapping[str, Any]) -> None:
        self.state_machine = Principal(STATE_MACHINE, role_arn)
        labels = dict(self.scope.map_labels)
        labels[arn] = distributed_map_labels(definition)
        self.scope = Scope(self.scope.region, self.scope.account, self.scope.partition, labels)

    @contextlib.contextmanager
    def acting_as(self, name: str, role_arn: str) -> Iterator[None]:
        token = _acting.set(Principal(name, role_arn))
        try:
            yield
        finally:
            _acting.reset(token)

    def reload(self) -> None:
        """Forget the roles' and resources' policies read so far (after a test changed one)."""
        with self._lock:
            self._policies.clear()
            self._resource_policies.clear()

    def policy(self, role_arn: str) -> Policy:
        with self._lock:
            cached = self._policies.get(role_arn)
        if cached is not None:
            return cached
        token = _acting.set(None)  # the twin's own IAM reads are nobody's calls
        try:
            policy = principal_policy(self._iam, role_arn)
        finally:
            _acting.reset(token)
        with self._lock:
            self._policies[role_arn] = policy
        return policy

    def resource_policy(self, arn: str) -> Policy | None:
        """The resource-based policy of an event bus (None: the resource has none, or is not a bus).

        Within one account a resource policy only matters by its explicit Deny (an identity policy's
        Allow is enough otherwise), so that is what the twin evaluates ("Policy evaluation logic",
        IAM user guide)."""
        if self._events is None or ":event-bus/" not in arn:
            return None
        with self._lock:
            if arn in self._resource_policies:
                return self._resource_policies[arn]
        token = _acting.set(None)  # the twin's own reads are nobody's calls
        try:
            document = self._events.describe_event_bus(Name=arn.rsplit("/", 1)[-1]).get("Policy")
        except Exception:  # noqa: BLE001 - a bus that does not exist has no policy
            document = None
        finally:
            _acting.reset(token)
        policy = Policy.of({arn: json.loads(document)}) if document else None
        with self._lock:
            self._resource_policies[arn] = policy
        return policy

    def resource_tags(self, arn: str, client: Any = None) -> dict[str, str] | None:
        """The current tags of a SageMaker resource (``aws:ResourceTag``), read with ``ListTags`` as
        nobody's call: None when the resource does not exist (SageMaker's ValidationException "Could
        not find"); {} when it has none, or no client can read them."""
        from botocore.exceptions import ClientError

        reader = self._sagemaker if self._sagemaker is not None else client
        if reader is None:
            return {}
        tags: dict[str, str] = {}
        token = _acting.set(None)  # the twin's own reads are nobody's calls
        try:
            asked: dict[str, Any] = {"ResourceArn": arn}
            while True:
                page = reader.list_tags(**asked)
                tags.update({t["Key"]: t.get("Value", "") for t in page.get("Tags") or []})
                if not page.get("NextToken"):
                    break
                asked["NextToken"] = page["NextToken"]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            return None if code in ("ValidationException", "ResourceNotFound") else {}
        except Exception:  # noqa: BLE001 - unreadable: no tags known, so a condition on them fails
            return {}
        finally:
            _acting.reset(token)
        return tags

    # evaluation -------------------------------------------------------------------------------
    def check(
        self, principal: Principal, service: str, operation: str, params: Mapping[str, Any], client: Any = None
    ) -> list[Denial]:
        """Evaluate one call (``client``: the caller's, which may read the tags of the resource it
        names); records it and returns its denials."""
        absent: set[str] = set()

        def tags_of(arn: str) -> dict[str, str]:
            found = self.resource_tags(arn, client)
            if found is None:
                absent.add(arn)
            return found or {}

        try:
            needed = accesses(service, operation, params, self.scope, resource_tags=tags_of)
        except UnmodelledCallError as exc:
            with self._lock:
                self.unmodelled.append((principal, str(exc)))
            needed = [Access(f"(unmodelled) {exc}", "*")]
            denials = [Denial(principal, operation, a) for a in needed]
        else:
            policy = self.policy(principal.role_arn)
            denials = [
                Denial(principal, operation, a, resource_absent=a.resource in absent)
                for a in needed
                if not policy.allows(a)
            ]
            for a in needed:
                own = self.resource_policy(a.resource)
                if own is not None and own.denies(a, principal.role_arn) and not any(d.access == a for d in denials):
                    denials.append(Denial(principal, operation, a, by_resource_policy=True))
        with self._lock:
            self.calls += 1
            for a in needed:
                if not any(d.access == a for d in denials):
                    self.exercised.add((principal, a))
            self.denials.extend(d for d in denials if not d.resource_absent)
            self.absent.extend(d for d in denials if d.resource_absent)
        return denials

    def simulate(self, principal_arn: str, actions: Sequence[str], resources: Sequence[str],
                 entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``SimulatePrincipalPolicy``'s ``EvaluationResults``: each action on each resource (``*``
        when none is given), with the ``ContextEntries`` as condition keys (a one-valued entry of a
        single-valued type as a string, a list type as a tuple)."""
        context = tuple(
            (str(e["ContextKeyName"]),
             tuple(e.get("ContextKeyValues") or ()) if str(e.get("ContextKeyType", "")).endswith("List")
             else str((e.get("ContextKeyValues") or [""])[0]))
            for e in entries
        )
        policy = self.policy(principal_arn)
        return [
            {"EvalActionName": action, "EvalResourceName": resource,
             "EvalDecision": policy.decision(Access(action, resource, context))}
            for action in actions for resource in (resources or ["*"])
        ]

    def install_simulator(self) -> None:
        """Answer IAM's ``SimulatePrincipalPolicy`` in moto (which has none) with ``simulate``."""
        from moto.core.responses import ActionResult
        from moto.iam.responses import IamResponse

        twin = self

        from botocore.exceptions import ClientError

        def simulate_principal_policy(response: Any) -> Any:
            from moto.iam.exceptions import NotFoundException

            source = str(response._get_param("PolicySourceArn"))
            with twin._lock:  # a test may have changed the principal's policies since the last answer
                twin._policies.pop(source, None)
            try:
                results = twin.simulate(source, response._get_param("ActionNames") or [],
                                        response._get_param("ResourceArns") or [],
                                        response._get_param("ContextEntries") or [])
            except ClientError as err:  # the principal does not exist
                raise NotFoundException(f"PolicySourceArn {source}: {err}") from None
            return ActionResult({"EvaluationResults": results, "IsTruncated": False})

        IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]

    def _principal_of(self, client: Any) -> Principal | None:
        acting = _acting.get()
        if acting is not None:
            return acting
        credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
        if getattr(credentials, "access_key", None) == STATE_MACHINE_ACCESS_KEY:
            return self.state_machine
        return None

    def install(self) -> IamTwin:
        from botocore.client import BaseClient

        self.install_simulator()
        if self._original is not None or self.mode == "off":
            return self
        original = BaseClient._make_api_call
        self._original = original
        twin = self

        def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            principal = twin._principal_of(client)
            if principal is not None:
                service = client.meta.service_model.service_name
                denials = twin.check(principal, service, operation_name, api_params, client)
                if denials and twin.mode == "enforce":
                    raise _access_denied(denials[0], operation_name, twin.scope.account)
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        from botocore.client import BaseClient
        from moto.iam.responses import IamResponse

        if "simulate_principal_policy" in IamResponse.__dict__:
            delattr(IamResponse, "simulate_principal_policy")

        if self._original is not None:
            BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None

    @contextlib.contextmanager
    def expect_denials(self) -> Iterator[list[Denial]]:
        """The denials of the block, taken out of ``denials`` (a test that removes a grant)."""
        with self._lock:
            start = len(self.denials)
        taken: list[Denial] = []
        try:
            yield taken
        finally:
            with self._lock:
                taken.extend(self.denials[start:])
                del self.denials[start:]

    def needed_by(self, name: str) -> set[Access]:
        """What the principal ``name`` needed so far (allowed requests only)."""
        with self._lock:
            return {a for p, a in self.exercised if p.name == name}

    # reporting --------------------------------------------------------------------------------
    def report(self, denials: Sequence[Denial] | None = None) -> str:
        listed = list(self.denials if denials is None else denials)
        seen: dict[str, int] = {}
        for d in listed:
            seen[str(d)] = seen.get(str(d), 0) + 1
        return "\n".join(f"- {text}" + (f" (x{n})" if n > 1 else "") for text, n in seen.items())


def _access_denied(denial: Denial, operation: str, account: str) -> Exception:
    from botocore.exceptions import ClientError

    role = denial.principal.role_arn.rsplit("/", 1)[-1]
    because = (
        "with an explicit deny in a resource-based policy" if denial.by_resource_policy
        else f"because no identity-based policy allows the {denial.access.action} action"
    )
    message = (
        f"User: arn:aws:sts::{account}:assumed-role/{role}/{denial.principal.name} is not authorized "
        f"to perform: {denial.access.action} on resource: {denial.access.resource} {because} (offline IAM twin)"
    )
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, operation)


__all__ = [
    "IAM_MODES", "Access", "Denial", "IamTwin", "Policy", "Principal", "Scope", "UnmodelledCallError",
    "accesses", "distributed_map_labels", "matches",
]
