"""Shared fixtures: fake AWS credentials first (moto), before any client exists."""
from __future__ import annotations

import os

for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}.items():
    os.environ.setdefault(key, value)

# DynamoDB's conditional writes and transactions are atomic; moto's are not across threads. Tests
# that race writers (claims, family locks) need the real semantics: serialise moto's writes.
from tuner.local import atomic  # noqa: E402

atomic.install()
