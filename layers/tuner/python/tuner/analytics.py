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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

    def refresh(self) -> TuningJobAnalytics:
        self._data = fetch(self.client, self.name)
        return self

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

    def export_csv(self, path: Path | str) -> Path:
        """Write the table as CSV (times as ISO-8601); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dataframe().to_csv(path, index=False)
        return path


__all__ = ["BASE_COLUMNS", "TuningJobAnalytics", "fetch", "row", "rows", "to_dataframe"]
