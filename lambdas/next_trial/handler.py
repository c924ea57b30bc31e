"""NextTrial step (waitForTaskToken): claim, propose and start the lap's next training job."""
from tuner import wiring


def handler(event, context):
    lap_trials = event.get("LapTrials")
    lap = event["Lap"] if "Lap" in event else event["Worker"]  # "Worker": definitions deployed before laps
    return wiring.service().next_trial(
        event["TuningJobName"],
        int(lap),
        int(event.get("Iteration", 0)),
        event["TaskToken"],
        lap_trials=int(lap_trials) if lap_trials is not None else None,
        capacity_wait=event.get("CapacityWait"),  # absent in definitions deployed before capacity waits
    )
