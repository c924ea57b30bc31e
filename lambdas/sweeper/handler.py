"""Scheduled monitor and safety net: early stopping, Hyperband rungs, limits, lost events."""
from tuner import wiring


def handler(event, context):
    return wiring.service().sweep()
