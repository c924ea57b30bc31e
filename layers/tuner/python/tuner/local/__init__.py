"""Offline harness: moto deployment, local SageMaker stand-in, in-process Lambdas."""
