"""CreateTuningJob step: validate the CreateHyperParameterTuningJob request and store the job."""
from tuner.service.runtime import service


def handler(event, context):
    return service().create_job(event["Request"], execution_arn=event.get("ExecutionArn"))
