"""Adapters: the tuner's ports implemented with boto3 clients (always injected, never global)."""
