"""What each tuner Lambda gets: memory, timeout, layers and permissions.

Plain data without CDK imports, so that ``layers/build.py`` (size report) and the stack read the
same table. Keys are the entries of ``tuner.constants.LAMBDAS``; the code of each lives in
``lambdas/<name>/handler.py``.

Layers: every function gets the ``tuner`` layer. The ``scientific`` layer (numpy + scipy, by far
the largest part of any function) goes only to the proposer, ``next_trial``: the strategies draw
with numpy (Random, Grid with a seed, the trial seeds) and the Bayesian engine needs scipy. The
other functions parse requests, check ranges, apply the median rule and Hyperband's rung decision,
all without numpy: the core imports numpy only where a proposal is computed (``tuner.core.space``'s
``to_unit``, ``tuner.core.strategies``' ``trial_rng`` and the strategy modules loaded by name).
Two tests hold this: ``tests/unit/test_lean_imports.py`` runs each handler with numpy and scipy
blocked (the layer must go exactly to those that fail), and ``tests/infra/test_functions.py``
checks that no function without the layer loads them at cold start (its handler's import walk).
"""

from __future__ import annotations

from dataclasses import dataclass

from tuner import constants

SCIENTIFIC = "scientific"
TUNER = "tuner"


@dataclass(frozen=True)
class Grants:
    """What one function's code calls, as ``TunerConstruct`` grants it (resources are scoped there).

    Derived from the calls, and checked against them on every e2e run: the offline IAM twin
    (``tuner.local.iam``) refuses a call these do not cover, and
    ``tests/e2e/test_iam.py`` fails on a grant no recorded call needs (unless
    ``docs/reliability.md`` lists it as one no call can show). Log writing and X-Ray come with every
    function (CDK's log group grant, ``Tracing.ACTIVE``).
    """

    table: tuple[str, ...] = ("GetItem", "UpdateItem", "Query")  # DynamoDB actions on the table
    index: tuple[str, ...] = ()  # ... on its indexes (by-kind: the tuning jobs; open-trials: a job's open trials)
    training_jobs: tuple[str, ...] = ()  # SageMaker actions on training jobs (scoped by TRAINING_JOB_SCOPES)
    pass_execution_role: bool = False  # iam:PassRole of the allowed execution roles, to SageMaker only
    training_logs: bool = False  # read /aws/sagemaker/TrainingJobs (DescribeLogStreams, GetLogEvents)
    task_tokens: bool = False  # SendTaskSuccess to the laps waiting on training jobs
    publish_events: bool = False  # PutEvents on the default bus (tuning job state changes)
    start_executions: bool = False  # StartExecution of the tuner state machine
    read_executions: bool = False  # DescribeExecution of its executions
    describe_algorithms: bool = False  # DescribeAlgorithm (an AlgorithmName's metrics, at create)
    check_callers: bool = False  # iam:GetRole + iam:SimulatePrincipalPolicy of the account's roles/users


@dataclass(frozen=True)
class TagScope:
    """The condition a training-job action is granted under: the deployment's tag
    (``constants.DEPLOYMENT_TAG``, valued with the deployment's table name) in the request
    (``aws:RequestTag``) or on the job (``aws:ResourceTag``), and for tags given on create, the
    create operation (``sagemaker:TaggingAction``). Condition keys: "Actions, resources, and
    condition keys for Amazon SageMaker", Service Authorization Reference (docs/security.md)."""

    sid: str
    key: str  # "aws:RequestTag" | "aws:ResourceTag"
    tagging_action: str | None = None

    def conditions(self, deployment: str) -> dict[str, dict[str, str]]:
        equals = {f"{self.key}/{constants.DEPLOYMENT_TAG}": deployment}
        if self.tagging_action is not None:
            equals["sagemaker:TaggingAction"] = self.tagging_action
        return {"StringEquals": equals}


# How each training-job action is scoped (docs/security.md, "Least privilege by tags"): a create
# must tag the job with the deployment; the AddTags it needs for that is allowed only as part of the
# create (so no role can tag another team's job as its own); a call on an existing job needs the tag
# on the job. An action of ``Grants.training_jobs`` without an entry here cannot be granted.
TRAINING_JOB_SCOPES: dict[str, TagScope] = {
    "CreateTrainingJob": TagScope("CreateTaggedTrainingJobs", "aws:RequestTag"),
    "AddTags": TagScope("TagTrainingJobsOnCreate", "aws:RequestTag", tagging_action="CreateTrainingJob"),
    "DescribeTrainingJob": TagScope("WatchOwnTrainingJobs", "aws:ResourceTag"),
    "StopTrainingJob": TagScope("WatchOwnTrainingJobs", "aws:ResourceTag"),
}

# Every path that can end a tuning job early stops its running training jobs: the lap (runtime
# limit, completion criteria), the recorder (completion criteria), the sweeper, the failure handler.
_STOPS = "StopTrainingJob"
_WATCHES = ("DescribeTrainingJob", _STOPS)


@dataclass(frozen=True)
class FunctionSpec:
    """Sizing and grants of one Lambda. ``timeout_seconds`` is the Lambda timeout, not a Step
    Functions one."""

    memory_mb: int = 512
    timeout_seconds: int = 60
    layers: tuple[str, ...] = (TUNER,)
    grants: Grants = Grants()


FUNCTIONS: dict[str, FunctionSpec] = {
    # 1769 MB is one full vCPU: fitting the GP and optimising the acquisition is CPU-bound.
    "next_trial": FunctionSpec(
        memory_mb=1769,
        timeout_seconds=300,
        layers=(TUNER, SCIENTIFIC),
        grants=Grants(
            table=("GetItem", "PutItem", "UpdateItem", "Query"),  # PutItem: the trial claim (a transaction)
            index=("Query",),  # open trials: a lap's retry; the running ones to stop when the job ends early
            training_jobs=("CreateTrainingJob", "AddTags", *_WATCHES),  # AddTags: tags given on create
            pass_execution_role=True,
            training_logs=True,
            task_tokens=True,
            publish_events=True,  # Stopping, when the runtime limit ends the job
        ),
    ),
    "create_job": FunctionSpec(
        # PutEvents: InProgress; DescribeAlgorithm: the metrics of a request's AlgorithmName
        grants=Grants(table=("GetItem", "PutItem", "Query"), publish_events=True, describe_algorithms=True),
    ),
    "training_event": FunctionSpec(
        timeout_seconds=300,
        # index: the open trials, the running ones to stop when a result meets the completion criteria
        grants=Grants(index=("Query",), training_jobs=_WATCHES, training_logs=True, task_tokens=True),
    ),
    "sweeper": FunctionSpec(
        timeout_seconds=300,
        grants=Grants(
            index=("Query",),
            training_jobs=_WATCHES,
            training_logs=True,
            task_tokens=True,
            publish_events=True,  # Stopping (runtime limit), Failed (an execution that ended unfinished)
            read_executions=True,
        ),
    ),
    "finalize": FunctionSpec(grants=Grants(publish_events=True)),
    "fail_job": FunctionSpec(grants=Grants(index=("Query",), training_jobs=(_STOPS,), publish_events=True)),
    "retune": FunctionSpec(grants=Grants(start_executions=True, read_executions=True)),
    # The caller-checked front door (tuner.aws.front_door): asks IAM about the caller, then creates
    # (name reservation: PutItem; DescribeAlgorithm: an AlgorithmName's metrics, checked before the
    # start), stops (Stopping event, StopTrainingJob) or tags (UpdateItem) as the client would.
    "front_door": FunctionSpec(
        timeout_seconds=60,
        grants=Grants(
            table=("GetItem", "PutItem", "UpdateItem", "Query"),
            index=("Query",),
            training_jobs=(_STOPS,),
            publish_events=True,
            start_executions=True,
            read_executions=True,
            describe_algorithms=True,
            check_callers=True,
        ),
    ),
}

# "Lambda allocates CPU power in proportion to the amount of memory configured ... At 1,769 MB, a
# function has the equivalent of one vCPU" (Lambda developer guide, "Configure Lambda function memory").
MB_PER_VCPU = 1769


def vcpus(memory_mb: int) -> int:
    """Whole vCPUs of CPU share a function of ``memory_mb`` gets (at least one thread)."""
    return max(1, memory_mb // MB_PER_VCPU)


def thread_environment(spec: FunctionSpec) -> dict[str, str]:
    """The numerical libraries' thread counts for a function that loads numpy/scipy: its vCPU share,
    not the cores it can see (``constants.THREAD_VARIABLES``); none for a function without them."""
    if SCIENTIFIC not in spec.layers:
        return {}
    return {variable: str(vcpus(spec.memory_mb)) for variable in constants.THREAD_VARIABLES}


if set(FUNCTIONS) != set(constants.LAMBDAS):  # pragma: no cover - a drift guard, fails at import
    raise RuntimeError(
        f"stacks/functions.py and tuner.constants.LAMBDAS disagree: {sorted(FUNCTIONS)} vs "
        f"{sorted(constants.LAMBDAS)}; add the missing function to both"
    )
_unscoped = sorted({a for spec in FUNCTIONS.values() for a in spec.grants.training_jobs} - set(TRAINING_JOB_SCOPES))
if _unscoped:  # pragma: no cover - a drift guard, fails at import
    raise RuntimeError(f"training-job actions {_unscoped} have no tag scope: add them to TRAINING_JOB_SCOPES")

# Glob patterns (CDK's ignore syntax) left out of the ``tuner`` layer and of each function's code.
# Tool caches (pytest, mypy, ruff) never ship: a mypy run inside the layer folder once added 31 MB.
_CACHE_DIRS = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
CODE_EXCLUDE: tuple[str, ...] = (*(f"**/{d}" for d in _CACHE_DIRS), "**/*.pyc", "**/*.egg-info")


# What the ``tuner`` layer leaves out besides ``CODE_EXCLUDE`` (paths relative to ``layers/tuner``):
# the tools no Lambda runs (the offline harness, the CLIs, the report and analytics). The infra
# tests check that no handler can reach them and that each still exists.
TUNER_LAYER_TOOLS: tuple[str, ...] = (
    "python/tuner/local",
    "python/tuner/cli.py",
    "python/tuner/cli_common.py",
    "python/tuner/families_cli.py",
    "python/tuner/report.py",
    "python/tuner/analytics.py",
    "python/tuner/deploy_model.py",
)
# CDK's glob syntax: a folder and everything under it, a file by its path.
TUNER_LAYER_EXCLUDE: tuple[str, ...] = (
    *CODE_EXCLUDE,
    *TUNER_LAYER_TOOLS,
    *(f"{tool}/**" for tool in TUNER_LAYER_TOOLS if not tool.endswith(".py")),
)


def is_layer_excluded(relative_path: str) -> bool:
    """True for a path under ``layers/tuner`` that the ``tuner`` layer leaves out."""
    return is_code_excluded(relative_path) or any(
        relative_path == tool or relative_path.startswith(tool + "/") for tool in TUNER_LAYER_TOOLS
    )


def is_code_excluded(relative_path: str) -> bool:
    """True for a path (relative to the asset root, ``/`` separated) that ``CODE_EXCLUDE`` drops."""
    parts = relative_path.split("/")
    return any(
        part in _CACHE_DIRS or part.endswith(".egg-info") for part in parts
    ) or relative_path.endswith(".pyc")
