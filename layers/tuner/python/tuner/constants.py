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

# CloudFormation outputs of the tuner stack.
OUTPUT_STATE_MACHINE_ARN = "StateMachineArn"
OUTPUT_TABLE_NAME = "TableName"
OUTPUT_BUCKET_NAME = "BucketName"
OUTPUT_EVENT_HANDLER = "TrainingEventHandlerName"
OUTPUT_SWEEPER = "SweeperName"

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
