#!/usr/bin/env bash
# espeak_en with ESPnet3: dense vs Switch vs Omni-router MoE Conformer CTC (or U2++), every
# stage through ESPnet3's own run.py, then the results table (RESULTS.md).
#
#   ./run.sh                                   # dense switch omni (about 2 h on 2 CPU cores)
#   ./run.sh --models "u2pp_dense u2pp_moe"    # U2++, decoded with attention_rescoring
#   ESPEAK_EN_DATA=/path/to/egs/espeak_en/asr1/data ./run.sh   # the ESPnet2 recipe's data
#
# Per model, one `python run.py --stages <stage> ...` per stage (its wall time goes to
# exp/stage_times.tsv): create_dataset, train_tokenizer and collect_stats once (shared by the
# models: data/, data/unigram_50, exp/stats), then train (every model), infer, measure and
# pack_model with conf/training_<model>.yaml and conf/inference_<mode>.yaml (ctc_greedy;
# attention_rescoring for U2++). Then python -m espnet_omnirouter.bin.make_results --espnet3
# writes RESULTS.md.
# The environment needs ESPnet 202609 or later with its train extra and espnet_omnirouter
# (tools/setup_venv_espnet202611.sh makes one).
set -euo pipefail
cd "$(dirname "$0")"
invocation="${ESPEAK_EN_DATA:+ESPEAK_EN_DATA=${ESPEAK_EN_DATA} }./run.sh${*:+ $*}"
models="dense switch omni"
while [ $# -gt 0 ]; do
    case "$1" in
        --models) models="$2"; shift 2 ;;
        *) echo "usage: ./run.sh [--models \"dense switch omni\"]" >&2; exit 2 ;;
    esac
done
test_sets="test_clean test_accent test_flite test_fast test_noise test_reverb test_telephone test_text"
mkdir -p exp
rm -f exp/stage_times.tsv

run_stage() {  # STAGE STEP MODEL [run.py config options...]
    local stage="$1" step="$2" model="$3" start=${SECONDS}
    shift 3
    echo "=== ${step}: python run.py --stages ${stage} $* ($(date '+%H:%M:%S'))"
    python run.py --stages "${stage}" --training_config "conf/training_${model}.yaml" "$@"
    printf '%s\t%s\t%s\n' "${stage}" "${step}" "$((SECONDS - start))" >> exp/stage_times.tsv
}

first_model="${models%% *}"
for stage in create_dataset train_tokenizer collect_stats; do
    run_stage "${stage}" "${stage}" "${first_model}"
done
for model in ${models}; do  # every model trained before any is decoded
    run_stage train "train_${model}" "${model}"
done
# Each model's decoding mode is read from the trained model (local/decoding_mode.py:
# attention_rescoring with an attention decoder, else ctc_greedy).
modes=()
for model in ${models}; do
    mode="$(python local/decoding_mode.py "exp/training_${model}/config.yaml")"
    [[ " ${modes[*]} " == *" ${mode} "* ]] || modes+=("${mode}")
    for stage in infer measure pack_model; do
        run_stage "${stage}" "${stage}_${model}" "${model}" \
            --inference_config "conf/inference_${mode}.yaml" \
            --metrics_config conf/metrics.yaml --publication_config conf/publication.yaml
    done
done

# shellcheck disable=SC2086
python -m espnet_omnirouter.bin.make_results --espnet3 --exp_dir exp \
    --data_dir "${ESPEAK_EN_DATA:-data}" --models ${models} --test_sets ${test_sets} \
    --decode_modes "${modes[@]}" --output RESULTS.md --header local/results_header.md \
    --footer local/results_reading.md \
    --stage_times exp/stage_times.tsv --command "${invocation}"
echo "=== done ($(date '+%H:%M:%S')): RESULTS.md"
