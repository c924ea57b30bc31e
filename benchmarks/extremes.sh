#!/usr/bin/env bash
# The extremes suite (issue 17), in order of priority, one process; `run` resumes, so re-running
# this script only adds what is missing. Results: benchmarks/results/extremes.jsonl.
# The peers' runs of the 13 earlier problems at batch 4 are in full.jsonl; this engine's are re-run
# here (ours.jsonl came from an earlier numerical environment: the same engine's runs there diverge
# from today's after a few dozen evaluations, by rounding).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/extremes.jsonl
NEW=catcont5,sparse25_mixed,catcont30_mixed,ackley10,levy10,hartmann6_noisy,levy5_mixed_noisy,catcont5_noisy
OLD=branin,hartmann6,ackley5,levy5,rosenbrock4,hartmann6_mixed,ackley5_mixed,levy5_mixed
OLD=$OLD,svc_breast_cancer,rf_wine,sgd_digits,knn_digits,tree_diabetes
SEEDS=${SEEDS:-10}
run() { python -m benchmarks.run --budget 64 --seeds "$SEEDS" --workers 1 --out "$OUT" "$@"; }
# 1. batch 4: the new problems with the fast peers and this engine, this engine on the earlier
#    problems, batch 10 on the new problems, then Optuna's GP (about 5 minutes a seed)
run --batch 4 --problems "$NEW" --optimizers random,optuna_tpe,ours
run --batch 4 --problems "$OLD" --optimizers ours
run --batch 10 --problems "$NEW" --optimizers random,optuna_tpe,ours
run --batch 4 --problems "$NEW" --optimizers optuna_gp
# 2. batch 10 (the batch-4-to-10 loss) on the earlier problems, and Optuna's GP at batch 10
run --batch 10 --problems "$OLD" --optimizers random,optuna_tpe,ours
run --batch 10 --problems "$NEW,$OLD" --optimizers optuna_gp
# 3. scikit-optimize (the slowest peer) on the new problems, and at batch 10
run --batch 4 --problems "$NEW" --optimizers skopt_gp
run --batch 10 --problems "$NEW,$OLD" --optimizers skopt_gp
# 4. batches 1 and 20
run --batch 1 --problems "$NEW,$OLD" --optimizers random,optuna_tpe,ours,optuna_gp
run --batch 20 --problems "$NEW,$OLD" --optimizers random,optuna_tpe,ours,optuna_gp
