"""EventBridge target for SageMaker "Training Job State Change": record the job, wake its lap."""
from tuner import wiring


def handler(event, context):
    return wiring.service().record_training_job(event["detail"]["TrainingJobName"])
