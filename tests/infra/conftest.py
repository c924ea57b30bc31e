"""One synthesis of the tuner stack per test session, shared by every infra test.

The app is built the way ``app.py`` builds it (same context handling, cdk-nag plugin on), into a
temporary cloud assembly, so the tests see the staged assets too. Synthesis needs the scientific
layer: ``python layers/build.py`` (the fixture runs it when the layer is missing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, ROOT / "layers" / "tuner" / "python"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@dataclass(frozen=True)
class Synth:
    template: object  # aws_cdk.assertions.Template
    json: dict  # the raw template
    outdir: Path  # the cloud assembly (staged assets live in asset.<hash>/)
    stack: object  # the TunerStack

    def asl(self) -> dict:
        """The state machine definition, with each CloudFormation token rendered as ``{Intrinsic}``."""
        [machine] = [
            r for r in self.json["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
        ]
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        return json.loads("".join(p if isinstance(p, str) else f"{{{next(iter(p))}}}" for p in parts))

    def resources(self, kind: str) -> dict[str, dict]:
        return {k: r for k, r in self.json["Resources"].items() if r["Type"] == kind}

    def validation_report(self) -> dict:
        return json.loads((self.outdir / "validation-report.json").read_text())


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    if not (ROOT / "build" / "layers" / "scientific" / "python").is_dir():
        subprocess.run([sys.executable, str(ROOT / "layers" / "build.py")], check=True)

    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from tuner import constants

    from stacks.app_context import add_nag_checks, stack_props
    from stacks.tuner_stack import TunerStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir), context={"tuner:local": "true"})
    stack = TunerStack(app, constants.DEFAULT_STACK_NAME, **stack_props(app))
    add_nag_checks(app)
    assembly = app.synth()  # runs cdk-nag: an unacknowledged finding fails here, with the report
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synth(template=Template.from_json(template), json=template, outdir=outdir, stack=stack)
