"""NextTrial step (waitForTaskToken): claim, propose and start the lap's next training job."""
from tuner.service.runtime import service


def handler(event, context):
    lap_trials = event.get("LapTrials")
    return service().next_trial(
        event["TuningJobName"],
        int(event["Worker"]),
        int(event.get("Iteration", 0)),
        event["TaskToken"],
        lap_trials=int(lap_trials) if lap_trials is not None else None,
    )
