"""How ``app.py`` (and the infra tests) turn CDK context into ``TunerStack`` props."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from tuner import constants
from tuner.core.capacity import CapacityWait
from tuner.core.quotas import SETTINGS, check_setting

CTX_ROLES = "allowedExecutionRoleArns"
CTX_RETUNE_SENDERS = "tuner:retuneSenderArns"  # who may put "Retune Requested" on the tuner's bus
# Opting into the name-pattern default of the execution roles (every role named *SageMaker*).
CTX_NAMED_ROLES = "tuner:allowSageMakerNamedRoles"


class MissingExecutionRolesError(ValueError):
    """A deployment must name the execution roles its tuning jobs may use (docs/security.md)."""
CTX_LOCAL = "tuner:local"
CTX_NAG = "tuner:nag"
CTX_RETRY_INTERVAL = "tuner:retryIntervalSeconds"
CTX_LAP_WAIT = "tuner:lapWaitSeconds"
# Deprecated alias of ``tuner:lapWaitSeconds`` (its name before laps), still read; the new key wins.
CTX_LAP_WAIT_DEPRECATED = "tuner:workerWaitSeconds"
CTX_LAP_TRIALS = "tuner:lapTrials"
# A trial refused by an account quota (docs/capacity.md): the first wait, the longest wait, and how
# long the refusals may last before the tuning job fails (whole seconds each).
CTX_CAPACITY_WAIT = "tuner:capacityWaitSeconds"
CTX_CAPACITY_MAX_WAIT = "tuner:capacityMaxWaitSeconds"
CTX_CAPACITY_GIVE_UP = "tuner:capacityGiveUpSeconds"
# AMT's quotas as this deployment's (docs/quotas.md): each sets the ``TunerConstruct`` prop of its
# name (``tuner:maxParallelTrainingJobs`` -> ``max_parallel_training_jobs``); the keys are named in
# the refusals' messages, so they live in tuner.constants.
CTX_MAX_PARALLEL_TRAINING_JOBS = constants.CTX_MAX_PARALLEL_TRAINING_JOBS
CTX_MAX_TRAINING_JOBS = constants.CTX_MAX_TRAINING_JOBS
CTX_MAX_RANDOM_TRAINING_JOBS = constants.CTX_MAX_RANDOM_TRAINING_JOBS
CTX_MAX_CONCURRENT_TUNING_JOBS = constants.CTX_MAX_CONCURRENT_TUNING_JOBS


def _flag(app: cdk.App, key: str, default: bool) -> bool:
    value = app.node.try_get_context(key)
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def stack_props(app: cdk.App) -> dict[str, Any]:
    """``allowedExecutionRoleArns`` (comma list; required, unless ``tuner:allowSageMakerNamedRoles=true``
    opts into every role named ``*SageMaker*``, or ``tuner:local=true``: the offline deployment);
    ``tuner:retuneSenderArns`` (comma list); ``tuner:retryIntervalSeconds`` (whole seconds,
    at least 1: the first wait of every Lambda task's Retry); ``tuner:lapWaitSeconds`` (whole
    seconds, at least 1: how long a lap waits on a training job's token; ``tuner:workerWaitSeconds``
    is its deprecated alias, read when the new key is absent); ``tuner:lapTrials``;
    ``tuner:capacityWaitSeconds``, ``tuner:capacityMaxWaitSeconds`` and
    ``tuner:capacityGiveUpSeconds`` (the ``capacity_wait`` prop: a trial refused by an account quota
    waits the first, then doubling up to the max, and fails the job after the give-up; each key
    left out keeps its default, 30, 300 and 86,400); ``tuner:maxParallelTrainingJobs``,
    ``tuner:maxTrainingJobs``, ``tuner:maxRandomTrainingJobs`` and ``tuner:maxConcurrentTuningJobs``
    (the quota props of the same names in snake case, docs/quotas.md: whole numbers from 1, the
    first at most 100, the job counts at most 10,000; each left out keeps AMT's default, 10, 750,
    750 and 100); with ``tuner:local=true``, a synthesizer without the bootstrap-version rule
    (moto's CloudFormation cannot evaluate it)."""
    props: dict[str, Any] = {}
    roles = app.node.try_get_context(CTX_ROLES)
    if roles:
        items = roles if isinstance(roles, list) else str(roles).split(",")
        props["allowed_execution_role_arns"] = [arn.strip() for arn in items if arn.strip()]
    senders = app.node.try_get_context(CTX_RETUNE_SENDERS)
    if senders:
        items = senders if isinstance(senders, list) else str(senders).split(",")
        props["retune_sender_arns"] = [arn.strip() for arn in items if arn.strip()]
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
    capacity = _capacity_wait(app)
    if capacity is not None:
        props["capacity_wait"] = capacity
    props.update(_quotas(app))
    if _flag(app, CTX_LOCAL, False):
        props["synthesizer"] = cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
    return props


def _quotas(app: cdk.App) -> dict[str, int]:
    """The quota props the context gives (``tuner.core.quotas.SETTINGS``); each left out keeps
    AMT's default."""
    props: dict[str, int] = {}
    for setting in SETTINGS.values():
        value = app.node.try_get_context(setting.context)
        if value is None:
            continue
        try:
            props[setting.prop] = check_setting(setting.prop, int(str(value).strip()))
        except ValueError as err:
            why = str(err).split(": ", 1)[-1] if str(err).startswith(f"{setting.prop}=") else "not a whole number"
            raise ValueError(f"{setting.context}={value!r}: {why}") from None
    return props


def _capacity_wait(app: cdk.App) -> CapacityWait | None:
    """The capacity-wait policy from context; None when no key is given (the construct's default)."""
    keys = {"first": CTX_CAPACITY_WAIT, "cap": CTX_CAPACITY_MAX_WAIT, "give_up": CTX_CAPACITY_GIVE_UP}
    given = {field: app.node.try_get_context(key) for field, key in keys.items()}
    if all(v is None for v in given.values()):
        return None
    default = CapacityWait()
    values = {field: getattr(default, field) if v is None else int(v) for field, v in given.items()}
    try:
        return CapacityWait(**values)
    except ValueError as err:
        named = ", ".join(f"{keys[f]}={values[f]}" for f in keys)
        raise ValueError(f"{named}: {err}") from None


def require_execution_roles(app: cdk.App) -> None:
    """``app.py`` deploys only with the execution roles named (``allowedExecutionRoleArns``), or with
    the name-pattern default opted into (``tuner:allowSageMakerNamedRoles=true``); the offline
    deployment (``tuner:local=true``) uses the pattern."""
    if app.node.try_get_context(CTX_ROLES) or _flag(app, CTX_NAMED_ROLES, False) or _flag(app, CTX_LOCAL, False):
        return
    raise MissingExecutionRolesError(
        f"name the SageMaker execution roles tuning jobs may use: -c {CTX_ROLES}=arn:aws:iam::<account>:role/"
        f"<role>[,...]. Starting a tuning job lets its caller run code under one of them (docs/security.md). "
        f"To allow every role of the account whose name contains 'SageMaker' instead, pass "
        f"-c {CTX_NAMED_ROLES}=true."
    )


def nag_enabled(app: cdk.App) -> bool:
    return _flag(app, CTX_NAG, True)


def add_nag_checks(app: cdk.App) -> None:
    """cdk-nag 3 runs as a policy-validation plugin (not an Aspect); findings fail the synth."""
    from cdk_nag import AwsSolutionsChecks  # a test dependency: import only when used

    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
