"""Tuning families: register / list / describe / delete, retune, and the reaction to a finished job.

``retune(family, trigger, overrides)`` builds the next request (``tuner.core.families.next_request``)
from the family's terminal jobs and starts the tuner's state machine with it (execution name = the
tuning job name), holding the family's lock (``tuner.aws.families``) so that one family never runs
two retunes at once. The lock is checked against the tuning job's status in its own job item, not
against an event: a lost event cannot wedge a family.

``on_tuning_job_state_change(detail)`` handles the tuner's "Hyperparameter Tuning Job State Change"
event for a family's job: it frees the lock early, deploys the new best model when the family has
``AutoDeploy`` and the job beats the family's previous best by the margin, and starts a retune that
was deferred while the job ran.

Dollar limits (``Budget.MaxSpendUSDPerRun`` / ``MaxSpendUSDPerMonth``, docs/cost.md): each retune
sums what the family's runs created this calendar month (UTC) spent (``Queries.spent``, from their
trials' billable seconds and the price table) and gives the new run what is left as its
``tuner:MaxSpendUSD`` (``core.families.run_budget``). An ended run's spend is final: the job-ended
event keeps it on the family item (``FamilyStore.record_spend``), so a retune or describe reads the
trials of only the runs without it (the running one, or one whose event has not arrived yet). A
month with nothing left refuses the retune:
``FamilyBudgetSpentError`` to a caller (CLI, API); a scheduled, data or deferred retune is skipped
and logged (an error there would only make EventBridge and Lambda retry it).

``AutoDeploy`` needs permissions a deployment grants only when asked (least privilege): a service
built for a deployment without them refuses such a family when it is registered or retuned, with
how to redeploy (``auto_deploy_refusal``), rather than letting IAM refuse the deployment unseen
when the retune ends.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tuner import constants
from tuner.core import budget
from tuner.core.budget import HARD, budget_of
from tuner.core.cost import PriceTable
from tuner.core.families import (
    SPEND_PER_MONTH,
    SPEND_PER_RUN,
    TERMINAL,
    Family,
    FamilyBudgetSpentError,
    FamilyBusyError,
    FamilyNotFoundError,
    ParentSummary,
    beats,
    bound_overrides,
    family_of,
    job_month,
    month_of,
    next_request,
    parse_family,
    parse_overrides,
    select_parents,
)
from tuner.core.request import MAX_WARM_START_PARENTS, parse_request
from tuner.errors import TuningJobNotFoundError, ValidationError
from tuner.service.deploy import BestModelDeployment
from tuner.service.ports import Clock, FamilyStore, system_clock
from tuner.service.tuning import TuningService

# How long a family's lock may name a tuning job whose execution does not exist yet: the lock is
# taken first, StartExecution follows; a concurrent retune must not take over in between.
START_GRACE_SECONDS = 60.0


def _within_grace(since: str | None, now: datetime) -> bool:
    if not since:
        return False
    try:
        taken = datetime.fromisoformat(since)
    except ValueError:
        return False
    if taken.tzinfo is None:
        taken = taken.replace(tzinfo=UTC)
    return (now - taken).total_seconds() < START_GRACE_SECONDS

log = logging.getLogger(__name__)

RECENT_JOBS = 20  # parents are chosen among the family's latest jobs
TRIGGERS = ("api", "cli", "event", "data", "schedule", "deferred")


def auto_deploy_refusal(name: str) -> ValidationError:
    """The error for family ``name`` with ``AutoDeploy`` on a deployment that does not grant it."""
    return ValidationError(
        f"family {name!r} has AutoDeploy, but this deployment of the tuner does not let its retune "
        "Lambda deploy models (off by default: least privilege; the stack output "
        f"{constants.OUTPUT_RETUNE_AUTO_DEPLOY} is false). Redeploy the stack with it: "
        "npx aws-cdk@2 deploy -c 'tuner:retune={\"autoDeploy\": true}' (keep your dataTriggers and "
        "schedules in the same JSON), or TunerConstruct(..., retune_auto_deploy=True); or register the "
        "family without AutoDeploy and deploy a job's best model with tuner deploy. See docs/retuning.md",
        "AutoDeploy",
    )


class FamilyService:
    """Use cases over the family store, the tuning jobs' store and queries, and the state machine.

    ``deployment``: deploys a family's new best model (``AutoDeploy``); None when the service was
    built without SageMaker hosting. ``auto_deploy_granted``: whether the deployment lets its
    retune Lambda deploy models (the stack's ``RetuneAutoDeploy`` output, the retune Lambda's
    ``TUNER_RETUNE_AUTO_DEPLOY``); without it, families with ``AutoDeploy`` are refused.
    ``clock``: returns an aware UTC datetime.
    """

    def __init__(
        self,
        families: FamilyStore,
        tuning: TuningService,
        *,
        deployment: BestModelDeployment | None = None,
        auto_deploy_granted: bool = False,
        clock: Clock = system_clock,
    ) -> None:
        self.families = families
        self.auto_deploy_granted = auto_deploy_granted
        self.tuning = tuning
        self.store = tuning.store
        self.executions = tuning.ports.executions
        self.deployment = deployment
        self.clock = clock

    # ---- registry -------------------------------------------------------------------------------
    def register(self, spec: Mapping[str, Any], *, replace: bool = False) -> dict[str, Any]:
        family = parse_family(spec)
        self._check_auto_deploy(family)
        if not self.families.put(family.name, family.to_json(), replace=replace):
            raise ValidationError(
                f"a family named {family.name!r} exists already; delete it first or register with replace",
                "FamilyName",
            )
        return self.describe(family.name)

    def _check_auto_deploy(self, family: Family) -> None:
        if family.auto_deploy is not None and not self.auto_deploy_granted:
            raise auto_deploy_refusal(family.name)

    def list_families(self) -> list[dict[str, Any]]:
        return [self._summary(item) for item in self.families.list_all()]

    def describe(self, name: str) -> dict[str, Any]:
        item = self._item(name)
        out = self._summary(item)
        out["Family"] = item["spec"]
        out["TuningJobs"] = list(item["jobs"])
        if item["best"]:
            out["DeployedBest"] = item["best"]
        if item["pending"]:
            out["PendingRetune"] = item["pending"]
        family = parse_family(item["spec"])
        if family.spend:
            now = self.clock()
            out["Spend"] = {
                "Month": month_of(now),
                "SpentThisMonthUSD": round(self._spent_this_month(family, item, now), 6),
                **family.spend,
            }
        return out

    def delete(self, name: str) -> None:
        """Forget the family (its tuning jobs stay). Refused while one of its retunes runs."""
        item = self._item(name)
        if item["running"] and self._status(item["running"], item["running_since"]) not in TERMINAL:
            raise FamilyBusyError(
                f"family {name!r} is running tuning job {item['running']!r}; stop it or wait, then delete"
            )
        self.families.delete(name)

    def _item(self, name: str) -> dict[str, Any]:
        item = self.families.get(name)
        if item is None:
            raise FamilyNotFoundError(
                f"no tuning family named {name!r}; register it first (tuner family register)"
            )
        return item

    def _summary(self, item: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FamilyName": item["name"],
            "CreationTime": item["created"],
            "LastModifiedTime": item["last_modified"],
            "NumberOfTuningJobs": len(item["jobs"]),
        }
        if item["jobs"]:
            out["LatestTuningJob"] = item["jobs"][-1]
        if item["running"]:
            out["RunningTuningJob"] = {
                "HyperParameterTuningJobName": item["running"],
                "HyperParameterTuningJobStatus": self._status(item["running"], item["running_since"]),
                "Since": item["running_since"],
            }
        return out

    # ---- retune ---------------------------------------------------------------------------------
    def retune(
        self,
        name: str,
        trigger: str = "api",
        overrides: Mapping[str, Any] | None = None,
        *,
        defer_if_busy: bool = False,
    ) -> dict[str, Any]:
        """Start the family's next tuning job; returns ``{FamilyName, HyperParameterTuningJobName,
        ExecutionArn, Parents, Trigger}``. When a retune of the family still runs: raise
        ``FamilyBusyError``, or with ``defer_if_busy`` record the request and return
        ``{..., "Deferred": True, "RunningTuningJob": ...}`` (it starts when that job ends)."""
        checked = parse_overrides(overrides)
        for _ in range(3):
            item = self._item(name)
            family = parse_family(item["spec"])
            bound_overrides(family, checked)  # refused now, not when a deferred retune starts
            self._check_auto_deploy(family)  # registered before the deployment withdrew the grant
            running = item["running"]
            if running:
                status = self._status(running, item["running_since"])
                if status not in TERMINAL:
                    return self._busy(name, running, status, trigger, checked, defer_if_busy)
            now = self.clock()
            spent = self._spent_this_month(family, item, now)
            request = next_request(family, now, self._candidates(family, item["jobs"]), checked, spent)
            self._check_month_pays_a_trial(family, request, now)
            job = request["HyperParameterTuningJobName"]
            if job in item["jobs"]:
                raise FamilyBusyError(
                    f"family {name!r} started {job!r} this second already; retry in a second"
                )
            if not self.families.acquire(name, job, previous=running, jobs=item["jobs"]):
                continue  # another retune moved first: read again
            try:
                execution_arn = self.executions.start(job, request)
            except BaseException:  # whatever stopped the start, the lock must not name a job that never ran
                self.families.release(name, job, forget=True)
                raise
            parents = [
                p["HyperParameterTuningJobName"]
                for p in (request.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs", [])
            ]
            log.info("family %s: started %s (trigger %s, parents %s)", name, job, trigger, parents)
            return {
                "FamilyName": name,
                "HyperParameterTuningJobName": job,
                "ExecutionArn": execution_arn,
                "Parents": parents,
                "Trigger": trigger,
            }
        raise FamilyBusyError(f"family {name!r} is being retuned by someone else right now; retry")

    def _busy(
        self, name: str, running: str, status: str, trigger: str, overrides: Mapping[str, Any], defer: bool
    ) -> dict[str, Any]:
        if not defer:
            raise FamilyBusyError(
                f"family {name!r} is running tuning job {running!r} ({status}); one retune at a time: "
                "wait for it to end (or stop it)"
            )
        self.families.set_pending(name, {"Trigger": trigger, "Overrides": dict(overrides)})
        log.info("family %s: %s still %s; retune (%s) deferred", name, running, status, trigger)
        return {"FamilyName": name, "Deferred": True, "RunningTuningJob": running, "Trigger": trigger}

    def _status(self, job: str, since: str | None = None) -> str:
        """The tuning job's status from its job item; before the state machine wrote it, from the
        execution (RUNNING -> InProgress; ended -> Failed: it will never run). A missing execution
        is "starting" for ``START_GRACE_SECONDS`` after the lock was taken at ``since`` (the lock is
        taken before StartExecution), then Failed: its start never happened."""
        record = self.store.get_job(job)
        if record is not None:
            return str(record.status)
        execution = self.executions.describe(job)
        if execution is None:  # not started yet, or the start never happened
            return "InProgress" if _within_grace(since, self.clock()) else "Failed"
        return "InProgress" if execution.get("status") == "RUNNING" else "Failed"

    def _spent_this_month(self, family: Family, item: Mapping[str, Any], now: datetime) -> float:
        """USD spent by the family's runs created in ``now``'s month (UTC); 0 without a monthly limit.
        A run is dated by its name's timestamp (``family_job_name``), else by its record. An ended
        run's final spend comes from the family item when its event kept it there; the others' from
        their trials."""
        if SPEND_PER_MONTH not in family.spend:
            return 0.0
        month, total = month_of(now), 0.0
        kept = item.get("spent") or {}
        for name in item["jobs"]:
            final = kept.get(name)
            if final is not None and final.get("Month") == month:
                total += float(final["USD"])
                continue
            created = self._run_month(name)
            if created != month:
                continue
            try:
                total += self.tuning.queries.spent(name)
            except TuningJobNotFoundError:
                continue  # its start never happened: it spent nothing
            except ValidationError as err:
                raise ValidationError(
                    f"cannot sum the month's spend of family {family.name!r}: tuning job {name}: {err}",
                    f"Budget.{SPEND_PER_MONTH}",
                ) from None
        return total

    def _run_month(self, job: str) -> str | None:
        """The month a family run counts in: its name's timestamp, else its record's creation."""
        created = job_month(job)
        if created is None:
            record = self.store.get_job(job)
            created = None if record is None else month_of(datetime.fromisoformat(record.created))
        return created

    def _keep_spend(self, name: str, family: Family, job: str) -> None:
        """Keep ended run ``job``'s final spend on the family item (monthly limits only; runs of the
        current month only: no other month is summed). A spend that cannot be priced is left to be
        read (and refused with its reason) when it is summed."""
        if SPEND_PER_MONTH not in family.spend:
            return
        month = self._run_month(job)
        if month is None or month != month_of(self.clock()):
            return
        try:
            usd = self.tuning.queries.spent(job)
        except (TuningJobNotFoundError, ValidationError) as err:
            log.warning("family %s: spend of %s not kept: %s", name, job, err)
            return
        self.families.record_spend(name, job, usd, month)

    def _check_month_pays_a_trial(self, family: Family, request: Mapping[str, Any], now: datetime) -> None:
        """Under ``tuner:SpendPolicy=hard`` every trial reserves its worst case: when what the month
        has left (the run's budget) cannot pay one, the month is spent for this family (else the
        create step would refuse the run). Priced in the region the state machine runs in (where the
        create step prices it); where that is not known, the create step alone checks."""
        wanted = budget_of(request.get("Tags"))
        if wanted is None or wanted.policy != HARD or SPEND_PER_MONTH not in family.spend:
            return
        if wanted.max_usd >= family.spend.get(SPEND_PER_RUN, math.inf):
            return  # the run's own limit binds: a configuration the create step judges
        region = self.executions.region
        if region is None:
            return
        try:
            budget.check(wanted, budget.prices_for(parse_request(request).definitions, PriceTable.load(), region))
        except ValidationError as err:
            raise FamilyBudgetSpentError(
                f"family {family.name!r}: the ${wanted.max_usd:g} its {SPEND_PER_MONTH} has left in "
                f"{month_of(now)} (UTC) cannot pay one trial's worst case ({err}); no retune starts before "
                f"the next month; raise Budget.{SPEND_PER_MONTH} to retune now"
            ) from None

    def _candidates(self, family: Family, jobs: list[str]) -> list[ParentSummary]:
        """The family's recent terminal jobs, with the best result of those that can be parents."""
        summaries = []
        for name in jobs[-RECENT_JOBS:]:
            record = self.store.get_job(name)
            if record is not None:
                summaries.append(ParentSummary(name=name, status=record.status, created=record.created))
        out = []
        for p in select_parents(summaries, MAX_WARM_START_PARENTS):
            best = self.tuning.describe(p.name).get("BestTrainingJob") or {}
            metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
            out.append(
                ParentSummary(
                    p.name, p.status, p.created, best.get("TunedHyperParameters"), metric.get("Value")
                )
            )
        chosen = {p.name for p in out}
        return out + [s for s in summaries if s.name not in chosen]

    # ---- a family job ended -----------------------------------------------------------------------
    def on_tuning_job_state_change(self, detail: Mapping[str, Any]) -> dict[str, Any]:
        """React to the tuner's state-change event (detail = DescribeHyperParameterTuningJob).

        The event only says which job to look at: its status and family come from the store, so a
        forged, stale or duplicated event cannot release a lock or deploy a model early."""
        job = detail.get("HyperParameterTuningJobName")
        record = self.store.get_job(str(job)) if isinstance(job, str) and job else None
        status = record.status if record is not None else None
        name = family_of(record.request) if record is not None else None
        out: dict[str, Any] = {"HyperParameterTuningJobName": job, "FamilyName": name}
        if name is None or status not in TERMINAL:
            return out
        item = self.families.get(name)
        if item is None:
            return out
        if item["running"] == job:
            out["Released"] = self.families.release(name, job)
        family = parse_family(item["spec"])
        self._keep_spend(name, family, str(job))
        if status == "Completed" and family.auto_deploy is not None:
            out["Deploy"] = self.deploy_if_better(name, str(job))
        pending = item["pending"]
        if pending:
            out["Retune"] = self.retune_unattended(name, "deferred", pending.get("Overrides"))
        return out

    def retune_unattended(self, name: str, trigger: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """A retune nobody waits on (a schedule, new data, a deferred request, an event): deferred
        while a run is busy; skipped, logged and its pending request dropped when the family's month
        is spent (raising would only make EventBridge and Lambda retry it)."""
        try:
            return self.retune(name, trigger, overrides, defer_if_busy=True)
        except FamilyBudgetSpentError as err:
            log.warning("family %s: retune (%s) skipped: %s", name, trigger, err)
            self.families.clear_pending(name)
            return {"FamilyName": name, "Skipped": True, "Reason": str(err), "Trigger": trigger}

    def deploy_if_better(self, name: str, job: str) -> dict[str, Any]:
        """Deploy ``job``'s best model to the family's endpoint if it beats the deployed best by the
        margin: CreateModel, CreateEndpointConfig, then UpdateEndpoint (or CreateEndpoint)."""
        item = self._item(name)
        family = parse_family(item["spec"])
        policy = family.auto_deploy
        if policy is None:
            return {"Deployed": False, "Reason": "the family has no AutoDeploy"}
        describe = self.tuning.describe(job)
        best = describe.get("BestTrainingJob")
        metric = (best or {}).get("FinalHyperParameterTuningJobObjectiveMetric")
        if not best or not metric:
            return {"Deployed": False, "Reason": f"{job} has no best training job"}
        value = float(metric["Value"])
        previous = item["best"]
        if not beats(
            value, previous and previous.get("Value"), family.maximize, policy.margin, policy.margin_type
        ):
            return {
                "Deployed": False,
                "Reason": f"{value} does not beat the deployed {previous['Value']} "
                f"by the margin {policy.margin} ({policy.margin_type})",
            }
        if self.deployment is None:
            raise ValidationError("this tuner service has no SageMaker hosting for AutoDeploy", "AutoDeploy")
        if not self.auto_deploy_granted:  # IAM would refuse: say why, and how to fix it
            reason = str(auto_deploy_refusal(name))
            log.error("family %s: %s not deployed: %s", name, job, reason)
            return {"Deployed": False, "Reason": reason}
        deployed = self.deployment.deploy(
            job,
            policy.endpoint_name,
            instance_type=policy.instance_type,
            initial_instance_count=policy.initial_instance_count,
            role_arn=policy.execution_role_arn,
            tags=[{"Key": "tuner:family", "Value": name}],
            best=best,
        )
        record = {
            "HyperParameterTuningJobName": job,
            "TrainingJobName": best["TrainingJobName"],
            "Value": value,
            "EndpointName": policy.endpoint_name,
            "EndpointConfigName": deployed["EndpointConfigName"],
            "DeployedAt": self.clock().isoformat(),
        }
        self.families.set_best(name, record, previous=previous)
        log.info(
            "family %s: deployed %s (%s) to %s", name, best["TrainingJobName"], value, policy.endpoint_name
        )
        return {"Deployed": True, **record, "Updated": deployed["Updated"]}

    # ---- events ---------------------------------------------------------------------------------
    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The retune Lambda's events (see ``parse_event``)."""
        kind, name, trigger, overrides = parse_event(event)
        if kind == "state-change":
            return self.on_tuning_job_state_change(event["detail"])
        return self.retune_unattended(name, trigger, overrides)  # type: ignore[arg-type]


def parse_event(event: Mapping[str, Any]) -> tuple[str, str | None, str, dict[str, Any]]:
    """``(kind, family, trigger, overrides)`` of an event the retune Lambda receives:

    * the tuner's "Hyperparameter Tuning Job State Change" event (whole event) -> ``state-change``;
    * a "Retune Requested" event (whole event, ``detail: {Family, Overrides?}``) -> ``retune``;
    * a rule target's input ``{"Family": ..., "Trigger": "data" | "schedule", "Overrides"?: ...}``
      (the data-arrival rule adds ``Bucket``/``Key``) -> ``retune``."""
    if not isinstance(event, Mapping):
        raise ValidationError("the retune Lambda takes a JSON object")
    if event.get("detail-type") == constants.TUNING_STATE_CHANGE:
        return "state-change", None, "event", {}
    if event.get("detail-type") == constants.RETUNE_REQUESTED:
        detail = event.get("detail") or {}
        family = detail.get("Family")
        overrides = detail.get("Overrides")
        trigger = "event"
    else:
        family = event.get("Family")
        overrides = event.get("Overrides")
        trigger = str(event.get("Trigger") or "api")
    if not isinstance(family, str) or not family:
        raise ValidationError('name the family to retune: {"Family": "<name>"}', "Family")
    return "retune", family, trigger, parse_overrides(overrides)
