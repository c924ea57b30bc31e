"""Tuning-job analytics: one row per training job, the SageMaker SDK's columns.

    from tuner.analytics import TuningJobAnalytics

    a = TuningJobAnalytics("my-job", client)        # client: a TunerClient (or any SageMaker client)
    df = a.dataframe()                               # pandas.DataFrame
    a.export_csv("jobs.csv")

Columns, as ``sagemaker.HyperparameterTuningJobAnalytics(...).dataframe()`` has them: one per tuned
hyperparameter (numbers as floats, categorical values as strings), ``TrainingJobName``,
``TrainingJobStatus``, ``FinalObjectiveValue``, ``TrainingStartTime``, ``TrainingEndTime``,
``TrainingElapsedTimeSeconds`` and, for a multi-definition job, ``TrainingJobDefinitionName``.

``rows()`` is the same table as plain dicts (no pandas); pandas is imported only by
``dataframe()``, never on the Lambda path.

Beyond SageMaker's shapes, the tuner's store keeps what Describe and ListTrainingJobs have no member
for: why the tuning job completed (``TuningJobCompletionReason``) and, per training job, its
intermediate objective series and what stopped it (early stopping, Hyperband, a completion
criterion, ``StopHyperParameterTuningJob``). ``details(source, name)`` reads them from anything
that has the tuner's service (a ``TunerClient``, a ``LocalTuner``); a plain SageMaker client has
none. ``TuningJobAnalytics.completion_reason()`` and ``.details()`` give them per job, and
``.costs()`` / ``.rows_with_cost()`` each training job's cost (``CostUSD``, docs/cost.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_COLUMNS = (
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
)


#: The tuner's column beside the SDK's (``tuner analytics``): each training job's cost in USD.
COST_COLUMN = "CostUSD"


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def row(summary: Mapping[str, Any], *, multi_definition: bool = False) -> dict[str, Any]:
    """One ``HyperParameterTrainingJobSummary`` as a table row."""
    out: dict[str, Any] = {k: _number(v) for k, v in (summary.get("TunedHyperParameters") or {}).items()}
    out["TrainingJobName"] = summary["TrainingJobName"]
    out["TrainingJobStatus"] = summary["TrainingJobStatus"]
    out["FinalObjectiveValue"] = (summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get(
        "Value"
    )
    start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
    out["TrainingStartTime"] = start
    out["TrainingEndTime"] = end
    out["TrainingElapsedTimeSeconds"] = (end - start).total_seconds() if start and end else None
    if multi_definition:
        out["TrainingJobDefinitionName"] = summary.get("TrainingJobDefinitionName")
    return out


def rows(summaries: Iterable[Mapping[str, Any]], *, multi_definition: bool = False) -> list[dict[str, Any]]:
    return [row(s, multi_definition=multi_definition) for s in summaries]


def to_dataframe(summaries: Iterable[Mapping[str, Any]], *, multi_definition: bool = False) -> Any:
    """A pandas DataFrame of the summaries (hyperparameter columns first, in name order)."""
    import pandas as pd

    table = rows(summaries, multi_definition=multi_definition)
    hps = sorted({k for r in table for k in r} - set(BASE_COLUMNS) - {"TrainingJobDefinitionName"})
    columns = [*hps, *BASE_COLUMNS] + (["TrainingJobDefinitionName"] if multi_definition else [])
    return pd.DataFrame(table, columns=columns)


def fetch(client: Any, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(describe response, every training-job summary) of a tuning job, through any SageMaker client."""
    describe = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    summaries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100}
    while True:
        page = client.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
        summaries.extend(page["TrainingJobSummaries"])
        if not page.get("NextToken"):
            return describe, summaries
        kwargs["NextToken"] = page["NextToken"]


# ---- beyond the SageMaker shapes: the tuner's store ----------------------------------------------
# The monitor's stop reasons name the step it judged: "EarlyStopping: value 1.2 at step 4 is worse
# than the median 0.9" (service.monitor), "Hyperband: not in the top 2 of 6 at rung 3" or
# "Hyperband: reached MaxResource 10" (core.strategies.hyperband.asha_decision). A rung is a number
# of objective values, as a step is.
_DECIDED_AT = re.compile(r"\bat (?:step|rung) (\d+)\b|\breached MaxResource (\d+)\b")


def _stoppers() -> tuple[str, str, str]:
    """(EarlyStopping, Hyperband, StopTuningJob): the service's names (imported when needed)."""
    from tuner.service.lifecycle import STOP_TUNING_JOB
    from tuner.service.monitor import EARLY_STOPPING, HYPERBAND

    return EARLY_STOPPING, HYPERBAND, STOP_TUNING_JOB


@dataclass(frozen=True)
class Progress:
    """One training job's intermediate objective values and what stopped it.

    ``series``: the objective's values in the order the job logged them (one per epoch when the
    script logs once per epoch; the store keeps at most ``core.metrics.MAX_SERIES`` of them, the
    last always). ``stopped_by``: the trial's stop reason as the service wrote it, or None.
    ``rung``: Hyperband's highest rung the job passed (0: none; the rung a job failed is in
    ``stopped_by``: ``decided_at``). ``started``: False for a trial the tuning job ended before its
    training job started.
    """

    series: tuple[float, ...] = ()
    stopped_by: str | None = None
    rung: int = 0
    started: bool = True

    @property
    def stopper(self) -> str | None:
        """``EarlyStopping``, ``Hyperband``, ``StopTuningJob`` or the completion reason that ended
        the tuning job while this one ran; None when nothing asked it to stop."""
        if not self.stopped_by:
            return None
        head = self.stopped_by.split(":", 1)[0].strip()
        return head if head in _stoppers()[:2] else self.stopped_by

    @property
    def decided_at(self) -> int | None:
        """The step (1-based objective value) at which early stopping or Hyperband judged the job
        and decided to stop it; None for any other stop or when the reason names no step."""
        early, hyperband, _ = _stoppers()
        if self.stopped_by is None or self.stopper not in (early, hyperband):
            return None
        m = _DECIDED_AT.search(self.stopped_by)
        return int(m.group(1) or m.group(2)) if m else None

    def note(self, status: str) -> str:
        """How the job ended early, for a table cell ("" when it ran its course)."""
        from tuner.core.metrics import MAX_SERIES

        early, hyperband, stop_job = _stoppers()
        if status == "Stopped" and not self.started:
            return "never started (the tuning job ended first)"
        who, at, last = self.stopper, self.decided_at, len(self.series)
        # a longer series is thinned to MAX_SERIES values: the job ran at least that many epochs
        reached = f"last epoch {last}{'+' if last >= MAX_SERIES else ''}" if last else "no objective value yet"
        if who is None:
            return f"stopped ({reached})" if status == "Stopped" else ""
        if who == early:
            what = f"early stopping at epoch {at}" if at else "early stopping"
        elif who == hyperband:
            at_max = self.stopped_by is not None and "MaxResource" in self.stopped_by
            what = f"Hyperband at {'MaxResource' if at_max else 'rung'} {at}" if at else "Hyperband"
        elif who == stop_job:
            what = "StopHyperParameterTuningJob"
        else:
            what = f"the tuning job's end ({who})"
        if status == "Stopped":
            return f"stopped by {what} ({reached})"
        ended = "it completed first" if status == "Completed" else f"it ended {status}"
        return f"{what} asked to stop it; {ended} ({reached})"


def ending(status: str, progress: Progress | None) -> str:
    """How a training job ended: ``EarlyStopping`` or ``Hyperband`` when they stopped it,
    ``Stopped`` when anything else did (the tuning job ended or was stopped), else its status
    (``Completed``, ``Failed``, ``InProgress``). A job that completed before a stop request took
    effect is ``Completed``."""
    if status != "Stopped":
        return status
    who = progress.stopper if progress else None
    return who if who is not None and who in _stoppers()[:2] else "Stopped"


@dataclass(frozen=True)
class TunerDetails:
    """What the tuner's store adds to Describe and ListTrainingJobs: why the tuning job completed,
    each training job's ``Progress`` and cost (by training job name), and the job's budget."""

    completion_reason: str | None = None
    progress: Mapping[str, Progress] = field(default_factory=dict)
    #: USD of each recorded training job (``Queries.training_costs``; {} when unpriced)
    costs: Mapping[str, float] = field(default_factory=dict)
    #: a budgeted job's ``TuningJobSpend`` (``MaxSpendUSD``, ``SpentUSD``, ...); None without a budget
    spend: Mapping[str, Any] | None = None


def progress_of(trials: Sequence[Any]) -> dict[str, Progress]:
    """Training job name -> ``Progress`` of trial records (``core.records.TrialRecord``)."""
    return {
        t.training_job_name: Progress(
            tuple(float(v) for v in t.series), t.stopped_by, int(t.rung or 0), started=bool(t.started)
        )
        for t in trials
    }


def details(source: Any, name: str) -> TunerDetails | None:
    """The tuner's details of a tuning job, read through ``source.service`` (a ``TunerClient`` or a
    ``LocalTuner``); None when ``source`` is not the tuner's (a boto3 SageMaker client)."""
    service = getattr(source, "service", None)
    queries = getattr(service, "queries", None)
    if queries is None:
        return None
    job, trials = queries.job(name)
    return TunerDetails(
        job.completion_reason, progress_of(trials), queries.training_costs(name),
        queries.extensions(name).get("TuningJobSpend"),
    )


def is_multi_definition(describe: Mapping[str, Any]) -> bool:
    return bool(describe.get("TrainingJobDefinitions"))


class TuningJobAnalytics:
    """Analytics of one tuning job (fetched once; ``refresh()`` fetches again)."""

    def __init__(self, name: str, client: Any = None) -> None:
        if client is None:
            from tuner.client import TunerClient

            client = TunerClient()
        self.name = name
        self.client = client
        self._data: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
        self._details: TunerDetails | None = None

    def refresh(self) -> TuningJobAnalytics:
        self._data = fetch(self.client, self.name)
        self._details = None
        return self

    def details(self) -> TunerDetails | None:
        """The tuner's details (completion reason, series, stops); None from a non-tuner client."""
        if self._details is None:
            self._details = details(self.client, self.name)
        return self._details

    def completion_reason(self) -> str | None:
        """Which ``TuningJobCompletionCriteria`` member (or ``MaxRuntimeInSeconds``) ended the job."""
        found = self.details()
        return found.completion_reason if found else None

    def _fetched(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if self._data is None:
            self._data = fetch(self.client, self.name)
        return self._data

    def description(self) -> dict[str, Any]:
        return self._fetched()[0]

    def training_job_summaries(self) -> list[dict[str, Any]]:
        return self._fetched()[1]

    def rows(self) -> list[dict[str, Any]]:
        return rows(self.training_job_summaries(), multi_definition=is_multi_definition(self.description()))

    def dataframe(self) -> Any:
        return to_dataframe(
            self.training_job_summaries(), multi_definition=is_multi_definition(self.description())
        )

    def costs(self) -> dict[str, float]:
        """USD per training job (``Queries.training_costs``: billable seconds x the price table, the
        tuner's overhead included), by name; {} from a non-tuner client or an unpriced job."""
        queries = getattr(getattr(self.client, "service", None), "queries", None)
        return dict(queries.training_costs(self.name)) if queries is not None else {}

    def rows_with_cost(self) -> list[dict[str, Any]]:
        """``rows()`` with ``CostUSD`` (None for a job not priced: running, or no price known)."""
        costs = self.costs()
        return [{**r, COST_COLUMN: costs.get(r["TrainingJobName"])} for r in self.rows()]

    def model_pick(self) -> dict[str, Any] | None:
        """The Bayesian model's pick among the scored training jobs: the one with the best
        posterior mean of the noise-free objective (``Optimizer.pick``; the GP fitted to every
        scored job as the Bayesian strategy fits it), which on a noisy objective may differ from the
        best observed (a lucky draw). AMT's describe keeps reporting the best observed.
        ``{TrainingJobName, TunedHyperParameters, Value, NoiseShare, BestObservedTrainingJobName}``;
        None for a multi-definition job, a space the optimizer cannot rebuild, or fewer than two
        scored jobs."""
        from tuner.core.optimizer import Optimizer
        from tuner.errors import ValidationError

        describe, summaries = self._fetched()
        if is_multi_definition(describe):
            return None
        config = describe.get("HyperParameterTuningJobConfig") or {}
        objective = config.get("HyperParameterTuningJobObjective") or {}
        try:
            opt = Optimizer(config.get("ParameterRanges") or {}, objective.get("Type", "Maximize"), "Bayesian",
                            random_seed=int(config.get("RandomSeed") or 0))
        except ValidationError:
            return None
        told: list[Mapping[str, Any]] = []
        for s in summaries:
            value = (s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
            if value is None:
                continue
            try:
                opt.tell(s.get("TunedHyperParameters") or {}, float(value))
            except ValidationError:
                continue  # not a configuration of today's ranges
            told.append(s)
        chosen = opt.pick()
        best = opt.best
        if chosen is None or best is None:
            return None
        params, value, share = chosen
        match = next(s for s, o in zip(told, opt.observations, strict=True) if o.params == params and o.value == value)
        observed = next(s for s, o in zip(told, opt.observations, strict=True) if o.params == best[0])
        return {
            "TrainingJobName": match["TrainingJobName"],
            "TunedHyperParameters": dict(params),
            "Value": value,
            "NoiseShare": round(share, 4),
            "BestObservedTrainingJobName": observed["TrainingJobName"],
        }

    def export_csv(self, path: Path | str) -> Path:
        """Write the table as CSV (times as ISO-8601); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dataframe().to_csv(path, index=False)
        return path


__all__ = [
    "BASE_COLUMNS",
    "COST_COLUMN",
    "Progress",
    "TunerDetails",
    "TuningJobAnalytics",
    "details",
    "ending",
    "fetch",
    "progress_of",
    "row",
    "rows",
    "to_dataframe",
]
