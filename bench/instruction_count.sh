#!/usr/bin/env bash
# Instructions per element of the kernels: valgrind's callgrind counts the whole
# process with REPS=2 and REPS=0 calls of the op; the difference over 2 * numel is the kernel's
# count (setup cancels). perf's hardware counters are not available in this VM.
# Usage: bench/instruction_count.sh PROBE  (PROBE = build/.../bench/smx_kernel_probe); SMX_ISA
# picks the target (default AVX2).
set -euo pipefail
probe=$1
count() {
  SMX_ISA=${SMX_ISA:-AVX2} valgrind --tool=callgrind --callgrind-out-file=/dev/null "$probe" run "$@" 2>&1 |
    grep -o "Collected : [0-9]*" | grep -o "[0-9]*$"
}
run() {  # label R C DIM DTYPE OP
  local label=$1
  shift
  local a b
  a=$(count "$@" 0)
  b=$(count "$@" 2)
  awk -v l="$label" -v a="$a" -v b="$b" -v n="$(($1 * $2))" 'BEGIN { printf "%-34s %6.2f instr/elem\n", l, (b - a) / (2.0 * n) }'
}
run "f32 512x1024 last (rows_fused)" 512 1024 1 f32 softmax
run "f32 2048x256 dim0 (tall cols)" 2048 256 0 f32 softmax
run "f32 512x1024 dim0 (short cols)" 512 1024 0 f32 softmax
run "f32 1x524288 last (long row)" 1 524288 1 f32 softmax
run "log f32 512x1024 last" 512 1024 1 f32 log
run "log f32 2048x256 dim0" 2048 256 0 f32 log
run "bf16 512x1024 last" 512 1024 1 bf16 softmax
run "bf16 2048x256 dim0" 2048 256 0 bf16 softmax
run "bwd f32 512x1024 last" 512 1024 1 f32 bwd
run "bwd f32 2048x256 dim0" 2048 256 0 f32 bwd
run "bwd f32 1x524288 last" 1 524288 1 f32 bwd
