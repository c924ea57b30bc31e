"""The pure core: numpy/scipy only. No boto3, no AWS, no Lambda types."""
