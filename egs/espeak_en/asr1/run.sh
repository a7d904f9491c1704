#!/usr/bin/env bash
# espeak_en: synthesised English speech, dense vs Switch vs Omni-router MoE Conformer CTC.
#
#   ./run.sh                          # everything, ~60 min on 2 CPU cores
#   ./run.sh --stage 6 --stop_stage 7 # re-decode and re-score (or --stage decode --stop_stage score)
#   ./run.sh --models omni --train_args "--max_epoch 10"
#   ./run.sh --models "u2pp_dense u2pp_moe"   # U2++: full-context and streaming decoding
#   ./run.sh --self_train true        # and self-training on pseudo-labels (stage 12)
#
# The default recipe sets up what it needs on a fresh machine (--setup true): the Debian
# packages espeak-ng, flite and sox where missing (tools/install_system_deps.sh: apt-get, as
# root or with sudo) and, where no Python environment with espnet_omnirouter is active, the
# project's own (tools/setup_venv.sh). --setup false only checks and says what is missing.
# Jobs run as cmd.sh says (this machine, or a cluster: OMNIROUTER_CMD_BACKEND=slurm).
#
# Stages (the numbers of egs/TEMPLATE/asr1; logs under ${exp_dir}/, times in
# ${exp_dir}/stage_times.tsv):
#   1 data:       synthesise train/dev and the test sets (local/data.sh, --nj jobs)
#   2 tokenizer:  sentencepiece unigram model, token list by ESPnet's tokenize_text
#   3 lm:         lexicon of the training words + word n-gram LM of the training text
#   4 stats:      feature shapes and global mean/variance (asr_train --collect_stats)
#   5 train:      one model per --models entry, <conf_dir>/train_<model>.yaml; ESPnet averages the
#                 --keep_nbest_models best checkpoints (valid loss) into valid.loss.ave.pth; one
#                 line per epoch on the console
#   6 decode:     every test set, --nj jobs per model; bin/decode picks from the model: CTC models
#                 with --decode_modes (ctc_lexicon_lm's LM weight and word score first tuned on
#                 --tune_set), U2++ models with --u2pp_decode_modes and streaming
#   7 score:      WER per set, average, bootstrap CIs -> ${results_file} and each model's RESULTS.md
#   8 routing:    expert choices on every test set, layer association, load, random-reassignment
#                 ablation -> ${exp_dir}/asr_<model>/routing; comparison figures -> ${figures_dir}
#   9 pack:       one archive per model (config, checkpoint, tokenizer, statistics, word LM, results,
#                 plots, model card) -> ${exp_dir}/asr_<model>/packed/espeak_en_asr_<model>.zip
#  10 publish:    upload each archive to the Hugging Face Hub repo --hf_repo (skipped without it)
#  11 export:     ONNX export of each model (sparse MoE routing; U2++ also its streaming chunk
#                 encoder and decoders) -> ${exp_dir}/asr_<model>/onnx, then the torch-free
#                 runtime transcribes --export_check_utts test_clean utterances (U2++: streaming);
#                 with --frontend kaldi_fbank also bin/export --format sherpa-onnx --int8 ->
#                 ${exp_dir}/asr_<model>/sherpa_onnx
#  12 self_train: with --self_train true: each model pseudo-labels the untranscribed pool
#                 (--num_pool utterances of shifted voices, rates and noise, made by stage 1 or
#                 here; bin/pseudo_label), its most confident --pl_keep_fraction joins the
#                 training set, asr_<model>_st is trained from scratch on both, decoded and
#                 scored -> ${results_file} (a self-training table: pseudo-label WER per
#                 filtering level, test WERs before and after)
set -euo pipefail
cd "$(dirname "$0")"
invocation="./run.sh $*"

stage=1
stop_stage=12         # stage 12 runs only with --self_train true
setup=true            # install what is missing (Debian packages, the project's venv); false: check
nj=2                  # jobs for synthesis and decoding (cmd.sh: on this machine or a cluster)
ngpu=0                # GPUs for training (0: CPU)
models="dense switch omni"
conf_dir=conf         # model configs: <conf_dir>/train_<model>.yaml (conf/large: GPU-sized)
asr_config=""         # train one model with this config instead of <conf_dir>/train_<model>.yaml
tag=""                # experiment name with --asr_config (default: the config's name)
frontend=""           # kaldi_fbank: the features sherpa-onnx computes (models <model>_kaldi_fbank)
train_args=""         # extra asr_train options, e.g. "--max_epoch 10"
num_train=3000        # training utterances
num_dev=150
num_test=200          # utterances per test set
vocab_size=50         # sentencepiece unigram; near-character units learn fastest here
lm_order=3            # word n-gram LM for ctc_lexicon_lm decoding
decode_modes="ctc_lexicon_lm ctc_greedy"  # CTC models (dense, switch, omni)
u2pp_decode_modes="attention_rescoring ctc_prefix_beam_search"  # U2++ models, full context
streaming_chunk_size=16  # U2++ models are also decoded streaming, chunks of this many frames
tune_set=dev          # ctc_lexicon_lm's LM weight and word score are chosen on it ("": fixed)
decode_args=""        # extra bin/decode options, e.g. "--lm_weights 1,2 --word_scores 0"
data_dir=data
exp_dir=exp
results_file=""       # "": RESULTS.md (RESULTS_<frontend>.md with --frontend)
figures_dir=""        # routing and loss figures compared across models ("": figures[_<frontend>])
ablation_sets="test_clean"
ablation_fractions="0,0.1,0.5,1"   # shares of routing decisions reassigned at random
test_sets="test_clean test_accent test_flite test_fast test_noise test_reverb test_telephone test_text"
hf_repo=""            # Hub repo per model, {model} replaced, e.g. "me/espeak_en_asr_{model}"
hf_dry_run=false      # true: build the files stage 10 would upload, upload nothing
export_check_utts=3   # test_clean utterances the exported models transcribe in stage 11
self_train=false      # true: stage 12, self-training on pseudo-labels of an untranscribed pool
num_pool=1500         # untranscribed pool utterances (stage 1 makes them with --self_train true)
pl_keep_fraction=0.8  # the most confident share of the pseudo-labels added to training
_option_names="stage stop_stage setup nj ngpu models conf_dir asr_config tag frontend train_args num_train num_dev
num_test vocab_size lm_order decode_modes u2pp_decode_modes streaming_chunk_size tune_set decode_args
data_dir exp_dir results_file test_sets
figures_dir ablation_sets ablation_fractions hf_repo hf_dry_run export_check_utts self_train num_pool
pl_keep_fraction"
. utils/parse_options.sh
. ../../TEMPLATE/asr1/asr_stages.sh  # stage numbers, run_stage, train_models, decode, ...
resolve_stages
if [ "${setup}" = true ]; then  # what the README's first command needs on a fresh machine
    if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
        bash ../../../tools/install_system_deps.sh  # for stage 1
    fi
    # shellcheck disable=SC1091
    ( . ./path.sh ) 2>/dev/null || source ../../../tools/setup_venv.sh
fi
. ./path.sh
. ./cmd.sh
resolve_models
describe_environment

token_dir="${data_dir}/token_list/bpe_unigram${vocab_size}"
lm_dir="${exp_dir}/lm_word${lm_order}gram"
stats_dir="${exp_dir}/asr_stats${frontend:+_${frontend}}"
results_file="${results_file:-RESULTS${frontend:+_${frontend}}.md}"
figures_dir="${figures_dir:-figures${frontend:+_${frontend}}}"
mkdir -p "${exp_dir}"
[ "${stage}" -le 1 ] && rm -f "${exp_dir}/stage_times.tsv"
echo "${invocation}" > "${exp_dir}/run_command.txt"

make_data() {  # local/data.sh: the sets not yet made (the pool with --self_train true)
    local pool=0
    [ "${self_train}" = true ] && pool="${num_pool}"
    local/data.sh --data_dir "${data_dir}" --num_train "${num_train}" --num_dev "${num_dev}" \
        --num_test "${num_test}" --num_pool "${pool}" --nj "${nj}"
}

if run_stage data "data"; then
    require_commands data espeak-ng flite sox
    start=${SECONDS}
    make_data
    stage_done data data "${start}"
fi

if run_stage tokenizer "tokenizer -> ${token_dir}"; then
    start=${SECONDS}
    train_tokenizer "${data_dir}/train/text" "${vocab_size}" "${token_dir}"
    stage_done tokenizer tokenizer "${start}"
fi

if run_stage lm "lexicon and word ${lm_order}-gram LM -> ${lm_dir}"; then
    start=${SECONDS}
    rm -rf "${lm_dir}" "${lm_dir}.tmp"
    python -m espnet_omnirouter.bin.make_lexicon_lm --text "${data_dir}/train/text" \
        --bpemodel "${token_dir}/bpe.model" --token_list "${token_dir}/tokens.txt" \
        --order "${lm_order}" --dev_text "${data_dir}/dev/text" --output_dir "${lm_dir}.tmp" \
        2> "${exp_dir}/make_lexicon_lm.log" \
        || { echo "make_lexicon_lm failed: see ${exp_dir}/make_lexicon_lm.log" >&2; exit 1; }
    mv "${lm_dir}.tmp" "${lm_dir}"
    stage_done lm lm "${start}"
fi

set_asr_data_args "${data_dir}/train" "${data_dir}/dev" "${token_dir}"

if run_stage stats "feature statistics -> ${stats_dir}"; then
    start=${SECONDS}
    collect_stats "${stats_dir}" "${data_dir}/train" "${data_dir}/dev"
    stage_done stats stats "${start}"
fi

if run_stage train "training: ${models}"; then
    train_models "${stats_dir}"
fi

decode_model() {  # MODEL: every test set into ${exp_dir}/asr_<MODEL>/decode
    local decode_sets=() name start=${SECONDS}
    for name in ${test_sets}; do decode_sets+=("${data_dir}/${name}"); done
    # shellcheck disable=SC2086
    decode "${exp_dir}/asr_$1" "${exp_dir}/asr_$1/decode" \
        --modes ${decode_modes} --u2pp_modes ${u2pp_decode_modes} \
        --streaming_chunk_size "${streaming_chunk_size}" --streaming_modes streaming \
        --lm_dir "${lm_dir}" ${tune_set:+--tune_set "${data_dir}/${tune_set}"}
    stage_done decode "decode_$1" "${start}"
}

score_models() {  # MODELS [more --footer files before the reading]: -> ${results_file}
    local footers=() extra
    for extra in "${@:2}"; do footers+=(--footer "${extra}"); done
    # shellcheck disable=SC2086
    python -m espnet_omnirouter.bin.make_results --exp_dir "${exp_dir}" --data_dir "${data_dir}" \
        --models $1 --test_sets ${test_sets} \
        --decode_modes ${decode_modes} ${u2pp_decode_modes} "chunk${streaming_chunk_size}/streaming" \
        --output "${results_file}" --header local/results_header.md \
        "${footers[@]}" --footer local/results_reading.md \
        --stage_times "${exp_dir}/stage_times.tsv" --command "${invocation}" \
        --figures_dir "${figures_dir}" 2> "${exp_dir}/make_results.log" \
        || { echo "scoring failed: see ${exp_dir}/make_results.log" >&2; exit 1; }
}

if run_stage decode "decoding: ${models} on ${test_sets}"; then
    for model in ${models}; do decode_model "${model}"; done
fi

if run_stage score "scoring -> ${results_file}"; then
    start=${SECONDS}
    score_models "${models}"
    scored=true  # the routing stage below rewrites ${results_file} with its figures
    stage_done score score "${start}"
fi

if run_stage routing "routing analysis: ${models} -> ${figures_dir}"; then
    start=${SECONDS}
    for model in ${models}; do
        model_dir="${exp_dir}/asr_${model}"
        # shellcheck disable=SC2046
        utils/run_jobs.sh "${decode_cmd}" 1 "${model_dir}/analyze_routing.log" routing \
            python -m espnet_omnirouter.bin.analyze_routing --model "${model_dir}" \
            --output_dir "${model_dir}/routing" --ablation_fractions "${ablation_fractions}" \
            $(for s in ${ablation_sets}; do echo "--ablation_set ${data_dir}/${s}"; done) \
            $(for s in ${test_sets}; do echo "${data_dir}/${s}"; done)
    done
    # shellcheck disable=SC2046
    python -m espnet_omnirouter.bin.plot_routing --output_dir "${figures_dir}" \
        $(for model in ${models}; do echo "${exp_dir}/asr_${model}"; done) \
        > "${exp_dir}/plot_routing.log" 2>&1 \
        || { echo "plotting failed: see ${exp_dir}/plot_routing.log" >&2; exit 1; }
    cat "${figures_dir}/routing_summary.md"
    if [ "${scored:-false}" = true ]; then score_models "${models}" > /dev/null; fi
    stage_done routing routing "${start}"
fi

packed_model() { echo "${exp_dir}/asr_$1/packed/espeak_en_asr_$1.zip"; }

if run_stage pack "packing: ${models}"; then
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}"
        python -m espnet_omnirouter.bin.pack_model --exp_dir "${model_dir}" \
            --outpath "$(packed_model "${model}")" --option "${lm_dir}" > "${model_dir}/pack.log" 2>&1 \
            || { echo "packing ${model} failed: see ${model_dir}/pack.log" >&2; exit 1; }
        echo "$(packed_model "${model}"): $(du -h "$(packed_model "${model}")" | cut -f1)"
        stage_done pack "pack_${model}" "${start}"
    done
fi

if run_stage publish "publishing to the Hugging Face Hub"; then
    if [ -z "${hf_repo}" ]; then
        echo "no --hf_repo: nothing published (e.g. --hf_repo 'me/espeak_en_asr_{model}')"
    else
        dry_run=""
        [ "${hf_dry_run}" = true ] && dry_run="--dry_run"
        for model in ${models}; do
            # shellcheck disable=SC2086
            python -m espnet_omnirouter.bin.publish --packed_model "$(packed_model "${model}")" \
                --hf_repo "${hf_repo//\{model\}/${model}}" ${dry_run} \
                2> "${exp_dir}/asr_${model}/publish.log" \
                || { echo "publishing ${model} failed: see ${exp_dir}/asr_${model}/publish.log" >&2; exit 1; }
        done
    fi
fi
if run_stage export "ONNX export: ${models}"; then
    check_audio=$(head -n "${export_check_utts}" "${data_dir}/test_clean/wav.scp" | cut -d' ' -f2)
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}"
        # bin/export checks each graph against the eager model (its [export] lines) and
        # fails where one differs; the runtime then transcribes streaming where the export
        # streams (U2++), else with CTC greedy search.
        python -m espnet_omnirouter.bin.export --model "${model_dir}" --output_dir "${model_dir}/onnx" \
            2> "${model_dir}/export.log" \
            || { echo "exporting ${model} failed: see ${model_dir}/export.log" >&2; exit 1; }
        # shellcheck disable=SC2086
        python -m espnet_omnirouter.runtime.transcribe --model "${model_dir}/onnx" --mode auto \
            --chunk_size "${streaming_chunk_size}" --output_jsonl "${model_dir}/onnx/check.jsonl" \
            ${check_audio} 2>> "${model_dir}/export.log" \
            || { echo "the runtime failed on ${model}: see ${model_dir}/export.log" >&2; exit 1; }
        if [ "${frontend}" = kaldi_fbank ]; then  # and what sherpa-onnx loads
            python -m espnet_omnirouter.bin.export --model "${model_dir}" --format sherpa-onnx \
                --int8 --output_dir "${model_dir}/sherpa_onnx" 2>> "${model_dir}/export.log" \
                || { echo "the sherpa-onnx export of ${model} failed: see ${model_dir}/export.log" >&2; exit 1; }
            echo "sherpa-onnx: ${model_dir}/sherpa_onnx"
        fi
        head -n "${export_check_utts}" "${data_dir}/test_clean/text" | sed 's/^/  reference: /'
        stage_done export "export_${model}" "${start}"
    done
fi

if [ "${self_train}" = true ] && run_stage self_train "self-training: ${models}"; then
    start=${SECONDS}
    make_data  # the pool, if stage 1 ran without --self_train true
    stage_done self_train pool_data "${start}"
    st_models=""
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}" labels="${data_dir}/pool_pl_${model}"
        echo "pseudo-labelling ${data_dir}/pool with ${model}: log ${model_dir}/pseudo_label.log"
        python -m espnet_omnirouter.bin.pseudo_label --model "${model_dir}" --lm_dir "${lm_dir}" \
            --keep_fraction "${pl_keep_fraction}" --nj "${nj}" --output_dir "${labels}" \
            "${data_dir}/pool" > "${model_dir}/pseudo_label.log" 2>&1 \
            || { echo "pseudo-labelling failed: see ${model_dir}/pseudo_label.log" >&2; exit 1; }
        tail -n 1 "${model_dir}/pseudo_label.log"
        python local/self_training.py score --work_dir "${labels}.work" \
            --truth "${data_dir}/pool/text" --output "${exp_dir}/asr_${model}_st/pseudo_labels.json"
        python local/self_training.py combine --output "${data_dir}/train_st_${model}" \
            "${data_dir}/train" "${labels}"
        stage_done self_train "pseudo_label_${model}" "${start}"
        (   # the model's config, trained from scratch on labelled + pseudo-labelled data
            asr_config="$(config_of "${model}")" models="${model}_st"
            set_asr_data_args "${data_dir}/train_st_${model}" "${data_dir}/dev" "${token_dir}"
            [ -f "${exp_dir}/asr_stats_st_${model}/train/feats_stats.npz" ] \
                || collect_stats "${exp_dir}/asr_stats_st_${model}" "${data_dir}/train_st_${model}" \
                    "${data_dir}/dev"
            train_models "${exp_dir}/asr_stats_st_${model}"
        )
        decode_model "${model}_st"
        st_models+=" ${model}_st"
    done
    # shellcheck disable=SC2086
    python local/self_training.py table --exp_dir "${exp_dir}" --data_dir "${data_dir}" \
        --models ${models} --test_sets ${test_sets} --mode "${decode_modes%% *}" \
        --command "${invocation}" --output "${exp_dir}/self_training.md"
    score_models "${models}${st_models}" "${exp_dir}/self_training.md" \
        local/self_training_reading.md
fi
echo "=== done ($(date '+%H:%M:%S'))"
