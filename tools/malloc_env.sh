# Sourced: tune glibc malloc for PyTorch on CPU.
# Keep freed memory in the process for reuse (no mmap for large blocks, no trimming)
# instead of returning it to the kernel, so that large tensors allocated every step
# (MoE expert weight gradients are E times an FFN's) are not page-faulted in again on
# every step. Measured in BENCHMARKS.md (D=256, 8192 tokens, top-1): the training pass
# of a MoE layer costs 1.03x the dense FFN with it instead of 1.39x at E=8, 1.53x instead
# of 2.88x at E=64. Costs: the process keeps its peak memory until it exits.
export MALLOC_MMAP_MAX_="${MALLOC_MMAP_MAX_:-0}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-68719476736}"
