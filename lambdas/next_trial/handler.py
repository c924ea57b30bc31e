"""NextTrial step (waitForTaskToken): claim, propose and start the worker's next training job."""
from tuner.service.runtime import service


def handler(event, context):
    return service().next_trial(
        event["TuningJobName"], int(event["Worker"]), int(event.get("Iteration", 0)), event["TaskToken"]
    )
