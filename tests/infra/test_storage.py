"""The table and the buckets: durable, encrypted, private."""

from __future__ import annotations

from aws_cdk.assertions import Match


def test_table_is_on_demand_with_pitr_encryption_ttl_and_sparse_job_and_open_trial_indexes(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "by-kind",
                        "KeySchema": [
                            {"AttributeName": "kind", "KeyType": "HASH"},
                            {"AttributeName": "created", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ),
                Match.object_like(
                    {
                        "IndexName": "open-trials",
                        "KeySchema": [
                            {"AttributeName": "open_pk", "KeyType": "HASH"},
                            {"AttributeName": "sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ),
            ],
        },
    )


def test_table_survives_stack_deletion_by_default(synth):
    synth.template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})


def test_every_bucket_is_encrypted_private_and_versioned(synth):
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 2  # the tuner bucket and its access-log bucket
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}


def test_tuner_bucket_sends_access_logs_to_the_log_bucket(synth):
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": Match.any_value()},
                "LogFilePrefix": Match.any_value(),
            }
        },
    )


def test_every_bucket_denies_requests_without_tls(synth):
    policies = synth.resources("AWS::S3::BucketPolicy")
    secured = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Action"] == "s3:*"
                and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            ):
                secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == set(synth.resources("AWS::S3::Bucket"))
