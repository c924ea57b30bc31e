"""Security properties of the whole template (every policy, every role, every store), beyond the
per-function checks of test_events_and_iam.py, test_storage.py and test_state_machine.py."""

from __future__ import annotations

import json

import pytest
from tuner import constants

from .test_events_and_iam import actions, rendered, resources

PASSED_TO_SAGEMAKER = {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
SAGEMAKER_ACTIONS = {
    "sagemaker:CreateTrainingJob",
    "sagemaker:AddTags",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopTrainingJob",
}
# Read-only, on algorithms: this account's, or a Marketplace seller's (any account and region).
DESCRIBE_ALGORITHM = "sagemaker:DescribeAlgorithm"
# Actions that support no resource-level permission: the only ones allowed on Resource "*".
UNSCOPABLE = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def all_statements(synth) -> list[tuple[str, dict]]:
    """(logical id, statement) of every identity policy: AWS::IAM::Policy and inline role policies."""
    out = []
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        out += [(logical_id, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    for logical_id, role in synth.resources("AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            out += [(logical_id, s) for s in inline["PolicyDocument"]["Statement"]]
    return out


# ---- cdk-nag ----------------------------------------------------------------------------------------
def test_every_acknowledged_nag_finding_carries_a_reason(synth):
    [report] = synth.validation_report()["pluginReports"]
    suppressed = report["suppressedViolations"]
    assert suppressed, "the acknowledgements in stacks/nag.py are expected to be exercised"
    for finding in suppressed:
        reason = finding.get("reason", "")
        assert len(reason.split()) >= 6, (
            f"{finding['ruleName']}: acknowledged without a real reason: {reason!r}"
        )
        assert finding["acknowledgedId"].endswith(finding["ruleName"])


def test_no_managed_policies_and_no_inline_wildcard_admin(synth):
    for logical_id, role in synth.resources("AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), f"{logical_id} uses a managed policy"
    for logical_id, statement in all_statements(synth):
        assert statement.get("Effect") == "Allow" or statement.get("Effect") == "Deny"
        for action in actions(statement):
            assert action != "*" and not action.endswith(":*"), f"{logical_id}: {action}"
            assert "NotAction" not in statement and "NotResource" not in statement


def test_resource_star_only_for_actions_without_resource_level_permissions(synth):
    for logical_id, statement in all_statements(synth):
        if "*" in resources(statement):
            assert set(actions(statement)) <= UNSCOPABLE, f"{logical_id}: {actions(statement)} on *"


# ---- iam:PassRole ------------------------------------------------------------------------------------
def test_pass_role_anywhere_is_only_to_sagemaker_and_only_on_the_allowed_roles(synth):
    tuner = synth.stack.tuner
    allowed = sorted(rendered(synth.stack.resolve(arn)) for arn in tuner.allowed_execution_role_arns)
    passing = [
        (logical_id, s)
        for logical_id, s in all_statements(synth)
        if any(a.lower() in ("iam:passrole", "iam:*") for a in actions(s))
    ]
    assert len(passing) == 1, passing  # one statement in the whole template: next_trial's
    [(_, statement)] = passing
    assert statement["Effect"] == "Allow"
    assert statement["Condition"] == PASSED_TO_SAGEMAKER
    assert sorted(rendered(r) for r in resources(statement)) == allowed
    assert actions(statement) == ["iam:PassRole"]


# ---- SageMaker ----------------------------------------------------------------------------------------
def test_sagemaker_actions_anywhere_are_the_training_job_ones_on_training_job_arns(synth):
    seen = set()
    for logical_id, statement in all_statements(synth):
        sm = [a for a in actions(statement) if a.startswith("sagemaker:")]
        if not sm:
            continue
        seen |= set(sm)
        if sm == [DESCRIBE_ALGORITHM]:
            assert all(rendered(r).endswith(":algorithm/*") for r in resources(statement)), logical_id
            continue
        assert set(sm) <= SAGEMAKER_ACTIONS, f"{logical_id}: {sm}"
        for resource in resources(statement):
            text = rendered(resource)
            assert text.endswith(":training-job/*"), f"{logical_id}: {text}"
            assert '"AWS::AccountId"' in text and '"AWS::Region"' in text  # this account and region only
    assert seen == SAGEMAKER_ACTIONS | {DESCRIBE_ALGORITHM}


# ---- encryption at rest --------------------------------------------------------------------------------
def test_table_is_encrypted_at_rest(synth):
    for logical_id, table in synth.resources("AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, logical_id


def test_every_bucket_and_queue_is_encrypted_at_rest(synth):
    for logical_id, bucket in synth.resources("AWS::S3::Bucket").items():
        [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), logical_id
    for logical_id, queue in synth.resources("AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, logical_id


def test_the_state_machine_logs_to_a_log_group_under_a_rotated_customer_key(synth):
    [machine] = synth.resources("AWS::StepFunctions::StateMachine").values()
    [destination] = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = synth.json["Resources"][group_id]
    key_id = group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    key = synth.json["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    # the key lets the CloudWatch Logs service of this region use it, and nobody else but the account
    principals = json.dumps(key["Properties"]["KeyPolicy"])
    assert "logs." in principals


def test_log_groups_without_a_customer_key_are_only_the_function_log_groups(synth):
    """CloudWatch Logs encrypts every log group at rest; the state machine's (which could carry
    execution errors) also uses the customer key. Function log groups use the service default."""
    function_groups = {
        fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        for fn in synth.resources("AWS::Lambda::Function").values()
        if "LoggingConfig" in fn["Properties"]
    }
    plain = {
        k for k, g in synth.resources("AWS::Logs::LogGroup").items() if "KmsKeyId" not in g["Properties"]
    }
    assert plain <= function_groups
    for logical_id, group in synth.resources("AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays"), f"{logical_id} keeps logs forever"


# ---- logging and tracing --------------------------------------------------------------------------------
def test_the_state_machine_never_logs_execution_data_and_traces(synth):
    [machine] = synth.resources("AWS::StepFunctions::StateMachine").values()
    logging = machine["Properties"]["LoggingConfiguration"]
    assert logging["IncludeExecutionData"] is False  # inputs/outputs (requests, hyperparameters) stay out
    assert logging["Level"] in ("ERROR", "FATAL")  # never ALL: one event per transition of 10,000 trials
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize("name", list(constants.LAMBDAS))
def test_functions_trace_and_never_log_at_debug(synth, name):
    [fn] = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Description"] == constants.LAMBDAS[name]
    ]
    props = fn["Properties"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    level = props["Environment"]["Variables"][constants.ENV_LOG_LEVEL]
    assert level in ("INFO", "WARNING", "ERROR")  # DEBUG would log boto3 request bodies
    logging_config = props.get("LoggingConfig", {})
    assert logging_config.get("ApplicationLogLevel", "INFO") not in ("DEBUG", "TRACE")
    assert logging_config.get("SystemLogLevel", "INFO") not in ("DEBUG",)
