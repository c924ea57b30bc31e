"""CreateTuningJob step: validate the CreateHyperParameterTuningJob request and store the job."""
from tuner import wiring


def handler(event, context):
    return wiring.service().create_job(
        event["Request"], execution_arn=event.get("ExecutionArn"), lap_trials=wiring.lap_trials()
    )
