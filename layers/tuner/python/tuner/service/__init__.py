"""Use cases over ports; ``tuner.service.runtime`` wires them to AWS for the Lambdas."""
