"""Scheduled safety net: record finished training jobs whose state-change event was lost."""
from tuner.service.runtime import service


def handler(event, context):
    return service().sweep()
