"""EventBridge target: retune a tuning family (schedule, new data, "Retune Requested"), or react to
the end of a family's tuning job (the tuner's "Hyperparameter Tuning Job State Change")."""
from tuner import wiring


def handler(event, context):
    return wiring.family_service().handle(event)
