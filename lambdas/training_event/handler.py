"""EventBridge target for SageMaker "Training Job State Change": record the job, wake its worker."""
from tuner.service.runtime import service


def handler(event, context):
    return service().record_training_job(event["detail"]["TrainingJobName"])
