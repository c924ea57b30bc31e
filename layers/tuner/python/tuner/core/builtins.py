"""SageMaker's built-in algorithms as AMT knows them: their tunable metrics and their images.

A tuning request whose ``TrainingImage`` is a built-in algorithm's needs no ``MetricDefinitions``:
AMT knows each built-in's metrics, the direction it allows for each (``Maximize``/``Minimize``), and
SageMaker parses the algorithm's logs itself (``DescribeTrainingJob.FinalMetricDataList``). This
module is that knowledge, pure (no AWS): the registry ``ALGORITHMS``, the recognition of an image
URI (``builtin_of_image``) and the rule that decides whether a job runs *as* the built-in
(``algorithm_mode``). Sources for every fact: ``docs/builtin-algorithms.md``.

* **Metrics**: the names and directions of each algorithm's "Tune a ... model" page of the SageMaker
  developer guide. Each metric has a regex *of ours* (the tuner's own log parse, for the
  intermediate series and as the fallback when SageMaker reports no final value), tested on sample
  log lines in ``tests/unit/core/test_builtins.py``. Every regex is linear-time (accepted by
  ``tuner.core.metrics.regex_problem``) and captures one number (``NUMBER``).
* **Images**: ``<account>.dkr.ecr.<region>.<domain>/<repository>[:tag|@digest]``. The repository
  names the algorithm; the account must be one of SageMaker's registries in that region
  (``SAGEMAKER_ACCOUNTS``, from the SageMaker Python SDK's ``image_uri_config/*.json``), so a
  user's own repository that happens to be named ``xgboost`` is not taken for the built-in. A region
  missing from the table (one AWS opened later) is recognised by the repository alone. Any tag or
  digest: every version of an algorithm lives in its repository.
* **Mode**: a built-in image runs as the built-in algorithm only without the script-mode
  hyperparameters (``SCRIPT_MODE_HYPERPARAMETERS``); with them it is a framework container running
  the user's script (the XGBoost image serves both), whose metrics come from ``MetricDefinitions``.
* **LightGBM and CatBoost** have no image of their own: SageMaker runs them as JumpStart scripts in
  script mode (the SDK passes their metric definitions). Their entries carry the metrics and our
  regexes, and no repository, so no image is ever taken for them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuner.core.objective import MAXIMIZE, MINIMIZE

#: The hyperparameters that make a job script mode (the SageMaker training toolkit's).
SCRIPT_MODE_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory")
#: The reserved hyperparameter AMT gives a built-in algorithm's training jobs: the objective metric
#: (the built-in XGBoost adds it to its ``eval_metric``).
TUNING_OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"

#: A number as the algorithms print it (``0.91``, ``-3.6e-05``, ``17760.1765757``); never nan/inf.
NUMBER = r"[-+]?+[0-9.]++(?:[eE][-+]?+[0-9]++)?+"


@dataclass(frozen=True)
class BuiltinMetric:
    """One tunable metric: its name, the direction AMT allows, and our regex for its log line."""

    name: str
    direction: str  # MAXIMIZE | MINIMIZE
    regex: str

    def definition(self) -> dict[str, str]:
        """As a ``MetricDefinition`` (``{Name, Regex}``)."""
        return {"Name": self.name, "Regex": self.regex}


@dataclass(frozen=True)
class BuiltinAlgorithm:
    """One built-in algorithm: its name (the SDK's ``image_uris`` framework), its title, the ECR
    repositories of its training images (empty: it has none of its own), its metrics, and the
    developer guide's page that lists them."""

    name: str
    title: str
    repositories: tuple[str, ...]
    metrics: tuple[BuiltinMetric, ...]
    tuning_page: str

    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def metric(self, name: str) -> BuiltinMetric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def definitions(self) -> tuple[dict[str, str], ...]:
        """Every metric as a ``MetricDefinition``: what the tuner parses the logs with."""
        return tuple(m.definition() for m in self.metrics)

    def objective_problem(self, metric: str, direction: str) -> str | None:
        """Why ``(metric, direction)`` cannot be this algorithm's objective (None: it can)."""
        found = self.metric(metric)
        if found is None:
            return (
                f"{metric!r} is not a metric of SageMaker's built-in {self.title} algorithm; choose "
                f"one of: {', '.join(self.metric_names)} (see {self.tuning_page})"
            )
        if found.direction != direction:
            return (
                f"the built-in {self.title} algorithm's {metric!r} can only be {found.direction}d; "
                f"set the objective's Type to {found.direction}"
            )
        return None


# ---- regexes -------------------------------------------------------------------------------------
def _xgboost(metric: str) -> str:
    # "[12]#011train-auc:0.91#011validation-auc:0.88": CloudWatch shows the tabs XGBoost prints as #011.
    return rf"\[[0-9]++\][^\r\n]*?(?:#011|\t)validation-{re.escape(metric)}:({NUMBER})"


def _quality(channel: str, metric: str, *, epoch: bool = False, wrapped: bool = False) -> str:
    # "#quality_metric: host=algo-1, test RMSE <loss>=0.3479" (the AWS first-party algorithms)
    value = rf"\(({NUMBER})\)" if wrapped else f"({NUMBER})"
    return (rf"#quality_metric: host=[^\s,]++, {'epoch=[0-9]++, ' if epoch else ''}{channel} {metric} "
            rf"<(?:score|loss)>={value}")


def _lightgbm(metric: str) -> str:
    # LightGBM's evaluation log: "[100]#011valid_0's auc: 0.98" (the developer guide's "auc: (...)")
    return rf"(?<![A-Za-z0-9_]){re.escape(metric)}: ({NUMBER})"


def _metrics(*triples: tuple[str, str, str]) -> tuple[BuiltinMetric, ...]:
    return tuple(BuiltinMetric(name, direction, regex) for name, direction, regex in triples)


def _guide(page: str) -> str:
    return f"https://docs.aws.amazon.com/sagemaker/latest/dg/{page}.html"


# ---- the registry --------------------------------------------------------------------------------
# XGBoost: the 12 metrics of the tuning page, then the rest of what the container itself declares
# as tunable (sagemaker-xgboost-container, constants/xgb_constants.py XGB_MAXIMIZE/MINIMIZE_METRICS).
_XGB_MAX = ("accuracy", "auc", "f1", "map", "ndcg", "aucpr", "balanced_accuracy", "f1_binary", "f1_macro",
            "precision", "precision_macro", "precision_micro", "r2", "recall", "recall_macro", "recall_micro")
_XGB_MIN = ("error", "logloss", "mae", "merror", "mlogloss", "mse", "rmse", "aft-nloglik", "cox-nloglik",
            "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy", "mape", "mphe",
            "poisson-nloglik", "rmsle", "tweedie-nloglik")

_LL_MAX = ("binary_classification_accuracy", "dcg", "macro_precision", "macro_recall", "multiclass_accuracy",
           "precision", "recall", "roc_auc_score")
_LL_MIN = ("absolute_loss", "mse")
# "binary_classification_cross_entropy_objective", "squared_loss_objective", ...: the loss's name
_OBJECTIVE = r"(?:[a-z]++_)*+objective"


def _linear_learner() -> tuple[BuiltinMetric, ...]:
    out: list[BuiltinMetric] = []
    for channel in ("test", "validation"):
        out += [BuiltinMetric(f"{channel}:{m}", MAXIMIZE, _quality(channel, m)) for m in _LL_MAX]
        out += [BuiltinMetric(f"{channel}:{m}", MINIMIZE, _quality(channel, m)) for m in _LL_MIN]
        for m in ("binary_f_beta", "macro_f_beta"):  # logged with beta, e.g. "binary_f_1.000"
            out.append(BuiltinMetric(f"{channel}:{m}", MAXIMIZE, _quality(channel, m[:-4] + r"\S++")))
        out.append(BuiltinMetric(f"{channel}:multiclass_top_k_accuracy", MAXIMIZE,
                                 _quality(channel, r"multiclass_top_k_accuracy_\S++")))
    # the objective loss: of the final model on test, of every epoch on validation
    out.append(BuiltinMetric("test:objective_loss", MINIMIZE, _quality("test", _OBJECTIVE)))
    out.append(BuiltinMetric("validation:objective_loss", MINIMIZE,
                             _quality("validation", _OBJECTIVE, epoch=True)))
    return tuple(sorted(out, key=lambda m: m.name))


ALGORITHMS: tuple[BuiltinAlgorithm, ...] = (
    BuiltinAlgorithm(
        "xgboost", "XGBoost", ("sagemaker-xgboost", "xgboost"),
        tuple(BuiltinMetric(f"validation:{m}", MAXIMIZE, _xgboost(m)) for m in _XGB_MAX)
        + tuple(BuiltinMetric(f"validation:{m}", MINIMIZE, _xgboost(m)) for m in _XGB_MIN),
        _guide("xgboost-tuning"),
    ),
    BuiltinAlgorithm("linear-learner", "Linear Learner", ("linear-learner",), _linear_learner(),
                     _guide("linear-learner-tuning")),
    BuiltinAlgorithm(
        "knn", "k-NN", ("knn",),
        _metrics(("test:accuracy", MAXIMIZE, rf"#test_score \([^\s)]++\) : \('accuracy', ({NUMBER})\)"),
                 ("test:mse", MINIMIZE, rf"#test_score \([^\s)]++\) : \('mse', ({NUMBER})\)")),
        _guide("kNN-tuning"),
    ),
    BuiltinAlgorithm(
        "factorization-machines", "Factorization Machines", ("factorization-machines",),
        _metrics(("test:rmse", MINIMIZE, _quality("test", "rmse")),
                 ("test:binary_classification_accuracy", MAXIMIZE, _quality("test", "binary_classification_accuracy")),
                 ("test:binary_classification_cross_entropy", MINIMIZE,
                  _quality("test", "binary_classification_cross_entropy")),
                 ("test:binary_f_beta", MAXIMIZE, _quality("test", r"binary_f_\S++"))),
        _guide("fm-tuning"),
    ),
    BuiltinAlgorithm(
        "image-classification", "Image Classification", ("image-classification",),
        _metrics(("validation:accuracy", MAXIMIZE, rf"Epoch\[[0-9]++\] Validation-accuracy=({NUMBER})")),
        _guide("IC-tuning"),
    ),
    BuiltinAlgorithm(
        "object-detection", "Object Detection", ("object-detection",),
        _metrics(("validation:mAP", MAXIMIZE, _quality("validation", "mAP", epoch=True, wrapped=True))),
        _guide("object-detection-tuning"),
    ),
    BuiltinAlgorithm(
        "blazingtext", "BlazingText", ("blazingtext",),
        _metrics(("train:mean_rho", MAXIMIZE, rf"#mean_rho: ({NUMBER})"),
                 ("validation:accuracy", MAXIMIZE, rf"#validation_accuracy: ({NUMBER})")),
        _guide("blazingtext-tuning"),
    ),
    BuiltinAlgorithm(
        "forecasting-deepar", "DeepAR", ("forecasting-deepar",),
        _metrics(("test:RMSE", MINIMIZE, _quality("test", "RMSE")),
                 ("test:mean_wQuantileLoss", MINIMIZE, _quality("test", "mean_wQuantileLoss")),
                 ("train:final_loss", MINIMIZE, _quality("train", "final_loss"))),
        _guide("deepar-tuning"),
    ),
    BuiltinAlgorithm(
        "lightgbm", "LightGBM", (),
        _metrics(*((m, d, _lightgbm(m)) for m, d in (
            ("rmse", MINIMIZE), ("l1", MINIMIZE), ("l2", MINIMIZE), ("huber", MINIMIZE), ("fair", MINIMIZE),
            ("binary_logloss", MAXIMIZE), ("binary_error", MINIMIZE), ("auc", MAXIMIZE),
            ("average_precision", MAXIMIZE), ("multi_logloss", MAXIMIZE), ("multi_error", MINIMIZE),
            ("auc_mu", MAXIMIZE), ("cross_entropy", MINIMIZE)))),
        _guide("lightgbm-tuning"),
    ),
    BuiltinAlgorithm(
        "catboost", "CatBoost", (),
        # CatBoost logs the best validation value once, whatever the metric: "bestTest = 0.1185"
        _metrics(*((m, d, rf"bestTest = ({NUMBER})") for m, d in (
            ("RMSE", MINIMIZE), ("AUC", MAXIMIZE), ("MultiClass", MINIMIZE)))),
        _guide("catboost-tuning"),
    ),
)

_BY_NAME = {a.name: a for a in ALGORITHMS}
_BY_REPOSITORY = {r: a for a in ALGORITHMS for r in a.repositories}

#: SageMaker's ECR registries of the registered algorithms' training images, by region (the
#: SageMaker Python SDK 2.257's image_uri_config: the 1P algorithms' and xgboost.json's "training").
SAGEMAKER_ACCOUNTS: dict[str, frozenset[str]] = {region: frozenset(accounts.split()) for region, accounts in {
    "af-south-1": "455444449433 510948584623",
    "ap-east-1": "286214385809 651117190479",
    "ap-northeast-1": "351501993468 354813040037 501404015308 633353088612",
    "ap-northeast-2": "204372634319 306986355934 366743142698 835164637446",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776 991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041 475088953585",
    "ap-southeast-2": "514117268639 544295431143 712309505854 783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497 469771592824",
    "ca-west-1": "190319476487",
    "cn-north-1": "390948362332 450853457545",
    "cn-northwest-1": "387376663083 451049120500",
    "eu-central-1": "492215442770 495149712605 664544806723 813361260812",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516 669576153137",
    "eu-south-1": "257386234256 978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606 224300973850 438346466558 685385470294",
    "eu-west-2": "644912444149 764974769150",
    "eu-west-3": "659782779980 749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688 801668240914",
    "sa-east-1": "737474898029 855470959533",
    "us-east-1": "382416733822 522234722520 683313688378 811284229777",
    "us-east-2": "257758044811 404615174143 566113047672 825641698319",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700 414596584902",
    "us-iso-east-1": "490574956308 833128469047",
    "us-isob-east-1": "281123927165 765400339828",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "632365934929 746614075791",
    "us-west-2": "156387875391 174872318107 246618743249 433757028032",
}.items()}

# <account>.dkr.ecr[-fips].<region>.<partition domain>/<repository>[:<tag>|@<digest>]
_ECR_IMAGE = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)\.[a-z0-9.-]+"
    r"/(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})?"
)


@dataclass(frozen=True)
class EcrImage:
    account: str
    region: str
    repository: str


def parse_image(uri: Any) -> EcrImage | None:
    """The account, region and repository of an ECR image URI (None: not one)."""
    found = _ECR_IMAGE.fullmatch(uri.strip()) if isinstance(uri, str) else None
    if found is None:
        return None
    return EcrImage(found["account"], found["region"], found["repository"])


def algorithm_named(name: str) -> BuiltinAlgorithm | None:
    return _BY_NAME.get(name)


def builtin_of_image(uri: Any) -> BuiltinAlgorithm | None:
    """The built-in algorithm whose training image ``uri`` is (any version), or None."""
    image = parse_image(uri)
    if image is None:
        return None
    algorithm = _BY_REPOSITORY.get(image.repository)
    accounts = SAGEMAKER_ACCOUNTS.get(image.region)
    if algorithm is None or (accounts is not None and image.account not in accounts):
        return None
    return algorithm


def is_script_mode(hyperparameters: Mapping[str, Any] | None) -> bool:
    """Whether the hyperparameters name a training script (``sagemaker_program`` or
    ``sagemaker_submit_directory``): then any image runs the user's script."""
    return any(k in (hyperparameters or {}) for k in SCRIPT_MODE_HYPERPARAMETERS)


def algorithm_mode(image: Any, hyperparameters: Mapping[str, Any] | None) -> BuiltinAlgorithm | None:
    """The built-in algorithm a job with this ``TrainingImage`` and these hyperparameters runs as
    (None: it runs the user's container or script)."""
    if is_script_mode(hyperparameters):
        return None
    return builtin_of_image(image)
