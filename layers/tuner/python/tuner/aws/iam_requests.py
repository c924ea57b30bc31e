"""From one AWS API call to the IAM requests AWS makes of it (action, resource ARN, condition
keys). Two users: the offline IAM twin (``tuner.local.iam``), which evaluates the tuner's own calls,
and the front door (``tuner.aws.front_door``), which asks IAM the questions SageMaker would ask of a
caller's ``CreateHyperParameterTuningJob`` before the tuner acts on it. Sources: docs/reliability.md,
"IAM enforced offline"; docs/security.md, "The front door".

Tag condition keys ("Actions, resources, and condition keys for Amazon SageMaker", Service
Authorization Reference; "Controlling access to AWS resources using tags", IAM user guide):

* a SageMaker ``Create*`` call with ``Tags`` carries ``aws:RequestTag/<key>`` for each tag and
  ``aws:TagKeys`` (multivalued: every key), and so does the ``sagemaker:AddTags`` it also needs,
  with ``sagemaker:TaggingAction`` = the create operation (tags given on create);
* an ``AddTags`` call carries the same, without ``sagemaker:TaggingAction``; ``DeleteTags`` carries
  ``aws:TagKeys``;
* ``CreateHyperParameterTuningJob`` needs ``iam:PassRole`` of each training job definition's
  ``RoleArn`` (to ``sagemaker.amazonaws.com``) and carries SageMaker's own condition keys of the
  training jobs it will run (``sagemaker:InstanceTypes``, ``sagemaker:VpcSubnets``, ...; multivalued
  over the definitions);
* every call on an existing training job (``Describe``/``Stop``/``Update``, the tag operations)
  carries ``aws:ResourceTag/<key>`` of the job's current tags, which ``resource_tags(arn)`` answers
  (the twin reads them with ``ListTags``); a job that does not exist has none. No other resource's
  tags are read: a policy conditioned on them is evaluated without them (fail closed).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A condition key's value in a request: one string, or a tuple for a multivalued key (aws:TagKeys).
ContextValue = str | tuple[str, ...]
#: The current tags of a resource, by its ARN ({} when it has none or does not exist).
ResourceTags = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class Access:
    """One request IAM evaluates: an action on a resource, with condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, ContextValue], ...] = ()

    def describe(self) -> str:
        extra = "".join(f" with {k}={v if isinstance(v, str) else list(v)}" for k, v in self.context)
        return f"{self.action} on {self.resource}{extra}"


class UnmodelledCallError(Exception):
    """The twin does not know which IAM requests a call makes."""



@dataclass(frozen=True)
class Scope:
    """What ARNs are built from: the region, the account, and the state machines' Map labels."""

    region: str
    account: str
    partition: str = "aws"
    map_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # machine ARN -> labels

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        r = self.region if region is None else region
        a = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{r}:{a}:{resource}"


def _dynamodb(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    def table(name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            base = name
        else:
            base = scope.arn("dynamodb", f"table/{name}")
        return f"{base}/index/{index}" if index else base

    single = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "ConditionCheckItem"}
    if op in single:
        return [Access(f"dynamodb:{op}", table(params["TableName"]))]
    if op in ("Query", "Scan"):
        return [Access(f"dynamodb:{op}", table(params["TableName"], params.get("IndexName")))]
    if op == "TransactWriteItems":
        # DynamoDB: "TransactWriteItems requires the IAM action of each item" (see docs/reliability.md).
        kinds = {
            "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"
        }
        out = []
        for item in params["TransactItems"]:
            for kind, body in item.items():
                out.append(Access(f"dynamodb:{kinds[kind]}", table(body["TableName"])))
        return out
    if op == "TransactGetItems":
        return [Access("dynamodb:GetItem", table(i["Get"]["TableName"])) for i in params["TransactItems"]]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Access(f"dynamodb:{op}", table(name)) for name in params["RequestItems"]]
    raise UnmodelledCallError(f"dynamodb:{op}")


def _request_tags(tags: Sequence[Mapping[str, Any]] | None) -> tuple[tuple[str, ContextValue], ...]:
    """``aws:RequestTag/<key>`` of each tag a request sets, and ``aws:TagKeys`` (none without tags)."""
    if not tags:
        return ()
    keys = tuple(str(t["Key"]) for t in tags)
    return (*((f"aws:RequestTag/{t['Key']}", str(t.get("Value", ""))) for t in tags), ("aws:TagKeys", keys))


def _sagemaker(
    op: str, params: Mapping[str, Any], scope: Scope, resource_tags: ResourceTags | None = None
) -> list[Access]:
    # SageMaker ARNs carry names in lower case (DescribeTrainingJob's TrainingJobArn).
    def arn(kind: str, name: str) -> str:
        if name.startswith("arn:"):  # DescribeAlgorithm takes an ARN too (a Marketplace algorithm's)
            return name
        return scope.arn("sagemaker", f"{kind}/{name.lower()}")

    def current_tags(resource: str) -> tuple[tuple[str, ContextValue], ...]:
        """``aws:ResourceTag/<key>`` of an existing training or tuning job's tags (other resources:
        none read)."""
        if resource_tags is None or not any(f":{kind}/" in resource for kind in _TAGGED_RESOURCES):
            return ()
        return tuple((f"aws:ResourceTag/{k}", str(v)) for k, v in sorted(resource_tags(resource).items()))

    def pass_role(role_arn: str) -> Access:
        return Access("iam:PassRole", role_arn, (("iam:PassedToService", "sagemaker.amazonaws.com"),))

    named = {
        "TrainingJob": "training-job",
        "Model": "model",
        "EndpointConfig": "endpoint-config",
        "Endpoint": "endpoint",
        "HyperParameterTuningJob": "hyper-parameter-tuning-job",
        "Algorithm": "algorithm",
    }
    for suffix, kind in sorted(named.items(), key=lambda kv: -len(kv[0])):
        verb = op[: -len(suffix)] if op.endswith(suffix) else ""
        if verb in ("Create", "Describe", "Stop", "Delete", "Update"):
            name = params[f"{suffix}Name"]
            resource = arn(kind, name)
            tagged = _request_tags(params.get("Tags")) if verb == "Create" else current_tags(resource)
            out = [Access(f"sagemaker:{op}", resource, tagged)]
            if op == "CreateTrainingJob":
                out.append(pass_role(params["RoleArn"]))
            if op == "CreateHyperParameterTuningJob":
                # one request per definition: each definition's training jobs must be allowed
                definitions = _definitions(params)
                out = list(dict.fromkeys(
                    Access(f"sagemaker:{op}", resource, (*tagged, *_training_conditions(d))) for d in definitions
                )) or out
                out.extend(pass_role(arn) for arn in sorted({str(d["RoleArn"]) for d in definitions}))
            if op == "CreateModel" and params.get("ExecutionRoleArn"):
                out.append(pass_role(params["ExecutionRoleArn"]))
            if op in ("CreateEndpoint", "UpdateEndpoint"):
                out.append(Access(f"sagemaker:{op}", arn("endpoint-config", params["EndpointConfigName"])))
            if verb == "Create" and params.get("Tags"):
                # "To tag a resource when you create it, you need sagemaker:AddTags as well".
                out.append(Access("sagemaker:AddTags", resource, (*tagged, ("sagemaker:TaggingAction", op))))
            return out
    if op in ("AddTags", "ListTags", "DeleteTags"):
        resource = params["ResourceArn"]
        asked = _request_tags(params.get("Tags")) if op == "AddTags" else ()
        if op == "DeleteTags":
            asked = (("aws:TagKeys", tuple(params["TagKeys"])),)
        return [Access(f"sagemaker:{op}", resource, (*current_tags(resource), *asked))]
    raise UnmodelledCallError(f"sagemaker:{op}")


_TAGGED_RESOURCES = ("training-job", "hyper-parameter-tuning-job")


def _definitions(params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A tuning request's training job definitions (``TrainingJobDefinition`` and/or ``...s``)."""
    listed = list(params.get("TrainingJobDefinitions") or [])
    return [params["TrainingJobDefinition"], *listed] if params.get("TrainingJobDefinition") else listed


def _training_conditions(definition: Mapping[str, Any]) -> tuple[tuple[str, ContextValue], ...]:
    """SageMaker's condition keys of the training jobs one definition of a tuning request runs ("Actions,
    resources, and condition keys for Amazon SageMaker", Service Authorization Reference): the
    instance types, subnets and security groups multivalued (ArrayOfString), the KMS keys and the
    two flags single-valued; a key the definition does not set is left out, as SageMaker leaves it."""
    resources = definition.get("ResourceConfig") or definition.get("HyperParameterTuningResourceConfig") or {}
    types = [resources.get("InstanceType")] + [c.get("InstanceType") for c in resources.get("InstanceConfigs") or []]
    vpc = definition.get("VpcConfig") or {}
    keys: dict[str, ContextValue | None] = {
        "sagemaker:InstanceTypes": tuple(dict.fromkeys(str(t) for t in types if t)) or None,
        "sagemaker:VpcSubnets": tuple(str(v) for v in vpc.get("Subnets") or ()) or None,
        "sagemaker:VpcSecurityGroupIds": tuple(str(v) for v in vpc.get("SecurityGroupIds") or ()) or None,
        "sagemaker:VolumeKmsKey": resources.get("VolumeKmsKeyId") or None,
        "sagemaker:OutputKmsKey": (definition.get("OutputDataConfig") or {}).get("KmsKeyId") or None,
        "sagemaker:NetworkIsolation": "true" if definition.get("EnableNetworkIsolation") else "false",
        "sagemaker:InterContainerTrafficEncryption": (
            "true" if definition.get("EnableInterContainerTrafficEncryption") else "false"
        ),
    }
    return tuple((k, v) for k, v in keys.items() if v is not None)


def _iam(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    # IAM is global: its ARNs have no region.
    if op == "SimulatePrincipalPolicy":
        return [Access("iam:SimulatePrincipalPolicy", params["PolicySourceArn"])]
    if op == "GetRole":
        return [Access("iam:GetRole", scope.arn("iam", f"role/{params['RoleName']}", region=""))]
    raise UnmodelledCallError(f"iam:{op}")


def _logs(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    group = params.get("logGroupName")
    if group is None:
        raise UnmodelledCallError(f"logs:{op} without logGroupName")
    group_arn = scope.arn("logs", f"log-group:{group}")
    if op in ("GetLogEvents", "PutLogEvents", "CreateLogStream"):
        stream = params["logStreamName"]
        return [Access(f"logs:{op}", f"{group_arn}:log-stream:{stream}")]
    if op in ("DescribeLogStreams", "FilterLogEvents"):
        # CloudWatch Logs names a log group ``log-group:NAME`` in its IAM reference and
        # ``log-group:NAME:*`` in its own responses; either may be the one checked: both must pass.
        return [Access(f"logs:{op}", group_arn), Access(f"logs:{op}", f"{group_arn}:*")]
    raise UnmodelledCallError(f"logs:{op}")


def _states(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    if op in ("StartExecution", "StartSyncExecution", "DescribeStateMachine"):
        return [Access(f"states:{op}", params["stateMachineArn"])]
    if op in ("DescribeExecution", "StopExecution", "GetExecutionHistory"):
        return [Access(f"states:{op}", params["executionArn"])]
    if op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        # A task token names no resource. IAM checks the state machine of the execution that issued
        # it; for a distributed Map's child execution AWS does not document whether that is the
        # parent (stateMachine:NAME) or the child (stateMachine:NAME/LABEL): both must pass.
        out = []
        for machine, labels in sorted(scope.map_labels.items()):
            out.append(Access(f"states:{op}", machine))
            out.extend(Access(f"states:{op}", f"{machine}/{label}") for label in labels)
        if not out:
            raise UnmodelledCallError(f"states:{op} (no state machine registered with the twin)")
        return out
    raise UnmodelledCallError(f"states:{op}")


def _events(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    if op != "PutEvents":
        raise UnmodelledCallError(f"events:{op}")
    buses = {e.get("EventBusName") or "default" for e in params["Entries"]}
    return [
        Access("events:PutEvents", bus if bus.startswith("arn:") else scope.arn("events", f"event-bus/{bus}"))
        for bus in sorted(buses)
    ]


def _lambda(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    if op != "Invoke":
        raise UnmodelledCallError(f"lambda:{op}")
    name = params["FunctionName"]
    if name.startswith("arn:"):
        arn = name
    else:
        parts = name.split(":")  # NAME, NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER]
        if len(parts) >= 3 and parts[1] == "function":
            arn = scope.arn("lambda", ":".join(parts[1:]), account=parts[0])
        else:
            arn = scope.arn("lambda", f"function:{name}")
    if params.get("Qualifier"):
        arn = f"{arn}:{params['Qualifier']}"
    return [Access("lambda:InvokeFunction", arn)]


def _cloudwatch(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    # CloudWatch metric actions support no resource-level permissions: Resource "*".
    if op in ("PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics"):
        return [Access(f"cloudwatch:{op}", "*")]
    raise UnmodelledCallError(f"cloudwatch:{op}")


def _sts(op: str, params: Mapping[str, Any], scope: Scope) -> list[Access]:
    if op == "GetCallerIdentity":
        return []  # "No permissions are required to perform this operation" (STS API reference)
    raise UnmodelledCallError(f"sts:{op}")


_SERVICES: dict[str, Callable[[str, Mapping[str, Any], Scope], list[Access]]] = {
    "dynamodb": _dynamodb,
    "sagemaker": _sagemaker,
    "logs": _logs,
    "stepfunctions": _states,
    "events": _events,
    "lambda": _lambda,
    "cloudwatch": _cloudwatch,
    "sts": _sts,
    "iam": _iam,
}


def accesses(
    service: str, operation: str, params: Mapping[str, Any], scope: Scope, *, resource_tags: ResourceTags | None = None
) -> list[Access]:
    """The IAM requests of one call (``service`` is boto3's service name). ``resource_tags``: the
    current tags of a resource the call names (None: none known, so ``aws:ResourceTag`` keys are
    absent and a condition on them fails, as for a resource that does not exist)."""
    handler = _SERVICES.get(service)
    if service == "sagemaker":
        handler = functools.partial(_sagemaker, resource_tags=resource_tags)
    if handler is None:
        raise UnmodelledCallError(f"{service}:{operation}")
    try:
        return handler(operation, params, scope)
    except KeyError as missing:
        raise UnmodelledCallError(f"{service}:{operation} without {missing}") from None


def distributed_map_labels(definition: Mapping[str, Any]) -> tuple[str, ...]:
    """The labels of a state machine's distributed Map states (their child executions' ARN suffix)."""
    found: list[str] = []

    def walk(states: Mapping[str, Any]) -> None:
        for state_name, state in states.items():
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            if (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED":
                found.append(state.get("Label") or state_name)
            walk(processor.get("States") or {})
            for branch in state.get("Branches") or []:
                walk(branch.get("States") or {})

    walk(definition.get("States") or {})
    return tuple(found)
