#!/usr/bin/env bash
# GPU readiness in one command (under 10 minutes on one H100):
#   1. the grouped_mm expert backend gives loop's outputs and gradients (bfloat16);
#   2. a training step of the MoE layer and of the MoE and U2++ MoE encoders does not
#      synchronise with the host (torch.cuda.set_sync_debug_mode("error"));
#   3. ESPnet's trainer trains the conf/large models and the U2++ models a few steps with
#      --use_amp true (bfloat16 autocast) on grouped_mm;
#   4. the GPU sections of BENCHMARKS.md: MoE layer vs dense FFN (grouped_mm and loop) and
#      the conf/large models end to end (training step, decoding RTF, memory).
#
# Usage: bash benchmarks/gpu_check.sh [--device cuda|cpu] [--dry_run]
#   --dry_run  CPU-sized checks 1-3 (small layers, tiny models, two steps), no BENCHMARKS.md
#              sections; CI runs `--device cpu --dry_run`.
# Run from any directory, in an environment with the plugin installed (tools/setup_venv.sh).
# Exit status 1 if any check failed; every check prints `[gpu_check] <name>: ok|FAILED`.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
device=cuda
dry_run=false
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --dry_run) dry_run=true; shift ;;
        *) echo "gpu_check.sh: unknown option $1 (--device cuda|cpu, --dry_run)" >&2; exit 2 ;;
    esac
done
dry_args=()
[ "${dry_run}" = true ] && dry_args=(--dry_run)
work_dir="$(mktemp -d)"
trap 'rm -rf "${work_dir}"' EXIT
cd "${repo_root}"

status=0
echo "[gpu_check] 1-2: expert backends and host synchronisation (${device})"
python benchmarks/gpu_check.py backends --device "${device}" "${dry_args[@]}" || status=1
echo "[gpu_check] 3: ESPnet's trainer with --use_amp true (${device})"
python benchmarks/gpu_check.py train --device "${device}" --work_dir "${work_dir}" \
    "${dry_args[@]}" || status=1
if [ "${dry_run}" = false ]; then
    echo "[gpu_check] 4: GPU sections of BENCHMARKS.md"
    for backend in grouped_mm loop; do
        python benchmarks/moe_layer.py --device "${device}" --dtype bfloat16 \
            --backend "${backend}" || status=1
    done
    python benchmarks/end_to_end.py --device "${device}" --conf_dir conf/large || status=1
fi
if [ "${status}" -ne 0 ]; then
    echo "[gpu_check] FAILED: see the lines marked FAILED above" >&2
else
    echo "[gpu_check] all checks passed"
fi
exit "${status}"
