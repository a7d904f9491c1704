# Stages shared by the recipes (egs/*/asr1/run.sh source this after parsing their options),
# like ESPnet's egs2/TEMPLATE/asr1/asr.sh. Functions read the recipe's variables stage,
# stop_stage, exp_dir, data_dir, models, conf_dir, asr_config, tag, ngpu, nj, train_args,
# test_sets and decode_args.
#
#   resolve_models                  --asr_config/--tag into ${models}; every config must exist
#   config_of MODEL                 the model's config file
#   run_stage N NAME                whether stage N is in [--stage, --stop_stage] (prints it)
#   stage_done N NAME START         append the stage's seconds to ${exp_dir}/stage_times.tsv
#   train_tokenizer TEXT UNITS DIR  sentencepiece unigram model + ESPnet token list in DIR
#   set_asr_data_args TRAIN DEV TOKEN_DIR   asr_train's data and token options -> asr_data_args
#   collect_stats STATS_DIR TRAIN DEV       feature shapes and mean/variance (first model's config)
#   train_models STAGE STATS_DIR    train every model of ${models} into ${exp_dir}/asr_<model>
#   is_u2pp MODEL                   whether the trained model has a U2++ (chunked) encoder
#   decode MODEL OUTPUT_DIR [OPTS]  bin/decode of every ${test_sets} set of ${data_dir} with the
#                                   model's valid.loss.ave.pth (OPTS, then ${decode_args})

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
}

config_of() { if [ -n "${asr_config}" ]; then echo "${asr_config}"; else echo "${conf_dir}/train_$1.yaml"; fi; }

run_stage() {
    if [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; then
        echo "=== stage $1: $2 ($(date '+%H:%M:%S'))"
        return 0
    fi
    return 1
}

stage_done() { printf '%s\t%s\t%s\n' "$1" "$2" "$((SECONDS - $3))" >> "${exp_dir}/stage_times.tsv"; }

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
    asr_data_args=(
        --use_preprocessor true --token_type bpe --bpemodel "$3/bpe.model"
        --token_list "$3/tokens.txt" --non_linguistic_symbols none --cleaner none --g2p none
        --train_data_path_and_name_and_type "$1/wav.scp,speech,sound"
        --train_data_path_and_name_and_type "$1/text,text,text"
        --valid_data_path_and_name_and_type "$2/wav.scp,speech,sound"
        --valid_data_path_and_name_and_type "$2/text,text,text"
    )
}

collect_stats() {  # STATS_DIR TRAIN_DIR DEV_DIR (after set_asr_data_args)
    rm -rf "$1" "$1.tmp"
    python -m espnet_omnirouter.bin.asr_train --collect_stats true "${asr_data_args[@]}" \
        --config "$(config_of "${models%% *}")" --normalize none --ngpu 0 --num_workers "${nj}" \
        --train_shape_file "$2/wav.scp" --valid_shape_file "$3/wav.scp" \
        --output_dir "$1.tmp" > "${exp_dir}/asr_stats.log" 2>&1 \
        || { echo "collect_stats failed: see ${exp_dir}/asr_stats.log" >&2; exit 1; }
    mv "$1.tmp" "$1"
}

train_models() {  # STAGE STATS_DIR (after set_asr_data_args)
    # Several GPUs: ESPnet's DDP, one process per GPU (its default is DataParallel, which
    # does not replicate the Omni-router's shared router).
    local ddp_args=() model model_dir start
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
        # --resume true: a killed run continues from its last complete epoch.
        # shellcheck disable=SC2086
        python -m espnet_omnirouter.bin.asr_train "${asr_data_args[@]}" \
            --config "$(config_of "${model}")" --ngpu "${ngpu}" --resume true "${ddp_args[@]}" \
            --normalize_conf "stats_file=$2/train/feats_stats.npz" \
            --train_shape_file "$2/train/speech_shape" --train_shape_file "$2/train/text_shape" \
            --valid_shape_file "$2/valid/speech_shape" --valid_shape_file "$2/valid/text_shape" \
            --output_dir "${model_dir}" ${train_args} > "${model_dir}/train.log" 2>&1 \
            || { echo "training ${model} failed: see ${model_dir}/train.log" >&2; exit 1; }
        grep "epoch results" "${model_dir}/train.log" | tail -n 1 | cut -c1-300 || true
        stage_done "$1" "train_${model}" "${start}"
    done
}

is_u2pp() { grep -q "^encoder: *u2pp_conformer" "${exp_dir}/asr_$1/config.yaml"; }

decode() {
    local model_dir="${exp_dir}/asr_$1"
    # shellcheck disable=SC2046,SC2086
    python -m espnet_omnirouter.bin.decode $(for s in ${test_sets}; do echo "${data_dir}/${s}"; done) \
        --asr_train_config "${model_dir}/config.yaml" --output_dir "$2" --nj "${nj}" \
        --asr_model_file "${model_dir}/valid.loss.ave.pth" "${@:3}" ${decode_args} \
        2>> "${model_dir}/decode.log" \
        || { echo "decoding $1 failed: see ${model_dir}/decode.log" >&2; exit 1; }
}
