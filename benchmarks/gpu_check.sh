#!/usr/bin/env bash
# The GPU check: MirroredStrategy training steps of `ours` in float32 and mixed_float16 on one GPU
# split into two logical GPUs, inference seconds per frame at Vid4 size beside Table 5's 0.063 s,
# and a SavedModel exported and reloaded; JSON into one folder (benchmarks/gpu_check.py says what).
# At most 8 minutes on one GPU (the limit below stops it there).
#
#   benchmarks/gpu_check.sh OUT_DIR            # on a machine with a GPU and TensorFlow
#   benchmarks/gpu_check.sh OUT_DIR --dry-run  # the same code on the CPU at tiny sizes
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [--dry-run] [--steps N] [--memory_mb MB]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python}"
"$python" -c "import tensorflow" 2>/dev/null || {
  echo "gpu_check: TensorFlow is not importable by $python" >&2; exit 2; }
limit="${GPU_CHECK_LIMIT_S:-480}"
exec timeout --signal=TERM "$limit" "$python" "$here/gpu_check.py" "$@"
