"""CreateTuningJob step: validate the CreateHyperParameterTuningJob request and store the job."""
import os

from tuner import constants
from tuner.service.runtime import service


def handler(event, context):
    lap_trials = int(os.environ.get(constants.ENV_LAP_TRIALS) or constants.DEFAULT_LAP_TRIALS)
    return service().create_job(event["Request"], execution_arn=event.get("ExecutionArn"), lap_trials=lap_trials)
