"""What a script-mode training script sees in the local SageMaker stand-in (its "container"),
and what SageMaker makes of the script's output.

Built from a job's ``CreateTrainingJob`` request by the rules of the SageMaker training toolkit,
without AWS calls: the hosts (``algo-1`` ... ``algo-N`` for ``InstanceCount`` N), the
``/opt/ml``-like folder tree of each host, the ``input/config/*.json`` files, the script's command
line and its ``SM_*`` environment. ``tuner.local.training_process`` (the job thread) downloads the
data into the tree and runs the script once per host with them.

The output side: each line is kept with its host (``label``), and the primary host's lines give the
metrics SageMaker reports (``metric_points``: every value with its time, published to CloudWatch
as ``metric_data``; ``final_metric_data``: ``FinalMetricDataList``), parsed with the tuner's own
bounded rule (``tuner.core.metrics.parse_metrics``).
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuner.core.builtins import algorithm_mode
from tuner.core.metrics import parse_metrics
from tuner.local.training_job import _Job
from tuner.service.ports import PRIMARY_HOST

HOST = PRIMARY_HOST
#: CloudWatch namespace and dimension of the algorithm metrics SageMaker publishes (what
#: ``sagemaker.analytics.TrainingJobAnalytics`` reads)
METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
METRICS_DIMENSION = "TrainingJobName"
_UNTHINNED = 1 << 30  # parse_metrics keeps every value of a one-second group
_ML_FOLDERS = ("input/config", "input/data", "model", "output/data", "output/intermediate", "checkpoints")


def _decode_hp(value: Any) -> Any:
    """The training toolkit's rule: a hyperparameter value is JSON if it parses, else a string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _cli_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def hosts(request: Mapping[str, Any]) -> list[str]:
    """The job's hosts: ``algo-1`` ... ``algo-N``, N = ``ResourceConfig.InstanceCount`` (or the sum
    over its ``InstanceGroups``), at least one."""
    resources = request.get("ResourceConfig") or {}
    count = resources.get("InstanceCount")
    if count is None:
        count = sum(int(g.get("InstanceCount") or 0) for g in resources.get("InstanceGroups") or [])
    return [f"algo-{i}" for i in range(1, max(1, int(count or 1)) + 1)]


def label(host: str, kind: str) -> str:
    """How a line of ``host``'s ``kind`` ("stdout"|"stderr") is labelled in the job's lines: the
    primary host's as ``kind`` alone, another host's as ``<host>/<kind>``."""
    return kind if host == HOST else f"{host}/{kind}"


def host_of(line_label: str) -> str:
    """The host of a line's label (see ``label``)."""
    return line_label.split("/", 1)[0] if "/" in line_label else HOST


@dataclass
class HostRun:
    """How one host runs the script: its command line, environment and ``/opt/ml``."""

    host: str
    command: list[str]
    env: dict[str, str]
    ml: Path


def make_tree(job_dir: Path) -> tuple[Path, Path]:
    """A fresh job folder (an old one is removed): returns ``(ml, code)``.

    ``ml`` is ``<job_dir>/opt/ml`` with its ``input/config``, ``input/data``, ``model``,
    ``output/data``, ``output/intermediate`` and ``checkpoints`` folders; ``code`` is
    ``<job_dir>/code``, where the sources are extracted and the script runs.
    """
    if job_dir.exists():
        shutil.rmtree(job_dir, ignore_errors=True)
    ml = job_dir / "opt" / "ml"
    code = job_dir / "code"
    for sub in _ML_FOLDERS:
        (ml / sub).mkdir(parents=True, exist_ok=True)
    code.mkdir(parents=True)
    return ml, code


def host_tree(job_dir: Path, host: str, ml: Path) -> Path:
    """Another host's ``/opt/ml`` (``<job_dir>/hosts/<host>/opt/ml``): its own ``model``,
    ``output`` and ``checkpoints``; ``input/data`` is the primary tree's (``ml``), where the
    channels were downloaded once."""
    host_ml = job_dir / "hosts" / host / "opt" / "ml"
    for sub in _ML_FOLDERS:
        if sub != "input/data":
            (host_ml / sub).mkdir(parents=True, exist_ok=True)
    (host_ml / "input" / "data").symlink_to(ml / "input" / "data", target_is_directory=True)
    return host_ml


@dataclass(frozen=True)
class Script:
    """How one job's script is run: what the ``input/config`` files and ``SM_*`` variables say.

    ``user_hps``: the hyperparameters without the ``sagemaker_*`` ones, as given (strings);
    ``decoded``: the same decoded by ``_decode_hp``; ``args``: ``--key value`` pairs in key order.
    """

    program: str
    submit: str
    user_hps: dict[str, Any]
    decoded: dict[str, Any]
    args: list[str]
    resource_config: dict[str, Any]
    input_data_config: dict[str, Any]

    @property
    def command(self) -> list[str]:
        """The command line as logged (``python <program> <args>``)."""
        return ["python", self.program, *self.args]


def script(request: dict[str, Any], hps: dict[str, Any], program: str, submit: str,
           host: str = HOST) -> Script:
    """The ``Script`` of a request whose hyperparameters are ``hps``, as ``host`` runs it.

    Without a ``submit`` directory the program is the stand-in's emulation of a built-in algorithm,
    which reads its hyperparameters from ``input/config`` as the built-in containers do: no
    command-line arguments.
    """
    user_hps = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}
    decoded = {k: _decode_hp(v) for k, v in user_hps.items()}
    args: list[str] = []
    for key in sorted(decoded) if submit else ():
        args += [f"--{key}", _cli_value(decoded[key])]
    resource_config = {"current_host": host, "current_instance_type":
                       (request.get("ResourceConfig") or {}).get("InstanceType", "local"),
                       "current_group_name": "homogeneousCluster", "hosts": hosts(request),
                       "instance_groups": [], "network_interface_name": "eth0"}
    input_data_config = {
        c["ChannelName"]: {
            "TrainingInputMode": c.get("InputMode") or request["AlgorithmSpecification"]
            .get("TrainingInputMode", "File"),
            "S3DistributionType": c.get("DataSource", {}).get("S3DataSource", {})
            .get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": c.get("RecordWrapperType", "None"),
            **({"ContentType": c["ContentType"]} if c.get("ContentType") else {}),
        } for c in request.get("InputDataConfig") or []}
    return Script(program, submit, user_hps, decoded, args, resource_config, input_data_config)


def write_config(ml: Path, s: Script) -> None:
    """``input/config/{hyperparameters,resourceconfig,inputdataconfig}.json`` under ``ml``."""
    (ml / "input/config/hyperparameters.json").write_text(json.dumps(s.user_hps))
    (ml / "input/config/resourceconfig.json").write_text(json.dumps(s.resource_config))
    (ml / "input/config/inputdataconfig.json").write_text(json.dumps(s.input_data_config))


def environment(job: _Job, ml: Path, s: Script, channel_dirs: dict[str, str]) -> dict[str, str]:
    """The script's environment: ours, then the ``SM_*`` variables, then the request's Environment."""
    hps = s.decoded
    host, all_hosts = s.resource_config["current_host"], s.resource_config["hosts"]
    master = all_hosts[0]  # the training toolkit's master: the first host
    num_cpus = os.cpu_count() or 1
    module = s.program[:-3] if s.program.endswith(".py") else s.program
    sm: dict[str, Any] = {
        "SM_MODEL_DIR": str(ml / "model"),
        "SM_INPUT_DIR": str(ml / "input"),
        "SM_INPUT_CONFIG_DIR": str(ml / "input/config"),
        "SM_OUTPUT_DIR": str(ml / "output"),
        "SM_OUTPUT_DATA_DIR": str(ml / "output/data"),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(ml / "output/intermediate"),
        "SM_CHECKPOINT_DIR": str(ml / "checkpoints"),
        "SM_CHANNELS": json.dumps(sorted(channel_dirs)),
        "SM_HPS": json.dumps(hps),
        "SM_NUM_CPUS": str(num_cpus),
        "SM_NUM_GPUS": "0",
        "SM_NUM_NEURONS": "0",
        "SM_CURRENT_HOST": host,
        "SM_CURRENT_INSTANCE_TYPE": s.resource_config["current_instance_type"],
        "SM_HOSTS": json.dumps(all_hosts),
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_LOG_LEVEL": "20",
        "SM_USER_ENTRY_POINT": s.program,
        "SM_MODULE_NAME": module,
        "SM_MODULE_DIR": s.submit,
        "SM_USER_ARGS": json.dumps(s.args),
        "SM_RESOURCE_CONFIG": json.dumps(s.resource_config),
        "SM_INPUT_DATA_CONFIG": json.dumps(s.input_data_config),
        "SM_IS_MASTER": json.dumps(host == master),
        "SM_MASTER_ADDR": master,
        "TRAINING_JOB_NAME": job.training_job_name,
        "TRAINING_JOB_ARN": job.arn,
        "PYTHONUNBUFFERED": "1",
    }
    for channel, path in channel_dirs.items():
        sm[f"SM_CHANNEL_{channel.upper()}"] = path
    for key, value in hps.items():
        sm[f"SM_HP_{key.upper().replace('-', '_')}"] = (
            value if isinstance(value, str) else json.dumps(value))
    sm["SM_TRAINING_ENV"] = json.dumps({
        "job_name": job.training_job_name, "hyperparameters": hps,
        "channel_input_dirs": channel_dirs, "current_host": host, "hosts": all_hosts,
        "model_dir": sm["SM_MODEL_DIR"], "output_data_dir": sm["SM_OUTPUT_DATA_DIR"],
        "output_dir": sm["SM_OUTPUT_DIR"], "input_dir": sm["SM_INPUT_DIR"],
        "input_config_dir": sm["SM_INPUT_CONFIG_DIR"], "num_cpus": num_cpus, "num_gpus": 0,
        "module_name": module, "module_dir": s.submit, "user_entry_point": s.program,
        "resource_config": s.resource_config, "input_data_config": s.input_data_config,
        "log_level": 20, "is_master": host == master, "master_hostname": master,
    })
    env = dict(os.environ)
    env.update(sm)
    env.update({k: str(v) for k, v in (job.request.get("Environment") or {}).items()})
    return env


# ---- what SageMaker makes of the output: metrics ----------------------------------------------------
def metric_definitions(request: Mapping[str, Any]) -> list[dict[str, str]]:
    """The definitions SageMaker applies to a job's logs: the request's
    ``AlgorithmSpecification.MetricDefinitions``, or, for a built-in algorithm (algorithm mode), the
    algorithm's own (``tuner.core.builtins``: our regexes stand in for SageMaker's); else none."""
    spec = request.get("AlgorithmSpecification") or {}
    given = list(spec.get("MetricDefinitions") or [])
    builtin = None if given else algorithm_mode(spec.get("TrainingImage"), request.get("HyperParameters"))
    return [dict(d) for d in builtin.definitions()] if builtin is not None else given


def metric_points(lines: Iterable[tuple[int, str, str]], definitions: Sequence[Mapping[str, str]]
                  ) -> list[tuple[str, float, int]]:
    """``(metric, value, epoch ms)`` of every value the primary host's ``lines`` (``(epoch ms,
    label, text)``) emit, in order. The lines are parsed one second at a time (a value carries the
    time of its second's last line), by ``parse_metrics``: a non-finite value is never one."""
    primary = [line for line in lines if host_of(line[1]) == HOST]
    points: list[tuple[str, float, int]] = []
    if not definitions:
        return points
    for _, group in itertools.groupby(primary, key=lambda line: line[0] // 1000):
        batch = list(group)
        parsed = parse_metrics((text for _, _, text in batch), definitions, series_limit=_UNTHINNED)
        for d in definitions:
            points.extend((d["Name"], v, batch[-1][0]) for v in parsed[d["Name"]].values)
    return points


def final_metric_data(lines: Iterable[tuple[int, str, str]],
                      definitions: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """``FinalMetricDataList``: the latest value of each metric the primary host emitted, with its
    time (naive UTC, like the stand-in's other times), in ``definitions`` order."""
    latest = {name: (value, ms) for name, value, ms in metric_points(lines, definitions)}
    return [{"MetricName": d["Name"], "Value": latest[d["Name"]][0],
             "Timestamp": datetime.fromtimestamp(latest[d["Name"]][1] / 1000, UTC).replace(tzinfo=None)}
            for d in definitions if d["Name"] in latest]


def metric_data(job_name: str, points: Iterable[tuple[str, float, int]]) -> list[dict[str, Any]]:
    """``put_metric_data``'s ``MetricData`` for ``points``, as SageMaker publishes algorithm metrics:
    namespace ``METRICS_NAMESPACE``, dimension ``TrainingJobName`` = the job."""
    return [{"MetricName": name, "Value": value, "Unit": "None",
             "Timestamp": datetime.fromtimestamp(ms / 1000, UTC),
             "Dimensions": [{"Name": METRICS_DIMENSION, "Value": job_name}]}
            for name, value, ms in points]
