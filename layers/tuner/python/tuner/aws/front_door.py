"""The caller-checked front door: SageMaker's tuning-job API, behind IAM, for callers who may not
start the tuner's state machine themselves (docs/security.md, "The front door").

Step Functions has no resource policy and an execution does not learn who started it, so
``states:StartExecution`` on the tuner is as strong as ``iam:PassRole`` of every role the tuner
may pass: it is for administrators. Everyone else calls this Lambda through its function URL
(``AuthType: AWS_IAM``): Lambda authenticates the SigV4 signature and hands over the caller's ARN,
and the front door asks IAM (``iam:SimulatePrincipalPolicy``) the questions SageMaker itself would
ask of the same call, built by ``tuner.aws.iam_requests.accesses``:

* ``CreateHyperParameterTuningJob``: ``sagemaker:CreateHyperParameterTuningJob`` on the job's ARN
  (with the request's tags and SageMaker's condition keys of its training jobs), ``sagemaker:AddTags``
  when it has tags, ``iam:PassRole`` of every definition's ``RoleArn`` to SageMaker;
* ``StopHyperParameterTuningJob``, ``AddTags``, ``DeleteTags``: the action on the job's ARN, with
  the job's tags as ``aws:ResourceTag``.

Only when every answer is "allowed" does it act, as the tuner's client would (``TunerClient`` over
the deployment, which starts the execution). So a policy written for AMT (a team may tune, pass
its own role, on these instance types) holds unchanged for the tuner.

The wire protocol is SageMaker's own (JSON 1.1: ``X-Amz-Target: SageMaker.<Operation>``, errors as
``{"__type", "message"}``), so a boto3 SageMaker client pointed at the URL and signing for
``lambda`` is the client (``TunerClient`` does that).
"""
from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tuner.aws.iam_requests import Access, ContextValue, Scope, accesses
from tuner.core import arns
from tuner.errors import TuningError

log = logging.getLogger("tuner.front_door")

#: The operations the front door serves: the ones that change something. Reads (describe, list,
#: ListTags) stay with the caller's own read access to the deployment (the stack's user policy).
OPERATIONS = {
    "CreateHyperParameterTuningJob": "create_hyper_parameter_tuning_job",
    "StopHyperParameterTuningJob": "stop_hyper_parameter_tuning_job",
    "AddTags": "add_tags",
    "DeleteTags": "delete_tags",
}
TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = "application/x-amz-json-1.1"
#: Condition keys whose values are booleans (the simulator is told their type).
_BOOLEAN_KEYS = frozenset({"sagemaker:NetworkIsolation", "sagemaker:InterContainerTrafficEncryption"})


class Refusal(Exception):
    """An answer in SageMaker's error shape: ``code`` (``__type``), message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class Permissions(Protocol):
    """What IAM says of a caller (``IamPermissions`` on AWS; the IAM twin answers it offline)."""

    def principal(self, caller_arn: str) -> str:
        """The identity IAM evaluates for ``caller_arn``: a role's or a user's ARN."""

    def refused(self, principal: str, requests: Sequence[Access]) -> list[Access]:
        """The requests the principal's policies do not allow."""


def principal_arn(caller_arn: str, role_arn_of: Callable[[str], str]) -> str:
    """The role or user ARN a function URL's caller (``userArn``) is evaluated as.

    An assumed-role session (``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``) is its role, whose
    ARN carries a path the session ARN drops (``role_arn_of(NAME)``: ``iam:GetRole``); an IAM user
    is itself. The account's root user and federated users have no policies to simulate: refused.
    """
    parsed = arns.parse(caller_arn)
    if parsed is not None and parsed.service == "sts" and parsed.resource.startswith("assumed-role/"):
        return role_arn_of(parsed.resource.split("/")[1])
    if parsed is not None and parsed.service == "iam" and parsed.resource.startswith(("user/", "role/")):
        return caller_arn
    raise Refusal(
        "AccessDeniedException",
        f"User: {caller_arn} is not authorized to use the tuner's front door: only IAM roles (assumed) "
        "and IAM users are, whose policies IAM can evaluate; call it with a role's or a user's credentials",
    )


class IamPermissions:
    """``Permissions`` answered by IAM: ``GetRole`` and ``SimulatePrincipalPolicy`` (the policies
    attached to the principal, its permissions boundary and the organization's SCPs; not a session
    policy: "IAM policy simulator", IAM user guide)."""

    def __init__(self, iam: Any) -> None:
        self.iam = iam

    def principal(self, caller_arn: str) -> str:
        return principal_arn(caller_arn, lambda name: str(self.iam.get_role(RoleName=name)["Role"]["Arn"]))

    def refused(self, principal: str, requests: Sequence[Access]) -> list[Access]:
        out = []
        for request in requests:
            answer = self.iam.simulate_principal_policy(
                PolicySourceArn=principal,
                ActionNames=[request.action],
                ResourceArns=[request.resource],
                ContextEntries=context_entries(request.context),
            )
            results = answer.get("EvaluationResults") or []
            if not results or any(r.get("EvalDecision") != "allowed" for r in results):
                out.append(request)
        return out


def context_entries(context: Sequence[tuple[str, ContextValue]]) -> list[dict[str, Any]]:
    """An ``Access``'s condition keys as ``SimulatePrincipalPolicy``'s ``ContextEntries``."""
    entries = []
    for key, value in context:
        kind = "boolean" if key in _BOOLEAN_KEYS else "string"
        listed = isinstance(value, tuple)
        entries.append({
            "ContextKeyName": key,
            "ContextKeyValues": list(value) if listed else [value],
            "ContextKeyType": f"{kind}List" if listed else kind,
        })
    return entries


@dataclass
class FrontDoor:
    """One function URL request in, one response out (see the module docstring).

    ``api``: builds the client that acts (``TunerClient`` over the deployment, not through the
    front door); ``scope``: the deployment's region and account (the ARNs IAM is asked about);
    ``tags_of``: a tuning job's current tags by its ARN (None: no such job).
    """

    api: Callable[[], Any]
    permissions: Permissions
    scope: Scope
    tags_of: Callable[[str], Mapping[str, str] | None]

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        request_id = str((event.get("requestContext") or {}).get("requestId") or uuid.uuid4())
        try:
            operation, params = self._read(event)
            caller = self._caller(event)
            self._authorize(caller, operation, params)
            answer = self._act(operation, params)
        except Refusal as refusal:
            return _response(refusal.status, {"__type": refusal.code, "message": str(refusal)}, request_id)
        return _response(200, answer, request_id)

    # ---- steps ---------------------------------------------------------------------------------
    @staticmethod
    def _read(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        http = (event.get("requestContext") or {}).get("http") or {}
        if str(http.get("method", "POST")).upper() != "POST":
            raise Refusal("UnknownOperationException", "the front door takes POST requests (SageMaker's JSON API)")
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        target = headers.get("x-amz-target", "")
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
        if operation not in OPERATIONS:
            raise Refusal(
                "UnknownOperationException",
                f"the front door serves {', '.join(OPERATIONS)} (X-Amz-Target: SageMaker.<operation>), "
                f"not {target or 'a request without X-Amz-Target'}; read tuning jobs with the deployment's "
                "read access (TunerClient does)",
            )
        body = event.get("body") or "{}"
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8")
        try:
            params = json.loads(body)
        except ValueError:
            raise Refusal("SerializationException", "the request body is not JSON") from None
        if not isinstance(params, dict):
            raise Refusal("SerializationException", "the request body must be a JSON object")
        from tuner.shapes import validate_input

        try:
            validate_input(operation, params)
        except TuningError as err:  # ValidationError: the caller's to fix
            raise Refusal("ValidationException", str(err)) from None
        return operation, params

    @staticmethod
    def _caller(event: Mapping[str, Any]) -> str:
        identity = (((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {})
        caller = identity.get("userArn")
        if not caller:
            raise Refusal(
                "AccessDeniedException",
                "the request carries no IAM caller: the front door's function URL must use AuthType AWS_IAM",
                403,
            )
        return str(caller)

    def _authorize(self, caller: str, operation: str, params: Mapping[str, Any]) -> None:
        if operation in ("AddTags", "DeleteTags"):
            arn = str(params["ResourceArn"])
            if self.tags_of(arn) is None:
                raise Refusal(
                    "ValidationException",
                    f"ResourceArn: {arn} is not a tuning job of this tuner; tag other resources with SageMaker",
                )
        principal = self.permissions.principal(caller)
        needed = accesses("sagemaker", operation, params, self.scope, resource_tags=lambda a: self.tags_of(a) or {})
        refused = self.permissions.refused(principal, needed)
        if refused:
            first = refused[0]
            log.info("front door refused %s of %s: %s", operation, caller, [a.describe() for a in refused])
            raise Refusal(
                "AccessDeniedException",
                f"User: {caller} is not authorized to perform: {first.action} on resource: {first.resource} "
                f"because no identity-based policy allows the {first.action} action"
                + (f" (with {', '.join(k for k, _ in first.context)})" if first.context else ""),
            )

    def _act(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            answer = getattr(self.api(), OPERATIONS[operation])(**params)
        except ClientError as err:
            error = err.response.get("Error") or {}
            raise Refusal(str(error.get("Code") or "ValidationException"), str(error.get("Message") or err)) from None
        except Exception:
            log.exception("front door: %s failed", operation)
            raise Refusal("InternalFailure", "the tuner failed to serve the request; try again", 500) from None
        answer = dict(answer)
        answer.pop("ResponseMetadata", None)
        return answer


def _wire(value: Any) -> Any:
    """JSON 1.1 (SageMaker's protocol): timestamps as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


def _response(status: int, body: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
    if "__type" in body:
        headers["x-amzn-ErrorType"] = str(body["__type"])
    return {"statusCode": status, "headers": headers, "body": json.dumps(_wire(body)), "isBase64Encoded": False}


def tuning_job_tags(store: Any, scope: Scope) -> Callable[[str], Mapping[str, str] | None]:
    """A tuning job's current tags (its request's ``Tags``) by its ARN; None for any other ARN, or
    a job this deployment does not have (yet). ``store``: the tuner's ``Store``."""
    from tuner.service.queries import find_job

    prefix = scope.arn("sagemaker", "hyper-parameter-tuning-job/")

    def tags_of(arn: str) -> Mapping[str, str] | None:
        if not arn.lower().startswith(prefix.lower()):
            return None
        name = arn[len(prefix):]
        job = find_job(store, name)
        if job is None:
            return None
        return {str(t["Key"]): str(t.get("Value", "")) for t in job.request.get("Tags") or []}

    return tags_of


__all__ = [
    "OPERATIONS", "FrontDoor", "IamPermissions", "Permissions", "Refusal", "context_entries",
    "principal_arn", "tuning_job_tags",
]
