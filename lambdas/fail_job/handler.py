"""MarkFailed / LapFailed steps: record the state machine's error as the tuning job's FailureReason."""
from tuner import wiring


def handler(event, context):
    return wiring.service().fail_job(event["TuningJobName"], event.get("Error"))
