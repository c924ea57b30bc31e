"""Lambda function URLs, offline: moto keeps a function's URL configuration but serves no URL, and
its CloudFormation skips ``AWS::Lambda::Url``. ``FunctionUrls`` serves them in-process.

A request to ``https://<id>.lambda-url.<region>.on.aws/`` made by any botocore client inside the
mock is answered as Lambda answers it ("Invoking Lambda function URLs", "Control access to Lambda
function URLs", Lambda developer guide):

* ``AuthType: AWS_IAM``: the request must be SigV4-signed for the ``lambda`` service in the URL's
  region, else ``403 {"Message": "Forbidden"}``. The signer is the principal moto's STS knows by the
  access key (an assumed role's session, an IAM user; moto's default credentials are the user
  ``moto``), and that principal's policies must allow ``lambda:InvokeFunctionUrl`` on the function
  with ``lambda:FunctionUrlAuthType = AWS_IAM`` (the IAM twin evaluates them). The signature itself
  is not verified (moto keeps no secret to verify it with).
* The function gets the payload format 2.0 event (``requestContext.authorizer.iam`` names the
  caller) and runs in-process (``InProcessLambdas``); its ``{statusCode, headers, body}`` is the
  HTTP response, a function error is ``502``.
"""
from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from tuner.aws.iam_requests import Access
from tuner.local.iam import IamTwin

_HOST = re.compile(r"^https://(?P<id>[a-z0-9]+)\.lambda-url\.(?P<region>[a-z0-9-]+)\.on\.aws(?P<path>/[^?]*)?")
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
_FORBIDDEN = (403, {"Content-Type": "application/json"}, json.dumps({"Message": "Forbidden"}))


def iam_arn(sts_arn: str) -> str:
    """The caller's ARN as Lambda reports it: moto's STS names an IAM user ``arn:aws:sts::A:user/N``,
    AWS ``arn:aws:iam::A:user/N``."""
    parts = sts_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("user/"):
        parts[2] = "iam"
    return ":".join(parts)


class FunctionUrls:
    """Serve the function URLs of moto's Lambda functions (see the module docstring)."""

    def __init__(self, twin: IamTwin, account: str) -> None:
        self.twin = twin
        self.account = account
        self._original: Callable[..., Any] | None = None
        self.requests: list[tuple[str, int]] = []  # (caller ARN or "", HTTP status)

    def install(self) -> FunctionUrls:
        from moto.core.botocore_stubber import BotocoreStubber

        if self._original is None:
            original = BotocoreStubber.process_request
            self._original = original
            urls = self

            def process_request(stubber: Any, request: Any) -> Any:
                if _HOST.match(str(request.url)):
                    return urls.serve(request)
                return original(stubber, request)

            BotocoreStubber.process_request = process_request  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        if self._original is not None:
            BotocoreStubber.process_request = self._original  # type: ignore[method-assign]
            self._original = None

    # ------------------------------------------------------------------------------------------
    def _function(self, url_id: str, region: str) -> Any:
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[self.account][region]
        for fn in backend.list_functions():
            config = getattr(fn, "url_config", None)
            if config is not None and config.url.startswith(f"https://{url_id}.lambda-url."):
                return fn
        return None

    def _caller(self, access_key: str, region: str) -> str:
        from moto.sts.models import sts_backends
        from moto.utilities.utils import get_partition

        return iam_arn(sts_backends[self.account][get_partition(region)].get_caller_identity(access_key, region)[1])

    def serve(self, request: Any) -> tuple[int, dict[str, str], str]:
        match = _HOST.match(str(request.url))
        assert match is not None
        region = match["region"]
        fn = self._function(match["id"], region)
        if fn is None:
            return 404, {"Content-Type": "application/json"}, json.dumps({"Message": "Not Found"})
        headers = {str(k).lower(): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()}
        identity: dict[str, Any] | None = None
        if (fn.url_config.config.get("AuthType") or "NONE") == "AWS_IAM":
            credential = _CREDENTIAL.search(headers.get("authorization", ""))
            if credential is None or credential["service"] != "lambda" or credential["region"] != region:
                self.requests.append(("", 403))
                return _FORBIDDEN
            from botocore.exceptions import ClientError

            caller = self._caller(credential["key"], region)
            self.twin.reload()
            try:
                allowed = self.twin.policy(_principal(caller)).allows(
                    Access("lambda:InvokeFunctionUrl", fn.function_arn, (("lambda:FunctionUrlAuthType", "AWS_IAM"),))
                )
            except ClientError:  # a principal IAM does not have (moto's default user before it is created)
                allowed = False
            if not allowed:
                self.requests.append((caller, 403))
                return _FORBIDDEN
            identity = {
                "accessKey": credential["key"], "accountId": self.account, "callerId": caller.rsplit("/", 1)[-1],
                "cognitoIdentity": None, "principalOrgId": None, "userArn": caller, "userId": caller.rsplit("/", 1)[-1],
            }
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": match["path"] or "/",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": self.account if identity else "anonymous",
                "apiId": match["id"],
                "authorizer": {"iam": identity} if identity else None,
                "domainName": str(request.url).split("/")[2],
                "domainPrefix": match["id"],
                "http": {"method": request.method, "path": match["path"] or "/", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent", "")},
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": base64.b64encode(body).decode("ascii"),
            "isBase64Encoded": True,
        }
        payload, errored, _ = fn._invoke_lambda(json.dumps(event))
        if errored:
            self.requests.append((identity["userArn"] if identity else "", 502))
            return 502, {"Content-Type": "application/json"}, json.dumps({"Message": "Internal Server Error"})
        answer = json.loads(payload or "null")
        if not isinstance(answer, dict) or "statusCode" not in answer:
            answer = {"statusCode": 200, "body": json.dumps(answer), "headers": {"Content-Type": "application/json"}}
        text = answer.get("body") or ""
        if answer.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8")
        self.requests.append((identity["userArn"] if identity else "", int(answer["statusCode"])))
        return int(answer["statusCode"]), {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}, text


def _principal(caller: str) -> str:
    """The role or user whose policies apply: an assumed-role session's role (by name: IAM's
    evaluation needs no path), or the user itself."""
    parts = caller.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
    return caller
