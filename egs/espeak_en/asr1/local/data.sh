#!/usr/bin/env bash
# Synthesise the espeak_en corpus into Kaldi data dirs (local/prepare_data.py): --nj jobs of
# ${train_cmd} (cmd.sh) each make one share of every set's audio (logs <data_dir>/log/), then
# the data dirs are written. Sets already prepared are kept.
# Usage: local/data.sh [--data_dir data] [--num_train 3000] [--num_dev 150] [--num_test 200]
#                     [--num_pool 0] [--nj 2]
set -euo pipefail
data_dir=data
num_train=3000
num_dev=150
num_test=200
num_pool=0   # untranscribed self-training pool (0: none)
nj=2
seed=0
_option_names="data_dir num_train num_dev num_test num_pool nj seed"
. utils/parse_options.sh
. ./cmd.sh
corpus=(--data_dir "${data_dir}" --num_train "${num_train}" --num_dev "${num_dev}"
    --num_test "${num_test}" --num_pool "${num_pool}" --seed "${seed}")
utils/run_jobs.sh "${train_cmd}" "${nj}" "${data_dir}/log/synthesize.JOB.log" data \
    python local/prepare_data.py "${corpus[@]}" --num_jobs "${nj}" --job JOB
python local/prepare_data.py "${corpus[@]}"
