#!/usr/bin/env bash
# Synthesise the espeak_en corpus into Kaldi data dirs (see local/prepare_data.py).
# Usage: local/data.sh [--data_dir data] [--num_train 3000] [--num_dev 150] [--num_test 200] [--nj 2]
set -euo pipefail
data_dir=data
num_train=3000
num_dev=150
num_test=200
nj=2
seed=0
_option_names="data_dir num_train num_dev num_test nj seed"
. "$(dirname "$0")/parse_options.sh"
python "$(dirname "$0")/prepare_data.py" --data_dir "${data_dir}" --num_train "${num_train}" \
    --num_dev "${num_dev}" --num_test "${num_test}" --nj "${nj}" --seed "${seed}"
