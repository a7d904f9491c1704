# Sourced: tune glibc malloc for PyTorch on CPU.
# Keep freed memory in the process for reuse (no mmap for large blocks, no trimming)
# instead of returning it to the kernel, so that large tensors allocated every step
# (MoE expert weight gradients are E times an FFN's) are not page-faulted in again on
# every step. To measure its effect, run benchmarks/moe_layer.py with and without it: each
# malloc setting gets its own section of BENCHMARKS.md. Costs: the process keeps its peak
# memory until it exits.
export MALLOC_MMAP_MAX_="${MALLOC_MMAP_MAX_:-0}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-68719476736}"
