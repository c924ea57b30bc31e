"""EventBridge target: retune a tuning family (schedule, new data, "Retune Requested"), or react to
the end of a family's tuning job (the tuner's "Hyperparameter Tuning Job State Change")."""

from tuner.service.families import family_service


def handler(event, context):
    return family_service().handle(event)
