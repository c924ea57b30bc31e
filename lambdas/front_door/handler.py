"""Function URL (AuthType AWS_IAM): create, stop and tag tuning jobs for an IAM caller, once IAM
allows what SageMaker would check of the same call (tuner.aws.front_door)."""
from tuner import wiring


def handler(event, context):
    return wiring.front_door().handle(event)
