"""Synthesize the CDK app and deploy its template into moto, as ``cdk deploy`` would.

1. ``python app.py`` with context ``tuner:local=true`` (no bootstrap-version rule, which moto's
   CloudFormation cannot evaluate) writes a cloud assembly; it is cached by a hash of the
   sources that shape it, so a test session or a second ``tuner local`` synthesizes once.
2. Every file asset in ``<stack>.assets.json`` is zipped (cached by its content hash) and
   uploaded to the bucket and key named there.
3. ``CreateStack`` with the template (an event bus's ``Ref`` made its name, as CloudFormation
   answers it, ``_event_bus_refs``); then the three gaps of moto's CloudFormation that matter
   here are closed: the state machine is re-created in the executing Step Functions backend,
   the functions' ``Layers`` are re-attached, and the event bus gets its resource policy.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner import constants
from tuner.errors import TuningError
from tuner.stack_outputs import StackOutputs

ACCOUNT = "123456789012"


class DeployError(TuningError):
    """Synthesis or the deployment into moto failed."""


def project_root() -> Path:
    """The checkout holding app.py (the tuner package lives in layers/tuner/python/tuner)."""
    env = os.environ.get("TUNER_PROJECT_ROOT")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "app.py").exists() and (parent / "stacks").is_dir():
            return parent
    raise DeployError("cannot find the project (app.py and stacks/); set TUNER_PROJECT_ROOT")


def _sources_hash(root: Path, context: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    paths = [root / "app.py", root / "cdk.json"]
    for sub in ("stacks", "lambdas", "layers/tuner"):
        paths.extend(sorted(p for p in (root / sub).rglob("*") if p.is_file() and "__pycache__" not in p.parts))
    stamp = root / "build" / "layers" / "scientific" / ".stamp"
    if stamp.exists():
        paths.append(stamp)
    for p in paths:
        if p.exists():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def synthesize(root: Path | None = None, *, context: dict[str, Any] | None = None) -> Path:
    """Synthesize once per source state; returns the cloud assembly directory."""
    root = root or project_root()
    context = {"tuner:local": "true", **(context or {})}
    out = root / "build" / "cdk.out.local" / _sources_hash(root, context)
    if (out / "manifest.json").exists():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    }
    proc = subprocess.run(
        [sys.executable, "app.py"], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise DeployError(f"cdk synth failed (python app.py):\n{proc.stderr[-4000:]}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _zip_dir(src: Path, dest: Path) -> None:
    tmp = dest.with_suffix(f".tmp{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    tmp.replace(dest)


@dataclass
class Deployment(StackOutputs):
    stack_name: str
    outputs: dict[str, str]
    template: dict[str, Any]
    assembly: Path



def _substitute(text: str, region: str) -> str:
    return text.replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", region).replace(
        "${AWS::Partition}", "aws"
    )


def upload_assets(session: Any, assembly: Path, stack_name: str, region: str, cache: Path) -> None:
    manifest = json.loads((assembly / f"{stack_name}.assets.json").read_text())
    s3 = session.client("s3")
    cache.mkdir(parents=True, exist_ok=True)
    made: set[str] = set()
    for asset_hash, asset in manifest.get("files", {}).items():
        source = assembly / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip" or source.is_dir():
            blob = cache / f"{asset_hash}.zip"
            if not blob.exists():
                _zip_dir(source, blob)
        else:
            blob = source
        for dest in asset["destinations"].values():
            bucket = _substitute(dest["bucketName"], region)
            if bucket not in made:
                try:
                    s3.create_bucket(Bucket=bucket)
                except s3.exceptions.BucketAlreadyOwnedByYou:
                    pass
                made.add(bucket)
            s3.upload_file(str(blob), bucket, _substitute(dest["objectKey"], region))


def _route_state_machines(region: str) -> None:
    """moto's CloudFormation creates state machines where the executing backend cannot see them."""
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    plain = stepfunctions_backends[ACCOUNT][region]
    executing = stepfunctions_parser_backends[ACCOUNT][region]
    known = {sm.arn for sm in executing.state_machines}
    for sm in list(plain.state_machines):
        if sm.arn not in known:
            executing.create_state_machine(name=sm.name, definition=sm.definition, roleArn=sm.roleArn)


def _physical_ids(session: Any, stack_name: str) -> dict[str, str]:
    """The stack's resources: logical id -> physical id (moto lists some without a logical id)."""
    resources = session.client("cloudformation").describe_stack_resources(StackName=stack_name)["StackResources"]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources if r.get("LogicalResourceId")}


def _attach_layers(session: Any, template: dict[str, Any], stack_name: str) -> None:
    """Re-attach the Layers that moto's CloudFormation drops (the functions' configuration)."""
    lam = session.client("lambda")
    physical = _physical_ids(session, stack_name)
    layer_arns = {}
    for layer in lam.list_layers().get("Layers", []):
        layer_arns[layer["LayerName"]] = layer["LatestMatchingVersion"]["LayerVersionArn"]
    for logical, res in template.get("Resources", {}).items():
        if res.get("Type") != "AWS::Lambda::Function" or not res["Properties"].get("Layers"):
            continue
        arns = [a for a in layer_arns.values()]
        if arns and logical in physical:
            try:
                lam.update_function_configuration(FunctionName=physical[logical], Layers=arns[:5])
            except Exception:  # layers are informative offline: the interpreter serves them
                pass


def _event_bus_refs() -> None:
    """``{"Ref": EventBus}`` is the bus's name in CloudFormation; moto's ``EventBus`` has no
    ``physical_resource_id``, so moto resolves the Ref to the Python object (and a rule on the bus
    fails to create). Give it the name, as CloudFormation does."""
    from moto.events.models import EventBus

    if "physical_resource_id" not in EventBus.__dict__:
        EventBus.physical_resource_id = property(lambda bus: bus.name)  # type: ignore[attr-defined]


def _apply_bus_policies(session: Any, template: dict[str, Any], stack_name: str) -> None:
    """Give each event bus the resource policy the template gives it, which moto's CloudFormation
    skips (``AWS::Events::EventBusPolicy``): ``PutPermission`` with the statements, the role and
    bus ARNs they name resolved from the stack's resources (the IAM twin evaluates them)."""
    policies = [r["Properties"] for r in template.get("Resources", {}).values()
                if r.get("Type") == "AWS::Events::EventBusPolicy"]
    if not policies:
        return
    iam, events = session.client("iam"), session.client("events")
    physical = _physical_ids(session, stack_name)
    kinds = {k: r.get("Type") for k, r in template.get("Resources", {}).items()}

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return physical.get(value["Ref"], value["Ref"])
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise DeployError(f"bus policy: cannot resolve Fn::GetAtt {logical}.{attribute} offline")
            if kinds.get(logical) == "AWS::IAM::Role":
                return iam.get_role(RoleName=physical[logical])["Role"]["Arn"]
            if kinds.get(logical) == "AWS::Events::EventBus":
                return events.describe_event_bus(Name=physical[logical])["Arn"]
            raise DeployError(f"bus policy: cannot resolve the Arn of {logical} ({kinds.get(logical)}) offline")
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(resolve(p)) for p in parts)
        return {k: resolve(v) for k, v in value.items()}

    by_bus: dict[str, list[Any]] = {}
    for properties in policies:
        statement = dict(resolve(properties["Statement"]), Sid=properties["StatementId"])
        by_bus.setdefault(str(resolve(properties["EventBusName"])), []).append(statement)
    for bus, statements in by_bus.items():
        events.put_permission(EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def _url_output(template: dict[str, Any], output: Mapping[str, Any]) -> str | None:
    """The ``AWS::Lambda::Url`` an output's value is the URL of (``Fn::GetAtt [URL, FunctionUrl]``)."""
    value = output.get("Value")
    logical = value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) else None
    kind = template.get("Resources", {}).get(logical, {}).get("Type") if logical else None
    return str(logical) if kind == "AWS::Lambda::Url" else None


def _without_url_outputs(template: dict[str, Any]) -> dict[str, Any]:
    """The template without the outputs of function URLs (moto's CloudFormation has no such resource
    and refuses an output naming one); ``_function_urls`` fills them in after the deploy."""
    outputs = {k: o for k, o in template.get("Outputs", {}).items() if _url_output(template, o) is None}
    return {**template, "Outputs": outputs}


def _function_urls(session: Any, template: dict[str, Any], stack_name: str, outputs: dict[str, str]) -> None:
    """Create the function URLs the template declares (``AWS::Lambda::Url``, which moto's
    CloudFormation skips) and put each URL in the outputs that name it (``Fn::GetAtt ...FunctionUrl``)."""
    resources = template.get("Resources", {})
    physical = _physical_ids(session, stack_name)
    lam = session.client("lambda")
    urls: dict[str, str] = {}
    for logical, res in resources.items():
        if res.get("Type") != "AWS::Lambda::Url":
            continue
        target = res["Properties"]["TargetFunctionArn"]
        function = target["Fn::GetAtt"][0] if isinstance(target, dict) and "Fn::GetAtt" in target else None
        if function not in physical:
            raise DeployError(f"function URL {logical}: cannot resolve its TargetFunctionArn {target} offline")
        config = lam.create_function_url_config(
            FunctionName=physical[function], AuthType=res["Properties"].get("AuthType", "NONE")
        )
        urls[logical] = config["FunctionUrl"]
    for key, output in template.get("Outputs", {}).items():
        logical = _url_output(template, output)
        if logical in urls:
            outputs[key] = urls[logical]


def deploy(session: Any, *, region: str = "us-east-1", stack_name: str = constants.DEFAULT_STACK_NAME,
           context: dict[str, Any] | None = None) -> Deployment:
    """Synthesize (cached) and deploy the stack into the active moto mock."""
    root = project_root()
    assembly = synthesize(root, context=context)
    template_path = assembly / f"{stack_name}.template.json"
    if not template_path.exists():
        raise DeployError(f"{template_path.name} is not in the cloud assembly; is the stack named {stack_name}?")
    template = json.loads(template_path.read_text())
    upload_assets(session, assembly, stack_name, region, root / "build" / "asset-zips")
    cfn = session.client("cloudformation")
    _event_bus_refs()
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(_without_url_outputs(template)),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(f"stack {stack_name} ended {stack['StackStatus']}: {stack.get('StackStatusReason')}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [k for k in (constants.OUTPUT_STATE_MACHINE_ARN, constants.OUTPUT_TABLE_NAME) if k not in outputs]
    if missing:
        raise DeployError(f"stack outputs {missing} are missing; the stack must output them")
    _route_state_machines(region)
    _attach_layers(session, template, stack_name)
    _apply_bus_policies(session, template, stack_name)
    _function_urls(session, template, stack_name, outputs)
    return Deployment(stack_name=stack_name, outputs=outputs, template=template, assembly=assembly)
