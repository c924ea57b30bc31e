"""What functional tests share: moto with the offline loop's credentials and region."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch, request):
    """moto for one test, with the test module's ``BUCKET`` (if it names one) created."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        bucket = getattr(request.module, "BUCKET", None)
        if bucket:
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
        yield
