# The skeleton every recipe shares (egs/*/asr1/run.sh source it after parsing their options),
# like ESPnet's egs2/TEMPLATE/asr1/asr.sh: one numbering of the stages, and the stages the
# recipes have in common. Functions read the recipe's variables stage, stop_stage, exp_dir,
# models, conf_dir, asr_config, tag, frontend, ngpu, nj, train_args, decode_args and the job
# commands of cmd.sh (train_cmd, cuda_cmd, decode_cmd).
#
# Stages: a step has the same number in every recipe that has it (--help of each recipe lists
# its own); --stage and --stop_stage take the number or the name.
#    1 data        the corpus as Kaldi data dirs (local/data.sh)
#    2 tokenizer   sentencepiece model and ESPnet token list
#    3 lm          lexicon and word n-gram LM (for ctc_lexicon_lm decoding)
#    4 stats       feature shapes and global mean/variance
#    5 train       every model of --models
#    6 decode      every test set with the modes that suit each model (bin/decode --modes auto)
#    7 score       WER tables -> RESULTS.md
#    8 routing     routing analysis and comparison figures
#    9 pack        one model archive per model
#   10 publish     upload to the Hugging Face Hub
#   11 export      ONNX export and a check with the torch-free runtime
#   12 self_train  self-training on pseudo-labels of the trained models (espeak_en: --self_train true)
#   13 ood         the out-of-domain benchmarks (egs/ood_benchmarks/asr1)
#
#   resolve_stages                  --stage/--stop_stage names into numbers
#   resolve_models                  --asr_config/--tag into ${models}; every config must exist;
#                                   with --frontend kaldi_fbank each model is <model>_kaldi_fbank,
#                                   its config derived into ${exp_dir}/conf (frontend replaced)
#   config_of MODEL                 the model's config file
#   run_stage NAME DESCRIPTION      whether stage NAME is in [--stage, --stop_stage] (prints it)
#   stage_done NAME LABEL START     append LABEL's seconds to ${exp_dir}/stage_times.tsv
#   require_commands NAME CMD...    fail, naming them, when commands stage NAME needs are missing
#   describe_environment            print the Python and espnet_omnirouter the recipe uses
#   train_tokenizer TEXT UNITS DIR  sentencepiece unigram model + ESPnet token list in DIR
#   set_asr_data_args TRAIN DEV TOKEN_DIR   asr_train's data and token options -> asr_data_args
#   collect_stats STATS_DIR TRAIN DEV       feature shapes and mean/variance (first model's config)
#   train_models STATS_DIR          train every model of ${models} into ${exp_dir}/asr_<model>
#   decode MODEL_DIR OUTPUT_DIR [OPTS]      bin/decode of every dir of ${decode_sets[@]}
#
# Jobs run through utils/run_jobs.sh (cmd.sh: omnirouter-jobs), which prints their progress lines:
# one line per epoch while a model trains, one per test set and job while it decodes.

declare -A STAGE_NUMBERS=(
    [data]=1 [tokenizer]=2 [lm]=3 [stats]=4 [train]=5 [decode]=6 [score]=7 [routing]=8
    [pack]=9 [publish]=10 [export]=11 [self_train]=12 [ood]=13
)

resolve_stages() {
    local name
    for name in stage stop_stage; do
        if [[ ! "${!name}" =~ ^[0-9]+$ ]]; then
            [ -n "${STAGE_NUMBERS[${!name}]:-}" ] || {
                echo "$0: --${name} ${!name}: a stage number or one of ${!STAGE_NUMBERS[*]}" >&2
                exit 1
            }
            printf -v "${name}" '%s' "${STAGE_NUMBERS[${!name}]}"
        fi
    done
}

resolve_models() {
    if [ -n "${asr_config}" ]; then
        [ -f "${asr_config}" ] || { echo "$0: --asr_config ${asr_config} not found" >&2; exit 1; }
        tag="${tag:-$(basename "${asr_config}" .yaml)}"
        tag="${tag#train_}"
        models="${tag}"
    fi
    local model
    for model in ${models}; do
        [ -f "$(config_of "${model}")" ] || { echo "$0: no config $(config_of "${model}")" >&2; exit 1; }
    done
    case "${frontend:-}" in
        "") ;;
        kaldi_fbank) derive_frontend_configs ;;
        *) echo "$0: --frontend ${frontend}: kaldi_fbank, or \"\" for the configs' own" >&2; exit 1 ;;
    esac
}

derive_frontend_configs() {  # each model's config with frontend: ${frontend} -> ${exp_dir}/conf
    # Only frontend and frontend_conf change (the sample rate and mel bins kept): ESPnet's
    # --frontend_conf on the command line would merge into the config's STFT options.
    local derived_dir="${exp_dir}/conf" derived="" model
    mkdir -p "${derived_dir}"
    for model in ${models}; do
        python - "$(config_of "${model}")" "${frontend}" \
            "${derived_dir}/train_${model}_${frontend}.yaml" <<'PYTHON'
import sys
import yaml

source, frontend, output = sys.argv[1:]
with open(source) as file:
    config = yaml.safe_load(file)
kept = {key: value for key, value in (config.get("frontend_conf") or {}).items()
        if key in ("fs", "n_mels")}
config.update(frontend=frontend, frontend_conf=kept)
with open(output, "w") as file:
    file.write(f"# {source} with frontend: {frontend} (written by the recipe's --frontend)\n")
    yaml.safe_dump(config, file, sort_keys=False)
PYTHON
        derived+=" ${model}_${frontend}"
    done
    models="${derived# }" conf_dir="${derived_dir}" asr_config=""
}

config_of() { if [ -n "${asr_config}" ]; then echo "${asr_config}"; else echo "${conf_dir}/train_$1.yaml"; fi; }

run_stage() {
    local number="${STAGE_NUMBERS[$1]}"
    if [ "${stage}" -le "${number}" ] && [ "${stop_stage}" -ge "${number}" ]; then
        echo "=== stage ${number}: $2 ($(date '+%H:%M:%S'))"
        return 0
    fi
    return 1
}

stage_done() {
    printf '%s\t%s\t%s\n' "${STAGE_NUMBERS[$1]}" "$2" "$((SECONDS - $3))" \
        >> "${exp_dir}/stage_times.tsv"
}

require_commands() {
    local name="$1" missing=() command
    shift
    for command in "$@"; do command -v "${command}" >/dev/null 2>&1 || missing+=("${command}"); done
    [ "${#missing[@]}" -eq 0 ] && return 0
    echo "$0: stage ${STAGE_NUMBERS[${name}]} (${name}) needs ${missing[*]}, not found on PATH." \
        "Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}; conda-forge has them" \
        "too) or run this stage where they are." >&2
    exit 1
}

describe_environment() {
    python -c 'import importlib.util, sys
origin = importlib.util.find_spec("espnet_omnirouter").submodule_search_locations[0]
print(f"=== python: {sys.executable} (espnet_omnirouter: {origin})")'
}

espnet() { python -m espnet_omnirouter.bin.espnet "$@"; }

train_tokenizer() {  # TEXT (Kaldi text of the training set) UNITS TOKEN_DIR
    local text="$1" units="$2" token_dir="$3" tmp_dir="$3.tmp"  # built aside, then renamed
    rm -rf "${token_dir}" "${tmp_dir}" && mkdir -p "${tmp_dir}"
    cut -d' ' -f2- "${text}" > "${tmp_dir}/train_text"
    python -c 'import sys, sentencepiece; sentencepiece.SentencePieceTrainer.train(sys.argv[1])' \
        "--input=${tmp_dir}/train_text --vocab_size=${units} --model_type=unigram \
        --model_prefix=${tmp_dir}/bpe --character_coverage=1.0 --input_sentence_size=100000000 \
        --hard_vocab_limit=false" > "${tmp_dir}/spm_train.log" 2>&1 \
        || { echo "sentencepiece failed: see ${tmp_dir}/spm_train.log" >&2; exit 1; }
    espnet espnet2.bin.tokenize_text --token_type bpe --bpemodel "${tmp_dir}/bpe.model" \
        --input "${text}" --output "${tmp_dir}/tokens.txt" --field 2- \
        --cleaner none --g2p none --write_vocabulary true \
        --add_symbol '<blank>:0' --add_symbol '<unk>:1' --add_symbol '<sos/eos>:-1' \
        2> "${tmp_dir}/tokenize_text.log" \
        || { echo "tokenize_text failed: see ${tmp_dir}/tokenize_text.log" >&2; exit 1; }
    rm "${tmp_dir}/train_text"
    mv "${tmp_dir}" "${token_dir}"
    echo "token list: ${token_dir}/tokens.txt ($(wc -l < "${token_dir}/tokens.txt") tokens)"
}

set_asr_data_args() {  # TRAIN_DIR DEV_DIR TOKEN_DIR
    # The files a trained model needs (tokens, statistics) are named by absolute paths in its
    # config.yaml, so that its experiment dir can be decoded from anywhere.
    local token_dir
    token_dir="$(realpath -m "$3")"
    asr_data_args=(
        --use_preprocessor true --token_type bpe --bpemodel "${token_dir}/bpe.model"
        --token_list "${token_dir}/tokens.txt" --non_linguistic_symbols none --cleaner none --g2p none
        --train_data_path_and_name_and_type "$1/wav.scp,speech,sound"
        --train_data_path_and_name_and_type "$1/text,text,text"
        --valid_data_path_and_name_and_type "$2/wav.scp,speech,sound"
        --valid_data_path_and_name_and_type "$2/text,text,text"
    )
}

collect_stats() {  # STATS_DIR TRAIN_DIR DEV_DIR (after set_asr_data_args)
    rm -rf "$1" "$1.tmp"
    utils/run_jobs.sh "${train_cmd} --num-threads ${nj}" 1 "${exp_dir}/asr_stats.log" stats \
        python -m espnet_omnirouter.bin.asr_train --collect_stats true "${asr_data_args[@]}" \
        --config "$(config_of "${models%% *}")" --normalize none --ngpu 0 --num_workers "${nj}" \
        --train_shape_file "$2/wav.scp" --valid_shape_file "$3/wav.scp" --output_dir "$1.tmp"
    mv "$1.tmp" "$1"
}

train_models() {  # STATS_DIR (after set_asr_data_args)
    # Several GPUs: ESPnet's DDP, one process per GPU (its default is DataParallel, which
    # does not replicate the Omni-router's shared router).
    local ddp_args=() model model_dir start stats_dir log i
    [ "${ngpu}" -gt 1 ] && ddp_args=(--multiprocessing_distributed true)
    stats_dir="$(realpath -m "$1")"
    for model in ${models}; do
        start=${SECONDS}
        model_dir="${exp_dir}/asr_${model}"
        if [ -f "${model_dir}/valid.loss.ave.pth" ]; then
            echo "${model_dir}: already trained, skipping (delete it to retrain)"
            continue
        fi
        echo "training ${model} ($(config_of "${model}")): log ${model_dir}/train.log"
        mkdir -p "${model_dir}"
        # --resume true: a killed run continues from its last complete epoch. Earlier runs'
        # logs are kept as ESPnet's launch keeps them (train.1.log the latest), and read
        # with train.log by the loss curves (analysis/training_log.py).
        log="${model_dir}/train.log"
        if [ -f "${log}" ]; then
            for ((i = $(find "${model_dir}" -maxdepth 1 -name 'train.[0-9]*.log' | wc -l); i > 0; i--)); do
                mv "${model_dir}/train.${i}.log" "${model_dir}/train.$((i + 1)).log"
            done
            mv "${log}" "${model_dir}/train.1.log"
        fi
        # shellcheck disable=SC2086
        utils/run_jobs.sh "${cuda_cmd} --gpu ${ngpu}" 1 "${log}" train \
            python -m espnet_omnirouter.bin.asr_train "${asr_data_args[@]}" \
            --config "$(config_of "${model}")" --ngpu "${ngpu}" --resume true "${ddp_args[@]}" \
            --normalize global_mvn --normalize_conf "stats_file=${stats_dir}/train/feats_stats.npz" \
            --train_shape_file "$1/train/speech_shape" --train_shape_file "$1/train/text_shape" \
            --valid_shape_file "$1/valid/speech_shape" --valid_shape_file "$1/valid/text_shape" \
            --output_dir "${model_dir}" ${train_args}
        stage_done train "train_${model}" "${start}"
    done
}

decode() {  # MODEL_DIR OUTPUT_DIR [bin/decode options]
    # bin/decode of every dir of ${decode_sets[@]} with MODEL_DIR/${model_file}, as --nj jobs
    # of ${decode_cmd} (each decodes one share of every set; logs OUTPUT_DIR/jobs/), then
    # merged into OUTPUT_DIR. bin/decode chooses the modes that suit the model.
    local model_dir="$1" output_dir="$2"
    rm -rf "${output_dir}/jobs"
    echo "decoding ${model_dir}: ${nj} jobs, logs ${output_dir}/jobs/decode.*.log"
    # shellcheck disable=SC2086
    utils/run_jobs.sh "${decode_cmd}" "${nj}" "${output_dir}/jobs/decode.JOB.log" decode \
        python -m espnet_omnirouter.bin.decode "${decode_sets[@]}" \
        --asr_train_config "${model_dir}/config.yaml" \
        --asr_model_file "${model_dir}/${model_file:-valid.loss.ave.pth}" \
        --output_dir "${output_dir}" --nj 1 --num_jobs "${nj}" --job JOB "${@:3}" ${decode_args}
    if [ "${nj}" -gt 1 ]; then
        python -m espnet_omnirouter.bin.decode --merge_jobs "${nj}" --output_dir "${output_dir}"
    fi
}
