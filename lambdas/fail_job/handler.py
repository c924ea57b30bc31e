"""MarkFailed step: record the state machine's error as the tuning job's FailureReason."""
from tuner.service.runtime import service


def handler(event, context):
    return service().fail_job(event["TuningJobName"], event.get("Error"))
