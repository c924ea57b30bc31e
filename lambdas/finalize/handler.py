"""Finalize step: best job, final status and counters; publishes the tuning-job event."""
from tuner import wiring


def handler(event, context):
    return wiring.service().finalize(event["TuningJobName"])
