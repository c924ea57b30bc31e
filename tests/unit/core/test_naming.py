"""Training job names (``core.naming``): deterministic, at most 63 characters, parsed back."""
from __future__ import annotations

from tuner.core.naming import parse_training_job_name, training_job_name


def test_training_job_names_are_deterministic_and_parse_back():
    a = training_job_name("my-tuning-job", 7, {"x": "1", "y": "2"})
    assert a == training_job_name("my-tuning-job", 7, {"y": "2", "x": "1"})
    assert a != training_job_name("my-tuning-job", 7, {"x": "1", "y": "3"})
    assert len(a) <= 63 and a.startswith("my-tuning-job-007-")
    assert parse_training_job_name(a) == ("my-tuning-job", 7)
    assert parse_training_job_name(training_job_name("j", 12345, {})) == ("j", 12345)
    assert parse_training_job_name("someone-elses-job") is None
