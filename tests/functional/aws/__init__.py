"""Direct tests of the AWS adapters (tuner.aws) against botocore-stubbed clients."""
