"""What a script-mode training script sees in the local SageMaker stand-in (its "container").

Built from a job's ``CreateTrainingJob`` request by the rules of the SageMaker training toolkit,
without AWS calls: the ``/opt/ml``-like folder tree under the job's folder, the
``input/config/*.json`` files, the script's command line and its ``SM_*`` environment.
``tuner.local.training_process`` (the job thread) downloads the data into the tree and runs the
script with them.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner.local.training_job import _Job

HOST = "algo-1"
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


def script(request: dict[str, Any], hps: dict[str, Any], program: str, submit: str) -> Script:
    """The ``Script`` of a request whose hyperparameters are ``hps``."""
    user_hps = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}
    decoded = {k: _decode_hp(v) for k, v in user_hps.items()}
    args: list[str] = []
    for key in sorted(decoded):
        args += [f"--{key}", _cli_value(decoded[key])]
    resource_config = {"current_host": HOST, "current_instance_type":
                       (request.get("ResourceConfig") or {}).get("InstanceType", "local"),
                       "current_group_name": "homogeneousCluster", "hosts": [HOST],
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
        "SM_CURRENT_HOST": HOST,
        "SM_CURRENT_INSTANCE_TYPE": s.resource_config["current_instance_type"],
        "SM_HOSTS": json.dumps([HOST]),
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_LOG_LEVEL": "20",
        "SM_USER_ENTRY_POINT": s.program,
        "SM_MODULE_NAME": module,
        "SM_MODULE_DIR": s.submit,
        "SM_USER_ARGS": json.dumps(s.args),
        "SM_RESOURCE_CONFIG": json.dumps(s.resource_config),
        "SM_INPUT_DATA_CONFIG": json.dumps(s.input_data_config),
        "SM_IS_MASTER": "true",
        "SM_MASTER_ADDR": HOST,
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
        "channel_input_dirs": channel_dirs, "current_host": HOST, "hosts": [HOST],
        "model_dir": sm["SM_MODEL_DIR"], "output_data_dir": sm["SM_OUTPUT_DATA_DIR"],
        "output_dir": sm["SM_OUTPUT_DIR"], "input_dir": sm["SM_INPUT_DIR"],
        "input_config_dir": sm["SM_INPUT_CONFIG_DIR"], "num_cpus": num_cpus, "num_gpus": 0,
        "module_name": module, "module_dir": s.submit, "user_entry_point": s.program,
        "resource_config": s.resource_config, "input_data_config": s.input_data_config,
        "log_level": 20, "is_master": True, "master_hostname": HOST,
    })
    env = dict(os.environ)
    env.update(sm)
    env.update({k: str(v) for k, v in (job.request.get("Environment") or {}).items()})
    return env
