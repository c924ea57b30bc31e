"""The registry of SageMaker's built-in algorithms: metrics, our regexes on cited log lines, images.

Sources of the sample lines (docs/builtin-algorithms.md has the full list):

* XGBoost: the format the container prints (aws/sagemaker-xgboost-container,
  ``algorithm_mode/train.py``: ``[<round>]\\t<data>-<metric>:<value:.5f>``), with the tabs as
  CloudWatch shows them (``#011``; the developer guide's "Define metrics" page parses
  ``.*\\[[0-9]+\\].*#011validation-auc:(\\S+)``).
* k-NN: the developer guide's "K-NN Request and Response Formats" page, "Sample output".
* DeepAR: a built-in DeepAR training log published in bsnively/AIM357-2019-ETL-and-ML-Workshop
  (``doc/GluePySparkMLFeatureEngineering/GluePySparkMLFeatureEngineering.rst``).
* Object detection: aws/amazon-sagemaker-examples, ``object_detection_birds.ipynb`` parses
  ``validation mAP <score>=(<value>)`` from the algorithm's CloudWatch log.
* Linear Learner, Factorization Machines: lines in the ``#quality_metric`` format of the first-party
  algorithms, built to match SageMaker's own regexes for them (e.g. ``#quality_metric: host=\\S+,
  test binary_f_\\S+ <score>=(\\S+)``), as DescribeHyperParameterTuningJob shows them.
* Image classification, BlazingText: MXNet's ``Epoch[n] Validation-accuracy=`` and BlazingText's
  ``#validation_accuracy:`` lines as seen in public training logs; LightGBM's ``log_evaluation``
  format (``valid_0's auc: 0.98``); CatBoost's ``bestTest = `` summary line.
"""
from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from pathlib import Path

import pytest
from tuner.core import builtins
from tuner.core.builtins import (
    ALGORITHMS,
    SAGEMAKER_ACCOUNTS,
    algorithm_mode,
    algorithm_named,
    builtin_of_image,
    parse_image,
)
from tuner.core.metrics import line_cap, parse_metrics, regex_problem
from tuner.core.objective import MAXIMIZE, MINIMIZE

# (algorithm, metric, log line, the value it carries; None: the line is not that metric's)
SAMPLES = [
    ("xgboost", "validation:auc", "[12]#011train-auc:0.91#011validation-auc:0.88", 0.88),
    ("xgboost", "validation:auc", "[3]\ttrain-auc:0.97001\tvalidation-auc:0.96512", 0.96512),
    ("xgboost", "validation:rmse", "[99]#011train-rmse:0.12345#011validation-rmse:0.23456", 0.23456),
    ("xgboost", "validation:error", "[7]#011train-error:0.01#011validation-error:0.05263", 0.05263),
    ("xgboost", "validation:error", "[7]#011validation-error@0.3:0.04", None),
    ("xgboost", "validation:auc", "[5]#011train-auc:0.9#011validation-aucpr:0.8", None),
    ("xgboost", "validation:logloss", "[0]#011train-logloss:0.45#011validation-logloss:1.2e-05", 1.2e-05),
    ("xgboost", "validation:mlogloss", "[1]#011validation-logloss:0.3#011validation-mlogloss:0.61", 0.61),
    ("xgboost", "validation:auc", "[2024-01-01 10:00:00.000 ip-10-0-0-1:7 INFO train.py] auc 0.9", None),
    ("knn", "test:accuracy",
     "[06/08/2018 20:15:46 INFO 140285487171328] #test_score (algo-1) : ('accuracy', 0.98666666666666669)",
     0.98666666666666669),
    ("knn", "test:mse",
     "[06/08/2018 20:15:33 INFO 140026520049408] #test_score (algo-1) : ('mse', 0.013333333333333334)",
     0.013333333333333334),
    ("forecasting-deepar", "test:RMSE",
     "[10/13/2019 01:09:14 INFO 140349257213760] #quality_metric: host=algo-1, test RMSE <loss>=17760.1765757",
     17760.1765757),
    ("forecasting-deepar", "test:mean_wQuantileLoss",
     "[10/13/2019 01:09:14 INFO 140349257213760] #quality_metric: host=algo-1, test mean_wQuantileLoss "
     "<loss>=0.105196610093", 0.105196610093),
    ("forecasting-deepar", "train:final_loss",
     "[03/14/2019 21:48:35 INFO 139824253740864] #quality_metric: host=algo-1, train final_loss "
     "<loss>=-0.166682457382", -0.166682457382),
    ("forecasting-deepar", "train:final_loss",
     "[10/13/2019 01:09:06 INFO 140349257213760] #quality_metric: host=algo-1, epoch=34, train loss "
     "<loss>=10.9407487869", None),
    ("object-detection", "validation:mAP",
     "[03/01/2019 10:00:00 INFO 140] #quality_metric: host=algo-1, epoch=29, validation mAP <score>=(0.6743)",
     0.6743),
    ("linear-learner", "validation:binary_classification_accuracy",
     "[01/01/2020 10:00:00 INFO 140] #quality_metric: host=algo-1, validation binary_classification_accuracy "
     "<score>=0.9712", 0.9712),
    ("linear-learner", "test:binary_f_beta",
     "#quality_metric: host=algo-1, test binary_f_1.000 <score>=0.8571", 0.8571),
    ("linear-learner", "test:objective_loss",
     "#quality_metric: host=algo-1, test binary_classification_cross_entropy_objective <loss>=0.0795", 0.0795),
    ("linear-learner", "validation:objective_loss",
     "#quality_metric: host=algo-1, epoch=14, validation squared_loss_objective <loss>=3.5", 3.5),
    ("linear-learner", "validation:objective_loss",  # the final model's, not an epoch's
     "#quality_metric: host=algo-1, validation squared_loss_objective <loss>=3.4", None),
    ("linear-learner", "test:multiclass_top_k_accuracy",
     "#quality_metric: host=algo-1, test multiclass_top_k_accuracy_3 <score>=0.97", 0.97),
    ("linear-learner", "test:roc_auc_score", "#quality_metric: host=algo-1, test roc_auc_score <score>=0.991", 0.991),
    ("linear-learner", "validation:mse", "#quality_metric: host=algo-1, test mse <loss>=12.5", None),
    ("factorization-machines", "test:rmse", "#quality_metric: host=algo-1, test rmse <loss>=1.0243", 1.0243),
    ("factorization-machines", "test:binary_classification_cross_entropy",
     "#quality_metric: host=algo-1, test binary_classification_cross_entropy <loss>=0.2551", 0.2551),
    ("image-classification", "validation:accuracy",
     "[09/07/2019 22:57:59 INFO 140484553713472] Epoch[0] Validation-accuracy=0.771429", 0.771429),
    ("image-classification", "validation:accuracy",
     "[09/07/2019 22:57:59 INFO 140484553713472] Epoch[0] Train-accuracy=0.375000", None),
    ("blazingtext", "validation:accuracy", "#validation_accuracy: 0.9228", 0.9228),
    ("blazingtext", "train:mean_rho", "#mean_rho: 0.6584", 0.6584),
    ("lightgbm", "auc", "[100]#011valid_0's auc: 0.987654", 0.987654),
    ("lightgbm", "auc", "[100]#011valid_0's auc_mu: 0.5", None),
    ("lightgbm", "multi_logloss", "[10]\tvalid_0's multi_logloss: 0.612", 0.612),
    ("catboost", "AUC", "bestTest = 0.9876543", 0.9876543),
]


@pytest.mark.parametrize(("algorithm", "metric", "line", "value"), SAMPLES)
def test_each_regex_reads_its_metric_from_a_sample_line(algorithm, metric, line, value):
    found = algorithm_named(algorithm).metric(metric)
    series = parse_metrics([line], [found.definition()])[metric]
    assert series.final == value and series.error is None


def test_every_metric_has_a_sample_line():
    sampled = {(a, m) for a, m, _, v in SAMPLES if v is not None}
    for algorithm in ALGORITHMS:
        assert any(a == algorithm.name for a, _ in sampled), algorithm.name


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.name)
def test_every_regex_is_linear_time_and_reads_long_lines(algorithm):
    for m in algorithm.metrics:
        assert regex_problem(m.regex) is None, m.name
        assert line_cap(m.regex) >= 10_000, m.name  # a timestamped line is never cut before its value
        assert m.direction in (MAXIMIZE, MINIMIZE)
    assert len(set(algorithm.metric_names)) == len(algorithm.metrics)


def test_the_issue_s_algorithms_are_registered_with_the_guide_s_metrics():
    names = {a.name for a in ALGORITHMS}
    assert {"xgboost", "linear-learner", "knn", "factorization-machines", "image-classification",
            "object-detection", "blazingtext", "forecasting-deepar", "lightgbm", "catboost"} <= names
    xgb = algorithm_named("xgboost")
    documented = {"validation:accuracy": MAXIMIZE, "validation:auc": MAXIMIZE, "validation:error": MINIMIZE,
                  "validation:f1": MAXIMIZE, "validation:logloss": MINIMIZE, "validation:mae": MINIMIZE,
                  "validation:map": MAXIMIZE, "validation:merror": MINIMIZE, "validation:mlogloss": MINIMIZE,
                  "validation:mse": MINIMIZE, "validation:ndcg": MAXIMIZE, "validation:rmse": MINIMIZE}
    assert {n: xgb.metric(n).direction for n in documented} == documented
    assert algorithm_named("object-detection").metric_names == ["validation:mAP"]
    assert algorithm_named("knn").metric("test:mse").direction == MINIMIZE
    assert len(algorithm_named("linear-learner").metrics) == 28  # test: and validation: of 14 each


def test_an_objective_outside_the_algorithm_s_metrics_names_the_allowed_ones():
    xgb = algorithm_named("xgboost")
    problem = xgb.objective_problem("validation:foo", MAXIMIZE)
    assert "'validation:foo' is not a metric of SageMaker's built-in XGBoost" in problem
    assert "validation:auc" in problem and "xgboost-tuning" in problem
    assert "set the objective's Type to Maximize" in xgb.objective_problem("validation:auc", MINIMIZE)
    assert xgb.objective_problem("validation:auc", MAXIMIZE) is None


# ---- images --------------------------------------------------------------------------------------
def _sdk_config_dir() -> Path:
    spec = importlib.util.find_spec("sagemaker")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "image_uri_config"


def _domain(region: str) -> str:
    """The ECR domain of a region's partition, as the SDK's endpoint data gives it."""
    for prefix, domain in (("cn-", "amazonaws.com.cn"), ("us-isof-", "csp.hci.ic.gov"),
                           ("us-isob-", "sc2s.sgov.gov"), ("us-iso-", "c2s.ic.gov")):
        if region.startswith(prefix):
            return domain
    return "amazonaws.com"


def _sdk_images() -> list[tuple[str, str, str]]:
    """``(algorithm, region, image URI)`` of every registered algorithm's training image in every
    region and version of the installed SageMaker SDK's configs."""
    config = _sdk_config_dir()
    out = []
    for algorithm in ALGORITHMS:
        if not algorithm.repositories:
            continue
        data = json.loads((config / f"{algorithm.name}.json").read_text())
        scoped = data.get("training", data)
        for version, spec in scoped["versions"].items():
            tag = f"{version}-cpu-py3" if version.startswith("0.90") else version
            for region, account in spec["registries"].items():
                out.append((algorithm.name, region,
                            f"{account}.dkr.ecr.{region}.{_domain(region)}/{spec['repository']}:{tag}"))
    return out


def test_every_region_and_version_of_the_sdk_s_configs_is_recognised():
    images = _sdk_images()
    assert len(images) > 300  # 8 algorithms, 10 XGBoost versions, ~37 regions
    wrong = [(a, uri) for a, _, uri in images if (b := builtin_of_image(uri)) is None or b.name != a]
    assert wrong == []


def test_the_account_table_is_the_sdk_s():
    expected: dict[str, set[str]] = defaultdict(set)
    for _, region, uri in _sdk_images():
        expected[region].add(parse_image(uri).account)
    assert {r: set(a) for r, a in SAGEMAKER_ACCOUNTS.items()} == dict(expected)


def test_the_sdk_s_own_retrieve_gives_recognised_images():
    image_uris = pytest.importorskip("sagemaker.image_uris")
    cases = [("xgboost", "us-east-1", "1.7-1"), ("xgboost", "eu-west-1", "1"), ("xgboost", "cn-north-1", "1.5-1"),
             ("linear-learner", "ap-southeast-2", None), ("knn", "us-gov-west-1", None),
             ("forecasting-deepar", "me-south-1", None), ("blazingtext", "us-iso-east-1", None)]
    for framework, region, version in cases:
        uri = image_uris.retrieve(framework, region, version, image_scope="training")
        assert builtin_of_image(uri) is algorithm_named(framework), uri


@pytest.mark.parametrize("uri", [
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:latest",  # a user's repository named xgboost
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",  # SageMaker's, not an algorithm
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost-extra:1.7-1",
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310",
    "xgboost:latest", "", None, 12,
])
def test_other_images_are_not_built_ins(uri):
    assert builtin_of_image(uri) is None


def test_digests_fips_and_a_region_the_table_does_not_know():
    digest = "@sha256:" + "a" * 64
    assert builtin_of_image(f"382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner{digest}").name == \
        "linear-learner"
    assert builtin_of_image("683313688378.dkr.ecr-fips.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1") is not None
    # a region opened after the table: the repository alone decides
    assert builtin_of_image("111122223333.dkr.ecr.xx-newland-1.amazonaws.com/sagemaker-xgboost:3.0-5").name == \
        "xgboost"


def test_a_built_in_image_runs_as_the_algorithm_only_without_a_script():
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert algorithm_mode(image, {"num_round": "10"}) is algorithm_named("xgboost")
    assert algorithm_mode(image, None) is algorithm_named("xgboost")
    assert algorithm_mode(image, {"sagemaker_program": "train.py"}) is None
    assert algorithm_mode(image, {"sagemaker_submit_directory": "s3://b/k"}) is None
    assert builtins.SCRIPT_MODE_HYPERPARAMETERS == ("sagemaker_program", "sagemaker_submit_directory")


def test_lightgbm_and_catboost_have_no_image_of_their_own():
    assert algorithm_named("lightgbm").repositories == () and algorithm_named("catboost").repositories == ()
