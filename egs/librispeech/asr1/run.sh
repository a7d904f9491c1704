#!/usr/bin/env bash
# librispeech: dense vs Switch vs Omni-router MoE Conformer CTC/attention (and U2++ MoE) trained
# on LibriSpeech, scored on its test sets and on the paper's out-of-domain benchmarks.
#
#   ./run.sh --data_root /data/librispeech                   # 100 h (train-clean-100)
#   ./run.sh --data_root /data/librispeech --train_set 960 --ngpu 4
#   ./run.sh --data_root /data/librispeech --models "u2pp_dense u2pp_moe"
#   ./run.sh --data_root /data/librispeech --stage ood \
#       --ood_args "--tedlium_root /data/TEDLIUM_release-3 --ami_root /data/amicorpus"
#
# --data_root is the directory the OpenSLR archives (https://www.openslr.org/12) were unpacked
# in: it holds LibriSpeech/{train-clean-100,dev-clean,dev-other,test-clean,test-other}/ (and
# train-clean-360, train-other-500 for --train_set 960).
# Multi-GPU: --ngpu N runs ESPnet's DDP (one process per GPU; --multiprocessing_distributed
# true is passed for N > 1, since ESPnet's DataParallel default does not replicate the
# Omni-router's shared router). batch_bins in the configs is the global batch.
#
# Runs in the Python environment where espnet_omnirouter is installed (path.sh checks it and
# says what is missing; it installs nothing); jobs run as cmd.sh says (this machine, or a
# cluster: OMNIROUTER_CMD_BACKEND=slurm).
#
# Stages (the numbers of egs/TEMPLATE/asr1; logs under ${exp_dir}/, times in
# ${exp_dir}/stage_times.tsv):
#   1 data:      lhotse manifests -> Kaldi dirs (local/data.sh): ${train_name}, dev
#                (dev-clean + dev-other, validation), dev_clean, dev_other, test_clean, test_other
#   2 tokenizer: sentencepiece unigram (--nbpe; 300 units for 100 h, 5000 for 960 h)
#   4 stats:     feature shapes and global mean/variance (asr_train --collect_stats)
#   5 train:     one model per --models entry, <conf_dir>/train_<model>.yaml; ESPnet averages the
#                keep_nbest_models best checkpoints (valid loss) into valid.loss.ave.pth; one
#                line per epoch on the console
#   6 decode:    --test_sets with --decode_modes (bin/decode, --nj jobs); models that stream
#                (U2++) also with attention chunks of --chunk_size frames (= streaming)
#   7 score:     WER per set, average, bootstrap CIs -> ${results_file}
#   9 pack:      one archive per model -> ${exp_dir}/asr_<model>/packed/librispeech_asr_<model>.zip
#  13 ood:       egs/ood_benchmarks/asr1/run.sh on the trained models: LibriSpeech test-clean/
#                test-other from --data_root plus the corpora of --ood_args -> ${ood_results_file}
set -euo pipefail
cd "$(dirname "$0")"
invocation="./run.sh $*"

stage=1
stop_stage=13
nj=4                  # jobs (threads) for data preparation, statistics and decoding (cmd.sh)
ngpu=1                # GPUs for training (0: CPU)
data_root=""          # holds LibriSpeech/ (required by stages 1 and 13)
train_set=100         # 100: train-clean-100; 960: + train-clean-360 + train-other-500
nbpe=""               # sentencepiece units ("": 300 for 100 h, 5000 for 960 h)
models="dense switch omni"
conf_dir=conf         # model configs: <conf_dir>/train_<model>.yaml
asr_config=""         # train one model with this config instead of <conf_dir>/train_<model>.yaml
tag=""                # experiment name with --asr_config (default: the config's name)
train_args=""         # extra asr_train options, e.g. "--max_epoch 70 --use_amp true"
decode_modes="attention_rescoring ctc_greedy"  # bin/decode modes, the first one is the headline
chunk_size=16         # U2++ models are also decoded with attention chunks of this many frames
decode_args=""        # extra bin/decode options, e.g. "--ctc_beam_size 20"
test_sets="test_clean test_other dev_clean dev_other"
ood_args=""           # extra egs/ood_benchmarks/asr1/run.sh options: --<corpus>_root /abs/dir ...
data_dir=data
exp_dir=exp
results_file=RESULTS.md
ood_results_file=RESULTS_ood.md
_option_names="stage stop_stage nj ngpu data_root train_set nbpe models conf_dir asr_config tag
train_args decode_modes chunk_size decode_args test_sets ood_args data_dir exp_dir results_file
ood_results_file"
. utils/parse_options.sh
. ../../TEMPLATE/asr1/asr_stages.sh  # stage numbers, run_stage, train_models, decode, ...
resolve_stages
. ./path.sh
. ./cmd.sh

case "${train_set}" in
    100) train_name=train_clean_100; nbpe="${nbpe:-300}" ;;
    960) train_name=train_960; nbpe="${nbpe:-5000}" ;;
    *) echo "$0: --train_set must be 100 or 960, not '${train_set}'" >&2; exit 1 ;;
esac
resolve_models
describe_environment
needs_data_root() {
    [ -n "${data_root}" ] || { echo "$0: stage $1 needs --data_root (the directory holding LibriSpeech/)" >&2; exit 1; }
    [ -d "${data_root}" ] || { echo "$0: --data_root ${data_root}: no such directory" >&2; exit 1; }
}

token_dir="${data_dir}/token_list/bpe_unigram${nbpe}"
stats_dir="${exp_dir}/asr_stats_${train_name}"
mkdir -p "${exp_dir}"
[ "${stage}" -le 1 ] && rm -f "${exp_dir}/stage_times.tsv"
echo "${invocation}" > "${exp_dir}/run_command.txt"

if run_stage data "data: LibriSpeech ${train_set} h from ${data_root} -> ${data_dir}"; then
    needs_data_root 1
    start=${SECONDS}
    local/data.sh --data_root "${data_root}" --train_set "${train_set}" --data_dir "${data_dir}" \
        --nj "${nj}"
    stage_done data data "${start}"
fi

if run_stage tokenizer "tokenizer (unigram, ${nbpe} units) -> ${token_dir}"; then
    start=${SECONDS}
    train_tokenizer "${data_dir}/${train_name}/text" "${nbpe}" "${token_dir}"
    stage_done tokenizer tokenizer "${start}"
fi

set_asr_data_args "${data_dir}/${train_name}" "${data_dir}/dev" "${token_dir}"

if run_stage stats "feature statistics -> ${stats_dir}"; then
    start=${SECONDS}
    collect_stats "${stats_dir}" "${data_dir}/${train_name}" "${data_dir}/dev"
    stage_done stats stats "${start}"
fi

if run_stage train "training: ${models}"; then
    train_models "${stats_dir}"
fi

if run_stage decode "decoding: ${models} on ${test_sets}"; then
    decode_sets=()
    for name in ${test_sets}; do decode_sets+=("${data_dir}/${name}"); done
    for model in ${models}; do
        start=${SECONDS}
        # shellcheck disable=SC2086
        decode "${exp_dir}/asr_${model}" "${exp_dir}/asr_${model}/decode" --modes ${decode_modes} \
            --streaming_chunk_size "${chunk_size}" --streaming_modes ${decode_modes}
        stage_done decode "decode_${model}" "${start}"
    done
fi

if run_stage score "scoring -> ${results_file}"; then
    start=${SECONDS}
    # shellcheck disable=SC2046,SC2086
    python -m espnet_omnirouter.bin.make_results --exp_dir "${exp_dir}" --data_dir "${data_dir}" \
        --models ${models} --test_sets ${test_sets} \
        --decode_modes ${decode_modes} $(for m in ${decode_modes}; do echo "chunk${chunk_size}/${m}"; done) \
        --output "${results_file}" \
        --header local/results_header.md --stage_times "${exp_dir}/stage_times.tsv" \
        --command "${invocation}" \
        2> "${exp_dir}/make_results.log" \
        || { echo "scoring failed: see ${exp_dir}/make_results.log" >&2; exit 1; }
    stage_done score score "${start}"
fi

if run_stage pack "packing: ${models}"; then
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}"
        packed="${model_dir}/packed/librispeech_asr_${model}.zip"
        python -m espnet_omnirouter.bin.pack_model --exp_dir "${model_dir}" --outpath "${packed}" \
            > "${model_dir}/pack.log" 2>&1 \
            || { echo "packing ${model} failed: see ${model_dir}/pack.log" >&2; exit 1; }
        echo "${packed}: $(du -h "${packed}" | cut -f1)"
        stage_done pack "pack_${model}" "${start}"
    done
fi

if run_stage ood "out-of-domain benchmarks -> ${ood_results_file}"; then
    start=${SECONDS}
    librispeech_args=()  # LibriSpeech's benchmarks from --data_root unless --ood_args names one
    if [[ " ${ood_args} " != *" --librispeech_root "* ]]; then
        needs_data_root 13
        librispeech_args=(--librispeech_root "$(realpath "${data_root}")")
    fi
    model_dirs=()
    for model in ${models}; do model_dirs+=("$(realpath "${exp_dir}/asr_${model}")"); done
    # shellcheck disable=SC2086
    ../../ood_benchmarks/asr1/run.sh --models "${model_dirs[*]}" --nj "${nj}" \
        --data_dir "$(realpath -m "${data_dir}/ood")" --exp_dir "$(realpath -m "${exp_dir}/ood")" \
        --results_file "$(realpath -m "${ood_results_file}")" "${librispeech_args[@]}" ${ood_args} \
        || { echo "out-of-domain evaluation failed (egs/ood_benchmarks/asr1/run.sh)" >&2; exit 1; }
    stage_done ood ood "${start}"
fi
echo "=== done ($(date '+%H:%M:%S'))"
