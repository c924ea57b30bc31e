"""Names shared by the stack, the handlers and the offline harness (one place, no drift)."""
from __future__ import annotations

# Environment variables the stack sets on every tuner Lambda.
ENV_TABLE_NAME = "TUNER_TABLE_NAME"
ENV_BUCKET_NAME = "TUNER_BUCKET_NAME"
ENV_EVENT_BUS_NAME = "TUNER_EVENT_BUS_NAME"
ENV_LOG_LEVEL = "TUNER_LOG_LEVEL"
# Trials per lap (one child execution of the state machine's distributed Map); read by create_job.
ENV_LAP_TRIALS = "TUNER_LAP_TRIALS"
# Trials per lap (one child execution): ~10 history events each, so <= ~10,000 of the 25,000 quota.
DEFAULT_LAP_TRIALS = 1_000
# Set on the retune Lambda only (it is not a state of the machine, so there is no cycle).
ENV_STATE_MACHINE_ARN = "TUNER_STATE_MACHINE_ARN"
# Set on the retune Lambda, and output by the stack: "true" when the deployment grants what a
# family's AutoDeploy needs (stacks/retuning.py), else "false" (docs/retuning.md).
ENV_RETUNE_AUTO_DEPLOY = "TUNER_RETUNE_AUTO_DEPLOY"
# The deployment's quotas (docs/quotas.md, tuner.core.quotas): set on create_job, the step that
# enforces them; absent (an older deployment), AMT's default quotas apply. Each is raised by the
# ``TunerConstruct`` prop of the same name in lower case without ``TUNER_``, or the context key below.
ENV_MAX_PARALLEL_TRAINING_JOBS = "TUNER_MAX_PARALLEL_TRAINING_JOBS"
ENV_MAX_TRAINING_JOBS = "TUNER_MAX_TRAINING_JOBS"
ENV_MAX_RANDOM_TRAINING_JOBS = "TUNER_MAX_RANDOM_TRAINING_JOBS"
ENV_MAX_CONCURRENT_TUNING_JOBS = "TUNER_MAX_CONCURRENT_TUNING_JOBS"
ENV_QUOTAS = (
    ENV_MAX_PARALLEL_TRAINING_JOBS,
    ENV_MAX_TRAINING_JOBS,
    ENV_MAX_RANDOM_TRAINING_JOBS,
    ENV_MAX_CONCURRENT_TUNING_JOBS,
)
# Their CDK context keys (read by stacks/app_context.py; named in the refusals' messages).
CTX_MAX_PARALLEL_TRAINING_JOBS = "tuner:maxParallelTrainingJobs"
CTX_MAX_TRAINING_JOBS = "tuner:maxTrainingJobs"
CTX_MAX_RANDOM_TRAINING_JOBS = "tuner:maxRandomTrainingJobs"
CTX_MAX_CONCURRENT_TUNING_JOBS = "tuner:maxConcurrentTuningJobs"

# Thread pools of the numerical libraries (OpenMP, OpenBLAS, MKL): the stack sets each to the
# function's vCPU share (stacks/functions.py ``thread_environment``). Unset, OpenBLAS starts one thread
# per visible core, and Lambda shows more cores than the CPU share it grants (docs/performance.md).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# CloudFormation outputs of the tuner stack.
OUTPUT_STATE_MACHINE_ARN = "StateMachineArn"
OUTPUT_TABLE_NAME = "TableName"
OUTPUT_BUCKET_NAME = "BucketName"
OUTPUT_EVENT_HANDLER = "TrainingEventHandlerName"
OUTPUT_SWEEPER = "SweeperName"
OUTPUT_EVENT_BUS_NAME = "EventBusName"
# The caller-checked front door (tuner.aws.front_door): its function URL, and the managed policy that
# lets a principal use it and read the deployment (docs/security.md).
OUTPUT_FRONT_DOOR_URL = "FrontDoorUrl"
OUTPUT_USER_POLICY_ARN = "UserPolicyArn"
OUTPUT_RETUNE_AUTO_DEPLOY = "RetuneAutoDeploy"  # the same setting as ENV_RETUNE_AUTO_DEPLOY

DEFAULT_STACK_NAME = "SageMakerTuner"

# The Lambdas: directory under lambdas/ -> purpose. Each has handler.py with handler(event, context).
LAMBDAS = {
    "create_job": "validate the request, store the tuning job, load warm-start parents",
    "next_trial": "claim, propose and start the next training job (waitForTaskToken)",
    "training_event": "record a finished training job and wake its lap (EventBridge target)",
    "sweeper": "periodic monitor and safety net: early stopping, Hyperband rungs, limits, lost events",
    "finalize": "best job, final status and counters; publish the tuning-job event",
    "fail_job": "mark the tuning job Failed with the state machine's error and cause",
    "retune": "start a tuning family's next warm-started tuning job; react to its end (EventBridge target)",
    "front_door": "create/stop/tag tuning jobs for an IAM caller, once IAM allows what SageMaker would check",
}

# Events.
SAGEMAKER_SOURCE = "aws.sagemaker"
TRAINING_STATE_CHANGE = "SageMaker Training Job State Change"
TUNER_SOURCE = "tuner"
TUNING_STATE_CHANGE = "Hyperparameter Tuning Job State Change"
RETUNE_REQUESTED = "Retune Requested"
S3_SOURCE = "aws.s3"
S3_OBJECT_CREATED = "Object Created"

# Logs.
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"

# Tags (docs/security.md, "Least privilege by tags"). Keys beginning with RESERVED_TAG_PREFIX (in any
# case) are the tuner's: a request may set none of them but FAMILY_TAG (tuner.core.request).
RESERVED_TAG_PREFIX = "tuner:"
# On every training job the tuner starts (tuner.core.request_definitions), valued with the
# deployment's table name (ENV_TABLE_NAME, the table's Ref in the template): the tuner's roles may
# create, tag, describe and stop only training jobs carrying it, and its training-event rule matches
# only their events.
DEPLOYMENT_TAG = "tuner:deployment"
# Set by the family service on the requests it builds (tuner.core.families), so a request may carry it.
FAMILY_TAG = "tuner:family"
# A dollar budget for the tuning job (tuner.core.budget, docs/cost.md): set by the user, on the request.
MAX_SPEND_TAG = "tuner:MaxSpendUSD"
SPEND_POLICY_TAG = "tuner:SpendPolicy"

#: Where ``tuner local`` keeps each training job's output (``<output-dir>/training-jobs/<name>.log``);
#: ``tuner logs`` reads it and the report links to it.
TRAINING_LOGS_FOLDER = "training-jobs"
