#!/usr/bin/env python3
"""CDK app: instantiates the tuner stack, nothing else.

Context (``-c key=value`` or cdk.json):
  allowedExecutionRoleArns  comma-separated SageMaker execution role ARNs the tuner may pass to
                            CreateTrainingJob. Required (docs/security.md), unless
  tuner:allowSageMakerNamedRoles=true  opts into arn:aws:iam::<account>:role/*SageMaker* (every
                            role of the account whose name contains "SageMaker").
  tuner:retuneSenderArns    comma-separated IAM principal ARNs (wildcards allowed) that may put
                            "Retune Requested" on the tuner's own event bus; the bus policy
                            denies every other principal (docs/security.md).
  tuner:local=true          no bootstrap-version rule (the offline harness deploys into moto).
  tuner:lapWaitSeconds        how long a lap waits on a training job's token before its step
                              checks again (default 3600; the offline harness uses 20).
                              tuner:workerWaitSeconds is its deprecated alias (read when
                              tuner:lapWaitSeconds is not given).
  tuner:lapTrials             trials per lap, one child execution of the distributed Map RunLaps
                              (default 1000: about 10,000 of an execution's 25,000 history events).
  tuner:retryIntervalSeconds  first wait of every Lambda task's Retry (default 1; backoff 2, 6 tries).
  tuner:capacityWaitSeconds, tuner:capacityMaxWaitSeconds, tuner:capacityGiveUpSeconds
                              a trial refused by an account quota (ResourceLimitExceeded) waits
                              the first (default 30), then doubling up to the max (default 300)
                              each time, and the tuning job fails after the give-up (default
                              86400): docs/capacity.md.
  tuner:nag=false           skip the cdk-nag AwsSolutions checks (on by default).
  tuner:retune              JSON {"dataTriggers": [{"family", "bucket", "prefix"}],
                            "schedules": [{"family", "expression"}], "autoDeploy": false}:
                            retuning rules and permissions (docs/retuning.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
for path in (ROOT, ROOT / "layers" / "tuner" / "python"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import json  # noqa: E402

import aws_cdk as cdk  # noqa: E402
from tuner import constants  # noqa: E402

from stacks.app_context import add_nag_checks, nag_enabled, require_execution_roles, stack_props  # noqa: E402
from stacks.tuner_stack import TunerStack  # noqa: E402

app = cdk.App()
try:
    require_execution_roles(app)
except ValueError as err:  # a deployment setting is missing: say which, without a traceback
    sys.exit(f"error: {err}")
stack = TunerStack(app, constants.DEFAULT_STACK_NAME, **stack_props(app))
retune = app.node.try_get_context("tuner:retune")
if retune:
    retune = json.loads(retune) if isinstance(retune, str) else retune
    for trigger in retune.get("dataTriggers", []):
        stack.tuner.retuning.add_data_trigger(trigger["family"], trigger["bucket"], trigger.get("prefix", ""))
    for schedule in retune.get("schedules", []):
        stack.tuner.retuning.add_schedule(schedule["family"], schedule["expression"])
    if retune.get("autoDeploy"):
        stack.tuner.retuning.enable_auto_deploy()
if nag_enabled(app):
    add_nag_checks(app)
app.synth()
