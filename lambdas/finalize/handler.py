"""Finalize step: best job, final status and counters; publishes the tuning-job event."""
from tuner.service.runtime import service


def handler(event, context):
    return service().finalize(event["TuningJobName"])
