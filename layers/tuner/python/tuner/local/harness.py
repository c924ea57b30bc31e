"""The offline tuner: the real stack, state machine and Lambda code, inside moto.

``LocalTuner`` is a context manager (for notebooks, tests and ``tuner local``):

    with LocalTuner(work_dir) as lt:
        lt.start(request, base_dir=Path("examples/xgboost"))
        lt.wait("my-job")
        lt.describe("my-job")

Inside, moto runs Step Functions executions for real (``execute_state_machine``), the Lambdas
run in-process (``InProcessLambdas``), EventBridge rules deliver to their Lambda targets
(``tuner.local.eventbridge``) and training jobs run as local processes (``LocalSageMaker``).
moto schedules never fire, so the harness invokes the sweeper Lambda itself every
``sweep_interval`` seconds, exactly as its schedule rule would.

Each training job's output is kept as ``<training_logs>/<job>.log`` (default
``<work_dir>/training-jobs``; ``tuner.local.training_process.TrainingLogs``).

Interruptions: ``wait`` gives up at its ``timeout`` (``TimeoutError``) or when its ``interrupted``
callable says so (``KeyboardInterrupt``, raised between polls, never inside a call);
``stop_and_wait`` then stops the tuning job as StopHyperParameterTuningJob does (its running
training jobs are stopped) and waits until it has ended, so that what finished can be read and
written. Leaving the context with a tuning job still running stops it the same way first (unless
a ``KeyboardInterrupt`` is leaving it): the stand-in must still be installed while the job's
Lambdas stop their training jobs.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tuner import constants
from tuner.core import arns
from tuner.core.records import TERMINAL_JOB
from tuner.errors import TuningJobNotFoundError, ValidationError
from tuner.local.deploy import ACCOUNT, Deployment, deploy
from tuner.local.iam import IAM_MODES

_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class _QuietMoto:
    """While the offline deployment is up, moto's own log lines and warnings stay out of the user's
    output (every CloudFormation type it skips, every state its Step Functions engine fails, which
    the tuner handles); the levels and warning filters before are restored on exit."""

    def __enter__(self) -> _QuietMoto:
        import logging
        import warnings

        self._logger = logging.getLogger("moto")
        self._level = self._logger.level
        self._logger.setLevel(logging.CRITICAL)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", module="moto")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._warnings.__exit__(*exc)
        self._logger.setLevel(self._level)


#: moto's default credentials (``_CREDENTIALS``) sign as this IAM user: "you" offline.
OFFLINE_USER = "moto"
#: What the offline user may do besides the stack's user policy: what an AMT user holds in their own
#: account (docs/security.md, "The front door"): tune, and pass roles to SageMaker only.
AMT_USER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "TuneWithSageMaker",
            "Effect": "Allow",
            "Action": [
                "sagemaker:CreateHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
                "sagemaker:AddTags", "sagemaker:DeleteTags",
            ],
            "Resource": "arn:aws:sagemaker:*:*:hyper-parameter-tuning-job/*",
        },
        {
            "Sid": "PassExecutionRolesToSageMaker",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    ],
}

#: Seconds ``LocalTuner.wait`` waits for an execution to exist.
START_GRACE = 30.0
#: Seconds ``stop_and_wait`` (and leaving the context) waits for a stopped tuning job to end: its
#: training jobs get SIGTERM, then SIGKILL after the stand-in's ``stop_grace`` (2 s), then the laps
#: and the final step run.
STOP_WAIT = 60.0

class LocalTuner:
    def __init__(
        self,
        work_dir: Path | str | None = None,
        *,
        region: str = "us-east-1",
        sweep_interval: float = 5.0,
        fault: Callable[[str, dict], str | None] | None = None,
        context: Mapping[str, Any] | None = None,
        log_lag: float | None = None,
        iam: str | None = None,
        quotas: Mapping[str, int] | None = None,
        training_logs: Path | str | None = None,
    ) -> None:
        from tuner.local.training_process import log_lag_setting

        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="tuner-local-")).resolve()
        self.region = region
        self.sweep_interval = sweep_interval
        self._fault = fault
        # each training job's output as <training_logs>/<job>.log (tuner.local.training_process)
        self.training_logs = Path(training_logs or self.work_dir / "training-jobs").resolve()
        # CloudWatch Logs delivery lag of the SageMaker stand-in (tuner.local.training_process):
        # as given, else $TUNER_LOCAL_LOG_LAG, else 1 s
        self.log_lag = log_lag_setting(log_lag)
        # IAM enforced on the tuner's own calls (tuner.local.iam): "enforce" (default; also
        # $TUNER_LOCAL_IAM), "record" or "off". ``iam_denials()`` lists what was refused.
        self.iam_mode = iam or os.environ.get("TUNER_LOCAL_IAM") or "enforce"
        if self.iam_mode not in IAM_MODES:
            raise ValidationError(
                f"IAM mode {self.iam_mode!r} (TUNER_LOCAL_IAM or iam=): use one of {', '.join(IAM_MODES)}"
            )
        # Account quotas of the stand-in, {instance type: instances} (empty: unlimited; docs/capacity.md)
        self.quotas = dict(quotas or {})
        # Offline waits are short: a lap re-checks its training job after 20 s without a wake-up.
        # A quota-refused trial waits 1 s, then at most 2 s (deployed: 30 s, then up to 5 min).
        self.context = {"tuner:lapWaitSeconds": "20", "tuner:capacityWaitSeconds": "1",
                        "tuner:capacityMaxWaitSeconds": "2", **dict(context or {})}
        self.deployment: Deployment | None = None
        self._quiet: Any = None
        self._mock: Any = None
        self._patches: list[Any] = []
        self._clock_offset = 0.0

    @property
    def fault(self) -> Callable[[str, dict], str | None] | None:
        """The stand-in's ``fault`` hook (see ``tuner.local.sagemaker``); settable while running."""
        return self._fault

    @fault.setter
    def fault(self, hook: Callable[[str, dict], str | None] | None) -> None:
        self._fault = hook
        sagemaker = getattr(self, "sagemaker", None)
        if sagemaker is not None:
            sagemaker.fault = hook

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LocalTuner:
        import boto3
        from moto import mock_aws

        from tuner.local import atomic, eventbridge
        from tuner.local.function_urls import FunctionUrls
        from tuner.local.iam import acting_principal
        from tuner.local.lambda_runtime import InProcessLambdas
        from tuner.local.metering import Meter
        from tuner.local.sagemaker import LocalSageMaker
        from tuner.local.training_process import TrainingLogs
        from tuner.wiring import build_service, reset

        self._quiet = _QuietMoto().__enter__()
        for k, v in _CREDENTIALS.items():
            os.environ.setdefault(k, v)
        os.environ.setdefault("AWS_DEFAULT_REGION", self.region)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        try:
            reset()
            self.session = boto3.session.Session(region_name=self.region)
            eventbridge.reset()
            atomic.install()
            self._patches.append(atomic)
            self.lambdas = InProcessLambdas(self.work_dir / "lambda-code").install()
            self._patches.append(self.lambdas)
            # under the IAM twin (installed after it, so it wraps this): counts what the functions use
            self.meter = Meter(acting_principal).install()
            self._patches.append(self.meter)
            self.lambdas.meter = self.meter
            eventbridge.install_lambda_delivery()
            self._patches.append(eventbridge)
            self.sagemaker = LocalSageMaker(self.work_dir / "training", fault=self._fault)
            self.sagemaker.log_lag = self.log_lag
            self.sagemaker.training_logs = TrainingLogs(self.training_logs)
            self.sagemaker.quotas = self.quotas
            self.sagemaker.install()
            self._patches.append(self.sagemaker)
            self.deployment = deploy(self.session, region=self.region, context=self.context)
            self.iam = self._iam_twin(self.deployment)
            self._patches.append(self.iam)
            self.function_urls = FunctionUrls(self.iam, ACCOUNT).install()
            self._patches.append(self.function_urls)
            self._offline_user(self.deployment)
            self.lambdas.iam = self.iam
            self.service = build_service(
                self.deployment.table_name,
                region=self.region,
                session=self.session,
                state_machine_arn=self.deployment.state_machine_arn,
            )
            self.sfn = self.session.client("stepfunctions")
            self.lam = self.session.client("lambda")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        from tuner.local import eventbridge

        if not (exc and isinstance(exc[0], type) and issubclass(exc[0], KeyboardInterrupt)):
            self._stop_running_jobs()  # (after a Ctrl-C that was meant to quit at once: not)
        self.reset_clock()
        for patch in reversed(self._patches):
            try:
                if patch is eventbridge:
                    eventbridge.wait_deliveries(5.0)
                    eventbridge.uninstall_lambda_delivery()
                    eventbridge.reset()
                else:
                    patch.uninstall()
            except Exception:
                pass
        self._patches.clear()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._quiet is not None:
            self._quiet.__exit__(None, None, None)
            self._quiet = None

    # ---- jobs --------------------------------------------------------------------------------
    def prepare(self, request: Mapping[str, Any], base_dir: Path | str | None = None) -> dict[str, Any]:
        """Upload local sources/data named in the request (as the SageMaker SDK does)."""
        from tuner.sources import prepare_request_sources

        bucket = self._deployed().bucket_name
        if bucket is None:
            raise RuntimeError("the offline stack has no bucket output; redeploy it")
        name = request.get("HyperParameterTuningJobName", "job")
        self._create_output_buckets(request)
        return prepare_request_sources(
            dict(request),
            Path(base_dir or "."),
            self.session.client("s3"),
            bucket,
            f"sources/{name}",
        )

    def _create_output_buckets(self, request: Mapping[str, Any]) -> None:
        """Offline, the buckets a request writes model artifacts to are created in moto."""
        s3 = self.session.client("s3")
        definitions = list(request.get("TrainingJobDefinitions") or [])
        if request.get("TrainingJobDefinition"):
            definitions.append(request["TrainingJobDefinition"])
        for d in definitions:
            path = (d.get("OutputDataConfig") or {}).get("S3OutputPath", "")
            if isinstance(path, str) and path.startswith("s3://"):
                bucket = path[5:].split("/", 1)[0]
                try:
                    s3.create_bucket(Bucket=bucket)
                except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                    pass

    def start(self, request: Mapping[str, Any], base_dir: Path | str | None = None) -> str:
        """StartExecution with the request as input and the tuning job's name as execution name."""
        deployment = self._deployed()
        prepared = self.prepare(request, base_dir)
        name = str(prepared.get("HyperParameterTuningJobName") or "unnamed")
        r = self.sfn.start_execution(
            stateMachineArn=deployment.state_machine_arn, name=name, input=json.dumps(prepared)
        )
        # as CreateHyperParameterTuningJob: once it returns, the job can be described (the execution
        # writes the record in its first step; one that ends before that has failed validation)
        deadline = time.monotonic() + START_GRACE
        while time.monotonic() < deadline:
            try:
                self.service.describe(name)
                break
            except TuningJobNotFoundError:
                if self.sfn.describe_execution(executionArn=r["executionArn"])["status"] != "RUNNING":
                    break
                time.sleep(0.05)
        return r["executionArn"]

    def _iam_twin(self, deployment: Deployment) -> Any:
        from tuner.local.iam import IamTwin, Scope

        twin = IamTwin(Scope(self.region, ACCOUNT), self.session.client("iam"), mode=self.iam_mode,
                       events_client=self.session.client("events"))
        sfn = self.session.client("stepfunctions")
        machine = sfn.describe_state_machine(stateMachineArn=deployment.state_machine_arn)
        twin.register_state_machine(machine["stateMachineArn"], machine["roleArn"], json.loads(machine["definition"]))
        return twin.install()

    def _offline_user(self, deployment: Deployment) -> None:
        """moto's default credentials sign as the IAM user ``OFFLINE_USER``: it gets what a tuner
        user gets on AWS, the stack's user policy and an AMT user's permissions (``AMT_USER_POLICY``),
        so the client's calls through the front door pass as a permitted user's would."""
        iam = self.session.client("iam")
        try:
            iam.create_user(UserName=OFFLINE_USER)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        policy = deployment.outputs.get(constants.OUTPUT_USER_POLICY_ARN)
        if policy:
            iam.attach_user_policy(UserName=OFFLINE_USER, PolicyArn=policy)
        iam.put_user_policy(UserName=OFFLINE_USER, PolicyName="TuneWithSageMaker",
                            PolicyDocument=json.dumps(AMT_USER_POLICY))

    def usage(self) -> Any:
        """What the tuner's own functions consumed so far (``tuner.core.cost.Usage``; a copy)."""
        import copy

        return copy.deepcopy(self.meter.usage)

    def iam_denials(self) -> list[Any]:
        """Every call of a tuner Lambda or the state machine its role refused (``tuner.local.iam``)."""
        twin = getattr(self, "iam", None)
        return list(twin.denials) if twin is not None else []

    def iam_principals(self) -> dict[str, str]:
        """Every principal the twin evaluates: tuner function name (or "state machine") -> role ARN."""
        from tuner.local.lambda_runtime import tuner_name

        out = {tuner_name(f): f["Role"] for f in self.lam.list_functions()["Functions"]}
        if self.iam.state_machine is not None:
            out[self.iam.state_machine.name] = self.iam.state_machine.role_arn
        return out

    def iam_record(self) -> dict[str, Any]:
        """What the twin saw: the calls' IAM requests by principal, denials, unmodelled calls."""
        exercised: dict[str, list[list[Any]]] = {}
        for principal, access in sorted(self.iam.exercised, key=lambda pa: (pa[0].name, pa[1].action, pa[1].resource)):
            exercised.setdefault(principal.name, []).append([access.action, access.resource, dict(access.context)])
        return {
            "calls": self.iam.calls,
            "principals": self.iam_principals(),
            "exercised": exercised,
            "denials": sorted({str(d) for d in self.iam.denials}),
            "unmodelled": sorted({f"{p.name}: {what}" for p, what in self.iam.unmodelled}),
        }

    def _deployed(self) -> Deployment:
        if self.deployment is None:
            raise RuntimeError("enter the LocalTuner first (with LocalTuner(...) as lt:)")
        return self.deployment

    def execution_arn(self, name: str) -> str:
        return arns.execution_arn(self._deployed().state_machine_arn, name)

    def advance_clock(self, seconds: float) -> None:
        """Move the tuner's clock (every in-process Lambda's) ``seconds`` ahead of the system's."""
        from datetime import timedelta

        from tuner import wiring
        from tuner.service.ports import system_clock

        self._clock_offset += seconds
        offset = timedelta(seconds=self._clock_offset)
        wiring.set_clock(lambda: system_clock() + offset)

    def reset_clock(self) -> None:
        """Back to the system's clock."""
        from tuner import wiring

        self._clock_offset = 0.0
        wiring.set_clock(None)

    def sweep(self) -> Any:
        """Invoke the sweeper Lambda, as its schedule rule does on AWS."""
        fn = self._deployed().outputs.get(constants.OUTPUT_SWEEPER)
        if not fn:
            return None
        r = self.lam.invoke(FunctionName=fn, Payload=b"{}")
        return json.loads(r["Payload"].read() or b"null")

    def wait(
        self,
        name: str,
        *,
        timeout: float = 3600.0,
        poll: float = 0.5,
        progress: Callable[[dict[str, Any]], None] | None = None,
        sweeps: bool = True,
        interrupted: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """Wait for the execution to end; returns the final describe response. The sweeper runs
        every ``sweep_interval`` seconds meanwhile, as its schedule would (``sweeps=False``: never,
        so that only the laps and the training events act). An execution that does not exist yet
        is waited for up to ``START_GRACE`` seconds (a retune names its job when it takes the
        family's lock, a moment before ``StartExecution``). ``TimeoutError`` after ``timeout`` s;
        ``KeyboardInterrupt`` once ``interrupted()`` is true (checked between polls; the CLI's
        SIGINT handler sets it). Either leaves the job running: ``stop_and_wait`` ends it."""
        arn = self.execution_arn(name)
        deadline = time.monotonic() + timeout
        next_sweep = time.monotonic() + self.sweep_interval
        started_by = time.monotonic() + START_GRACE
        while True:
            try:
                status = self.sfn.describe_execution(executionArn=arn)["status"]
            except self.sfn.exceptions.ExecutionDoesNotExist:
                if time.monotonic() > min(started_by, deadline):
                    raise
                time.sleep(poll)
                continue
            if progress is not None:
                try:
                    progress(self.service.describe(name))
                except Exception:
                    pass
            if status != "RUNNING":
                break
            if interrupted is not None and interrupted():
                raise KeyboardInterrupt(f"stopped waiting for tuning job {name}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"tuning job {name} still running after {timeout:.0f} s")
            if sweeps and time.monotonic() >= next_sweep:
                self.sweep()
                next_sweep = time.monotonic() + self.sweep_interval
            time.sleep(poll)
        self.sagemaker.wait_idle(30)
        return self.describe(name)

    def describe(self, name: str) -> dict[str, Any]:
        return self.service.describe(name)

    def list_training_jobs(self, name: str, **kwargs: Any) -> dict[str, Any]:
        return self.service.list_training_jobs(name, **kwargs)

    def all_training_jobs(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """Every page of ListTrainingJobsForHyperParameterTuningJob, as one response."""
        out: list[dict[str, Any]] = []
        token = None
        while True:
            extra: dict[str, Any] = {"NextToken": token} if token else {}
            page = self.list_training_jobs(name, MaxResults=100, **kwargs, **extra)
            out.extend(page["TrainingJobSummaries"])
            token = page.get("NextToken")
            if not token:
                return {"TrainingJobSummaries": out}

    def stop(self, name: str) -> None:
        self.service.stop(name)

    def stop_and_wait(
        self,
        name: str,
        *,
        timeout: float = STOP_WAIT,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Stop the tuning job (StopHyperParameterTuningJob: Stopping, its running training jobs
        stopped) and wait until it has ended; returns its describe response. A job that has ended
        already is only described. ``TimeoutError`` when it has not ended after ``timeout`` s."""
        try:
            self.stop(name)
        except ValidationError:  # ended meanwhile (or never started): nothing to stop
            pass
        return self.wait(name, timeout=timeout, progress=progress)

    def log_path(self, training_job: str) -> Path:
        """The file that holds ``training_job``'s output (present once the job printed a line)."""
        return self.training_logs / f"{training_job}.log"

    def _stop_running_jobs(self) -> None:
        """Stop every tuning job whose execution still runs and wait for them (``STOP_WAIT`` s in
        all): otherwise their Lambdas would go on after the stand-in and moto are gone (before, the
        stop of a training job then reached moto itself: "stop_training_job has not been implemented")."""
        deployment = self.deployment
        if deployment is None or self._mock is None:
            return
        try:
            running = self.sfn.list_executions(
                stateMachineArn=deployment.state_machine_arn, statusFilter="RUNNING")["executions"]
        except Exception:  # leaving must not fail: the deployment goes away regardless
            return
        deadline = time.monotonic() + STOP_WAIT
        for e in running:
            try:
                self.stop_and_wait(e["name"], timeout=max(1.0, deadline - time.monotonic()))
            except Exception:
                pass

    def execution(self, name: str) -> dict[str, Any]:
        return self.sfn.describe_execution(executionArn=self.execution_arn(name))

    def history(self, name: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn(name), "maxResults": 1000}
        while True:
            r = self.sfn.get_execution_history(**kwargs)
            events.extend(r["events"])
            if not r.get("nextToken"):
                return events
            kwargs["nextToken"] = r["nextToken"]

    @property
    def account(self) -> str:
        return ACCOUNT

    def is_terminal(self, name: str) -> bool:
        return self.describe(name)["HyperParameterTuningJobStatus"] in TERMINAL_JOB
