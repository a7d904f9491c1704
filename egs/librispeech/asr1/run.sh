#!/usr/bin/env bash
# librispeech: dense vs Switch vs Omni-router MoE Conformer CTC/attention (and U2++ MoE) trained
# on LibriSpeech, scored on its test sets and on the paper's out-of-domain benchmarks.
#
#   ./run.sh --data_root /data/librispeech                   # 100 h (train-clean-100)
#   ./run.sh --data_root /data/librispeech --train_set 960 --ngpu 4
#   ./run.sh --data_root /data/librispeech --models "u2pp_dense u2pp_moe"
#   ./run.sh --data_root /data/librispeech --stage 7 \
#       --ood_args "--tedlium_root /data/TEDLIUM_release-3 --ami_root /data/amicorpus"
#
# --data_root is the directory the OpenSLR archives (https://www.openslr.org/12) were unpacked
# in: it holds LibriSpeech/{train-clean-100,dev-clean,dev-other,test-clean,test-other}/ (and
# train-clean-360, train-other-500 for --train_set 960).
# Multi-GPU: --ngpu N runs ESPnet's DDP (one process per GPU; --multiprocessing_distributed
# true is passed for N > 1, since ESPnet's DataParallel default does not replicate the
# Omni-router's shared router). batch_bins in the configs is the global batch.
#
# Stages (logs under ${exp_dir}/, times in ${exp_dir}/stage_times.tsv):
#   1 data:      lhotse manifests -> Kaldi dirs (local/data.sh): ${train_name}, dev
#                (dev-clean + dev-other, validation), dev_clean, dev_other, test_clean, test_other
#   2 tokenizer: sentencepiece unigram (--nbpe; 300 units for 100 h, 5000 for 960 h)
#   3 stats:     feature shapes and global mean/variance (asr_train --collect_stats)
#   4 train:     one model per --models entry, <conf_dir>/train_<model>.yaml; ESPnet averages the
#                keep_nbest_models best checkpoints (valid loss) into valid.loss.ave.pth
#   5 decode:    --test_sets with --decode_modes (bin/decode); U2++ models also with attention
#                chunks of --chunk_size frames (= streaming)
#   6 score:     WER per set, average, bootstrap CIs -> ${results_file}
#   7 ood:       egs/ood_benchmarks/asr1/run.sh on the trained models: LibriSpeech test-clean/
#                test-other from --data_root plus the corpora of --ood_args -> ${ood_results_file}
#   8 pack:      one archive per model -> ${exp_dir}/asr_<model>/packed/librispeech_asr_<model>.zip
set -euo pipefail
cd "$(dirname "$0")"
invocation="./run.sh $*"

stage=1
stop_stage=8
nj=4                  # parallel jobs for data preparation, statistics and decoding
ngpu=1                # GPUs for training (0: CPU)
data_root=""          # holds LibriSpeech/ (required by stages 1 and 7)
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
. local/parse_options.sh
. ./path.sh

case "${train_set}" in
    100) train_name=train_clean_100; nbpe="${nbpe:-300}" ;;
    960) train_name=train_960; nbpe="${nbpe:-5000}" ;;
    *) echo "$0: --train_set must be 100 or 960, not '${train_set}'" >&2; exit 1 ;;
esac
if [ -n "${asr_config}" ]; then
    [ -f "${asr_config}" ] || { echo "$0: --asr_config ${asr_config} not found" >&2; exit 1; }
    tag="${tag:-$(basename "${asr_config}" .yaml)}"
    tag="${tag#train_}"
    models="${tag}"
fi
config_of() { if [ -n "${asr_config}" ]; then echo "${asr_config}"; else echo "${conf_dir}/train_$1.yaml"; fi; }
for model in ${models}; do
    [ -f "$(config_of "${model}")" ] || { echo "$0: no config $(config_of "${model}")" >&2; exit 1; }
done
needs_data_root() {
    [ -n "${data_root}" ] || { echo "$0: stage $1 needs --data_root (the directory holding LibriSpeech/)" >&2; exit 1; }
    [ -d "${data_root}" ] || { echo "$0: --data_root ${data_root}: no such directory" >&2; exit 1; }
}

token_dir="${data_dir}/token_list/bpe_unigram${nbpe}"
stats_dir="${exp_dir}/asr_stats_${train_name}"
mkdir -p "${exp_dir}"
[ "${stage}" -le 1 ] && rm -f "${exp_dir}/stage_times.tsv"
echo "${invocation}" > "${exp_dir}/run_command.txt"
run_stage() {  # run_stage N NAME: whether stage N runs; logs it
    if [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; then
        echo "=== stage $1: $2 ($(date '+%H:%M:%S'))"
        return 0
    fi
    return 1
}
stage_done() { printf '%s\t%s\t%s\n' "$1" "$2" "$((SECONDS - $3))" >> "${exp_dir}/stage_times.tsv"; }
espnet() { python -m espnet_omnirouter.bin.espnet "$@"; }

if run_stage 1 "data: LibriSpeech ${train_set} h from ${data_root} -> ${data_dir}"; then
    needs_data_root 1
    start=${SECONDS}
    local/data.sh --data_root "${data_root}" --train_set "${train_set}" --data_dir "${data_dir}" \
        --nj "${nj}"
    stage_done 1 data "${start}"
fi

if run_stage 2 "tokenizer (unigram, ${nbpe} units) -> ${token_dir}"; then
    start=${SECONDS}
    tmp_dir="${token_dir}.tmp"  # built aside, renamed when complete
    rm -rf "${token_dir}" "${tmp_dir}" && mkdir -p "${tmp_dir}"
    cut -d' ' -f2- "${data_dir}/${train_name}/text" > "${tmp_dir}/train_text"
    python -c 'import sys, sentencepiece; sentencepiece.SentencePieceTrainer.train(sys.argv[1])' \
        "--input=${tmp_dir}/train_text --vocab_size=${nbpe} --model_type=unigram \
        --model_prefix=${tmp_dir}/bpe --character_coverage=1.0 --input_sentence_size=100000000 \
        --hard_vocab_limit=false" > "${tmp_dir}/spm_train.log" 2>&1 \
        || { echo "sentencepiece failed: see ${tmp_dir}/spm_train.log" >&2; exit 1; }
    espnet espnet2.bin.tokenize_text --token_type bpe --bpemodel "${tmp_dir}/bpe.model" \
        --input "${data_dir}/${train_name}/text" --output "${tmp_dir}/tokens.txt" --field 2- \
        --cleaner none --g2p none --write_vocabulary true \
        --add_symbol '<blank>:0' --add_symbol '<unk>:1' --add_symbol '<sos/eos>:-1' \
        2> "${tmp_dir}/tokenize_text.log" \
        || { echo "tokenize_text failed: see ${tmp_dir}/tokenize_text.log" >&2; exit 1; }
    rm "${tmp_dir}/train_text"
    mv "${tmp_dir}" "${token_dir}"
    echo "token list: ${token_dir}/tokens.txt ($(wc -l < "${token_dir}/tokens.txt") tokens)"
    stage_done 2 tokenizer "${start}"
fi

common_args=(
    --use_preprocessor true --token_type bpe --bpemodel "${token_dir}/bpe.model"
    --token_list "${token_dir}/tokens.txt" --non_linguistic_symbols none --cleaner none --g2p none
    --train_data_path_and_name_and_type "${data_dir}/${train_name}/wav.scp,speech,sound"
    --train_data_path_and_name_and_type "${data_dir}/${train_name}/text,text,text"
    --valid_data_path_and_name_and_type "${data_dir}/dev/wav.scp,speech,sound"
    --valid_data_path_and_name_and_type "${data_dir}/dev/text,text,text"
)

if run_stage 3 "feature statistics -> ${stats_dir}"; then
    start=${SECONDS}
    rm -rf "${stats_dir}" "${stats_dir}.tmp"
    first_model="${models%% *}"
    python -m espnet_omnirouter.bin.asr_train --collect_stats true "${common_args[@]}" \
        --config "$(config_of "${first_model}")" --normalize none --ngpu 0 --num_workers "${nj}" \
        --train_shape_file "${data_dir}/${train_name}/wav.scp" \
        --valid_shape_file "${data_dir}/dev/wav.scp" \
        --output_dir "${stats_dir}.tmp" > "${exp_dir}/asr_stats.log" 2>&1 \
        || { echo "collect_stats failed: see ${exp_dir}/asr_stats.log" >&2; exit 1; }
    mv "${stats_dir}.tmp" "${stats_dir}"
    stage_done 3 stats "${start}"
fi

if run_stage 4 "training: ${models}"; then
    # Several GPUs: ESPnet's DDP, one process per GPU (its default is DataParallel, which
    # does not replicate the Omni-router's shared router).
    ddp_args=()
    [ "${ngpu}" -gt 1 ] && ddp_args=(--multiprocessing_distributed true)
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}"
        if [ -f "${model_dir}/valid.loss.ave.pth" ]; then
            echo "${model_dir}: already trained, skipping (delete it to retrain)"
            continue
        fi
        echo "training ${model} ($(config_of "${model}")): log ${model_dir}/train.log"
        mkdir -p "${model_dir}"
        # shellcheck disable=SC2086
        python -m espnet_omnirouter.bin.asr_train "${common_args[@]}" \
            --config "$(config_of "${model}")" --ngpu "${ngpu}" --resume true "${ddp_args[@]}" \
            --normalize_conf "stats_file=${stats_dir}/train/feats_stats.npz" \
            --train_shape_file "${stats_dir}/train/speech_shape" \
            --train_shape_file "${stats_dir}/train/text_shape" \
            --valid_shape_file "${stats_dir}/valid/speech_shape" \
            --valid_shape_file "${stats_dir}/valid/text_shape" \
            --output_dir "${model_dir}" ${train_args} > "${model_dir}/train.log" 2>&1 \
            || { echo "training ${model} failed: see ${model_dir}/train.log" >&2; exit 1; }
        grep "epoch results" "${model_dir}/train.log" | tail -n 1 | cut -c1-300 || true
        stage_done 4 "train_${model}" "${start}"
    done
fi

is_u2pp() { grep -q "^encoder: *u2pp_conformer" "${exp_dir}/asr_$1/config.yaml"; }
decode() {  # decode MODEL OUTPUT_DIR [bin/decode options]: every test set, log appended
    local model_dir="${exp_dir}/asr_$1"
    # shellcheck disable=SC2046,SC2086
    python -m espnet_omnirouter.bin.decode $(for s in ${test_sets}; do echo "${data_dir}/${s}"; done) \
        --asr_train_config "${model_dir}/config.yaml" --output_dir "$2" --nj "${nj}" \
        --asr_model_file "${model_dir}/valid.loss.ave.pth" --modes ${decode_modes} "${@:3}" \
        ${decode_args} 2>> "${model_dir}/decode.log" \
        || { echo "decoding $1 failed: see ${model_dir}/decode.log" >&2; exit 1; }
}

if run_stage 5 "decoding: ${models} on ${test_sets}"; then
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}"
        rm -f "${model_dir}/decode.log"
        decode "${model}" "${model_dir}/decode"
        if is_u2pp "${model}"; then
            decode "${model}" "${model_dir}/decode/chunk${chunk_size}" \
                --decoding_chunk_size "${chunk_size}"
        fi
        stage_done 5 "decode_${model}" "${start}"
    done
fi

if run_stage 6 "scoring -> ${results_file}"; then
    start=${SECONDS}
    # shellcheck disable=SC2046,SC2086
    python -m espnet_omnirouter.bin.make_results --exp_dir "${exp_dir}" --data_dir "${data_dir}" \
        --models ${models} --test_sets ${test_sets} \
        --decode_modes ${decode_modes} $(for m in ${decode_modes}; do echo "chunk${chunk_size}/${m}"; done) \
        --output "${results_file}" \
        --header local/results_header.md --stage_times "${exp_dir}/stage_times.tsv" \
        --command "$(cat "${exp_dir}/run_command.txt")" \
        2> "${exp_dir}/make_results.log" \
        || { echo "scoring failed: see ${exp_dir}/make_results.log" >&2; exit 1; }
    stage_done 6 score "${start}"
fi

absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

if run_stage 7 "out-of-domain benchmarks -> ${ood_results_file}"; then
    start=${SECONDS}
    librispeech_args=()  # LibriSpeech's benchmarks from --data_root unless --ood_args names one
    if [[ " ${ood_args} " != *" --librispeech_root "* ]]; then
        needs_data_root 7
        librispeech_args=(--librispeech_root "$(absolute "${data_root}")")
    fi
    mkdir -p "${data_dir}/ood" "${exp_dir}/ood"
    model_dirs="$(for model in ${models}; do absolute "${exp_dir}/asr_${model}"; done)"
    # shellcheck disable=SC2086
    ../../ood_benchmarks/asr1/run.sh --models "${model_dirs//$'\n'/ }" --nj "${nj}" \
        --data_dir "$(absolute "${data_dir}/ood")" --exp_dir "$(absolute "${exp_dir}/ood")" \
        --results_file "$(absolute "${ood_results_file}")" "${librispeech_args[@]}" ${ood_args} \
        || { echo "out-of-domain evaluation failed (egs/ood_benchmarks/asr1/run.sh)" >&2; exit 1; }
    stage_done 7 ood "${start}"
fi

if run_stage 8 "packing: ${models}"; then
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}"
        packed="${model_dir}/packed/librispeech_asr_${model}.zip"
        python -m espnet_omnirouter.bin.pack_model --exp_dir "${model_dir}" --outpath "${packed}" \
            > "${model_dir}/pack.log" 2>&1 \
            || { echo "packing ${model} failed: see ${model_dir}/pack.log" >&2; exit 1; }
        echo "${packed}: $(du -h "${packed}" | cut -f1)"
        stage_done 8 "pack_${model}" "${start}"
    done
fi
echo "=== done ($(date '+%H:%M:%S'))"
