"""The IAM request of DescribeAlgorithm (the create use case reads an AlgorithmName's metrics): the
algorithm resource's ARN, built from a name in the caller's account, or the ARN as given (a
Marketplace algorithm's, in its seller's account)."""
from __future__ import annotations

from tuner.local.iam import Access, Scope, accesses

SCOPE = Scope("us-east-1", "123456789012")


def test_describe_algorithm_needs_the_algorithm_s_arn():
    assert accesses("sagemaker", "DescribeAlgorithm", {"AlgorithmName": "My-Algo"}, SCOPE) == [
        Access("sagemaker:DescribeAlgorithm", "arn:aws:sagemaker:us-east-1:123456789012:algorithm/my-algo")]
    seller = "arn:aws:sagemaker:us-east-1:865070037744:algorithm/some-listing-1-2-3"
    assert accesses("sagemaker", "DescribeAlgorithm", {"AlgorithmName": seller}, SCOPE) == [
        Access("sagemaker:DescribeAlgorithm", seller)]
