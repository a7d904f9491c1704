#!/usr/bin/env bash
# LibriSpeech Kaldi data dirs: the training set, dev (dev-clean + dev-other, validation) and
# the test sets, read with lhotse (-> <data_dir>/raw/<set>), then formatted for training
# (-> <data_dir>/<set>: 16 kHz mono, LibriSpeech's flac named in place); local/prepare_data.py,
# run as one job of ${train_cmd} (cmd.sh) with --nj threads (log <data_dir>/log/prepare.log).
# A set already formatted is kept (delete <data_dir>/<set> to redo it).
# Usage: local/data.sh --data_root DIR [--train_set 100|960] [--data_dir data] [--nj 4]
set -euo pipefail
data_root=""
train_set=100
data_dir=data
nj=4
_option_names="data_root train_set data_dir nj"
. utils/parse_options.sh
. ./cmd.sh
[ -n "${data_root}" ] || { echo "$0: --data_root (the directory holding LibriSpeech/) is required" >&2; exit 1; }
case "${train_set}" in
    100) train_name=train_clean_100 ;;
    960) train_name=train_960 ;;
    *) echo "$0: --train_set must be 100 or 960, not '${train_set}'" >&2; exit 1 ;;
esac
sets=()
for name in "${train_name}" dev dev_clean dev_other test_clean test_other; do
    if [ -f "${data_dir}/${name}/wav.scp" ]; then
        echo "${data_dir}/${name}: already prepared, kept"
    else
        sets+=("${name}")
    fi
done
[ "${#sets[@]}" -gt 0 ] || exit 0
utils/run_jobs.sh "${train_cmd} --num-threads ${nj}" 1 "${data_dir}/log/prepare.log" \
    "prepare|format" python local/prepare_data.py --data_root "${data_root}" \
    --data_dir "${data_dir}" --nj "${nj}" "${sets[@]}"
