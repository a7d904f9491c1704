#!/usr/bin/env bash
# ood_benchmarks: score trained models on the Omni-router paper's 10 out-of-domain
# benchmarks (AMI-IHM, CHiME-6, CommonVoice, FLEURS, Callhome, Switchboard, LibriSpeech
# test-clean/test-other, WSJ nov92, TED-LIUM, VoxPopuli) by per-benchmark and average WER.
#
#   ./run.sh --models "/path/to/egs/librispeech/asr1/exp/asr_dense /path/.../asr_omni" \
#       --librispeech_root /data/librispeech --tedlium_root /data/TEDLIUM_release-3 ...
#   ./run.sh --models "..." --test_sets "/data/my_set"   # your own Kaldi data dirs too
#
# One --<corpus>_root per corpus, pointing at it as its publisher distributes it
# (`python -m espnet_omnirouter.bin.prepare_benchmarks --help` says what to obtain); the
# benchmarks of corpora not given are skipped with a message. --models are experiment dirs
# (config.yaml + --model_file), wherever they are; files their configs name relative to their
# recipe dir (ESPnet's convention) are found from the experiment dir. Runs in the Python
# environment where espnet_omnirouter is installed (path.sh checks it); jobs run as cmd.sh says.
#
# Stages (the numbers of egs/TEMPLATE/asr1; logs under ${data_dir}/log and the models' dirs):
#   1 data:    Kaldi dirs of the benchmarks of every corpus given -> ${data_dir}/raw, then
#              per-utterance 16 kHz mono audio -> ${data_dir}/<benchmark> (also --test_sets)
#   6 decode:  every model on every benchmark (bin/decode, --nj jobs): the model decides
#              between --decode_mode (CTC and CTC/attention models) and --u2pp_decode_mode
#              (U2++ models) -> <model>/decode_ood
#   7 score:   ${results_file}: WER per benchmark and average, models compared with bootstrap
#              confidence intervals (Whisper's English text normaliser on both sides)
set -euo pipefail
cd "$(dirname "$0")"
invocation="./run.sh $*"

stage=1
stop_stage=7
nj=2                     # jobs (threads) for preparation, formatting and decoding (cmd.sh)
models=""                # experiment dirs to score
model_file=valid.loss.ave.pth
test_sets=""             # extra Kaldi data dirs (scored under their dir name)
decode_mode=ctc_greedy   # CTC models; no LM (a word LM would be tied to one domain)
u2pp_decode_mode=attention_rescoring
decode_args=""           # extra bin/decode options
sample_rate=16000
data_dir=data
exp_dir=exp
results_file=RESULTS.md
ami_root=""
chime6_root=""
commonvoice_root=""
fleurs_root=""
eval2000_root=""
librispeech_root=""
wsj_root=""
tedlium_root=""
voxpopuli_root=""
corpus_keys="ami chime6 commonvoice fleurs eval2000 librispeech wsj tedlium voxpopuli"
_option_names="stage stop_stage nj models model_file test_sets decode_mode u2pp_decode_mode
decode_args sample_rate data_dir exp_dir results_file $(printf '%s_root ' ${corpus_keys})"
. utils/parse_options.sh
. ../../TEMPLATE/asr1/asr_stages.sh  # stage numbers, run_stage, decode
resolve_stages

[ -n "${models}" ] || [ "${stop_stage}" -lt 6 ] || { echo "$0: --models is required" >&2; exit 1; }
for model in ${models}; do
    [ -f "${model}/config.yaml" ] && [ -f "${model}/${model_file}" ] \
        || { echo "$0: ${model}: no config.yaml or ${model_file}" >&2; exit 1; }
done
. ./path.sh
. ./cmd.sh
describe_environment
mkdir -p "${exp_dir}"
echo "${invocation}" > "${exp_dir}/run_command.txt"
benchmarks() {  # the benchmarks prepared (stage 1) and the extra test sets, in table order
    local name
    python -m espnet_omnirouter.bin.prepare_benchmarks --list | cut -f1 | while read -r name; do
        if [ -d "${data_dir}/raw/${name}" ]; then echo "${name}"; fi
    done
    for name in ${test_sets}; do basename "${name}"; done
}

if run_stage data "prepare the benchmarks of the corpora given, then format them (${sample_rate} Hz)"; then
    roots=()
    for key in ${corpus_keys}; do
        root_var="${key}_root"
        [ -n "${!root_var}" ] && roots+=("--${key}_root" "${!root_var}")
    done
    [ "${#roots[@]}" -gt 0 ] || [ -n "${test_sets}" ] \
        || { echo "$0: give at least one --<corpus>_root or --test_sets" >&2; exit 1; }
    if [ "${#roots[@]}" -gt 0 ]; then
        utils/run_jobs.sh "${train_cmd} --num-threads ${nj}" 1 "${data_dir}/log/prepare.log" \
            prepare python -m espnet_omnirouter.bin.prepare_benchmarks \
            --output_dir "${data_dir}/raw" --num_jobs "${nj}" "${roots[@]}"
    fi
    for name in $(benchmarks); do
        source_dir="${data_dir}/raw/${name}"
        for extra in ${test_sets}; do [ "$(basename "${extra}")" = "${name}" ] && source_dir="${extra}"; done
        utils/run_jobs.sh "${train_cmd} --num-threads ${nj}" 1 "${data_dir}/log/format_${name}.log" \
            format python -m espnet_omnirouter.bin.format_data_dir "${source_dir}" \
            "${data_dir}/${name}" --sample_rate "${sample_rate}" --nj "${nj}"
    done
fi

if run_stage decode "decode ${models}"; then
    decode_sets=()
    for name in $(benchmarks); do decode_sets+=("${data_dir}/${name}"); done
    for model in ${models}; do
        decode "${model}" "${model}/decode_ood" --modes "${decode_mode}" \
            --u2pp_modes "${u2pp_decode_mode}"
    done
fi

if run_stage score "score -> ${results_file}"; then
    specs=()
    for model in ${models}; do specs+=(--model "${model}"); done
    # shellcheck disable=SC2046
    python -m espnet_omnirouter.bin.score_benchmarks --data_dir "${data_dir}" \
        --benchmarks $(benchmarks) "${specs[@]}" --output "${results_file}" \
        --command "${invocation}" 2> "${exp_dir}/score_benchmarks.log" \
        || { echo "scoring failed: see ${exp_dir}/score_benchmarks.log" >&2; exit 1; }
fi
