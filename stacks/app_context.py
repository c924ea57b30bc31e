"""How ``app.py`` (and the infra tests) turn CDK context into ``TunerStack`` props."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

CTX_ROLES = "allowedExecutionRoleArns"
CTX_LOCAL = "tuner:local"
CTX_NAG = "tuner:nag"
CTX_RETRY_INTERVAL = "tuner:retryIntervalSeconds"
CTX_LAP_WAIT = "tuner:lapWaitSeconds"
# Deprecated alias of ``tuner:lapWaitSeconds`` (its name before laps), still read; the new key wins.
CTX_LAP_WAIT_DEPRECATED = "tuner:workerWaitSeconds"
CTX_LAP_TRIALS = "tuner:lapTrials"


def _flag(app: cdk.App, key: str, default: bool) -> bool:
    value = app.node.try_get_context(key)
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def stack_props(app: cdk.App) -> dict[str, Any]:
    """``allowedExecutionRoleArns`` (comma list); ``tuner:retryIntervalSeconds`` (whole seconds,
    at least 1: the first wait of every Lambda task's Retry); ``tuner:lapWaitSeconds`` (whole
    seconds, at least 1: how long a lap waits on a training job's token; ``tuner:workerWaitSeconds``
    is its deprecated alias, read when the new key is absent); ``tuner:lapTrials``; with
    ``tuner:local=true``, a synthesizer without the bootstrap-version rule (moto's CloudFormation
    cannot evaluate it)."""
    props: dict[str, Any] = {}
    roles = app.node.try_get_context(CTX_ROLES)
    if roles:
        items = roles if isinstance(roles, list) else str(roles).split(",")
        props["allowed_execution_role_arns"] = [arn.strip() for arn in items if arn.strip()]
    interval = app.node.try_get_context(CTX_RETRY_INTERVAL)
    if interval is not None:
        seconds = int(interval)
        if seconds < 1:
            raise ValueError(f"{CTX_RETRY_INTERVAL}={interval!r}: Step Functions retries wait at least 1 s")
        props["retry_interval"] = cdk.Duration.seconds(seconds)
    wait_key, wait = CTX_LAP_WAIT, app.node.try_get_context(CTX_LAP_WAIT)
    if wait is None:
        wait_key, wait = CTX_LAP_WAIT_DEPRECATED, app.node.try_get_context(CTX_LAP_WAIT_DEPRECATED)
    if wait is not None:
        if int(wait) < 1:
            alias = f" (deprecated alias of {CTX_LAP_WAIT})" if wait_key == CTX_LAP_WAIT_DEPRECATED else ""
            raise ValueError(f"{wait_key}={wait!r}{alias}: give a whole number of seconds >= 1")
        props["lap_wait_timeout"] = cdk.Duration.seconds(int(wait))
    lap = app.node.try_get_context(CTX_LAP_TRIALS)
    if lap is not None:
        if int(lap) < 1:
            raise ValueError(f"{CTX_LAP_TRIALS}={lap!r}: give a whole number of trials >= 1")
        props["lap_trials"] = int(lap)
    if _flag(app, CTX_LOCAL, False):
        props["synthesizer"] = cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
    return props


def nag_enabled(app: cdk.App) -> bool:
    return _flag(app, CTX_NAG, True)


def add_nag_checks(app: cdk.App) -> None:
    """cdk-nag 3 runs as a policy-validation plugin (not an Aspect); findings fail the synth."""
    from cdk_nag import AwsSolutionsChecks  # a test dependency: import only when used

    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
