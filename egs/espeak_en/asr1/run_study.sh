#!/usr/bin/env bash
# The study behind STUDY.md: the comparisons a reviewer of an MoE speech paper asks for, on
# the default recipe's data and configs (local/study_grid.py lists the runs):
#   seeds       dense, switch, omni x 3 training seeds
#   experts     switch and omni with 2 and 8 experts (4: the seeds runs)
#   equal_size  a dense model with FFNs 4x wider (the 4-expert models' total size)
#   controls    routing of initialised models; switch with tied router initialisation
#   u2pp        U2++ dense, MoE, dense of equal total size, MoE + load balancing, omni routers
#
#   ./run_study.sh                        # everything: 22 models, ~20 min each on 2 CPU cores (U2++: ~40)
#   ./run_study.sh --runs seeds           # one group (or run names, e.g. "omni_s1 omni_s2")
#   ./run_study.sh --runs none            # only rebuild STUDY.md from study/records
#
# Each model is trained, decoded, scored and analysed by run.sh's stages (the data, tokenizer,
# LM and statistics stages run first if needed), then leaves a record in
# ${records_dir}/<run>.json (10-80 kB: per-utterance errors of every decoding mode, training
# curve, routing statistics; the test sets' references once, in references.json); runs with
# a record are skipped, so the study can be completed
# over several invocations. STUDY.md is rebuilt from the records alone.
set -euo pipefail
cd "$(dirname "$0")"

runs=all
exp_dir=exp
data_dir=data
conf_dir=conf
records_dir=study/records
output=STUDY.md
recipe_args=""       # more run.sh options for every run, e.g. "--nj 1"
train_args=""        # more asr_train options, e.g. "--max_epoch 2"
speed_utterances=40  # test_clean utterances each model decodes to measure its speed
_option_names="runs exp_dir data_dir conf_dir records_dir output recipe_args train_args
speed_utterances"
. local/parse_options.sh
. ./path.sh

study() {
    python local/study.py "$@" --exp_dir "${exp_dir}" --data_dir "${data_dir}" \
        --conf_dir "${conf_dir}" --records_dir "${records_dir}"
}

if [ "${runs}" != none ]; then
    # shellcheck disable=SC2086
    study run --runs ${runs} --recipe_args "${recipe_args}" --train_args "${train_args}"
    for group in equal_size u2pp; do
        [ -f "${records_dir}/speed_${group}.json" ] && continue
        study speed --group "${group}" --utterances "${speed_utterances}"
    done
fi
study tables --output "${output}"
