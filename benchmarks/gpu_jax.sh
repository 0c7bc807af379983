#!/usr/bin/env bash
# The network on the lent GPU machine under JAX (benchmarks/gpu_jax.py run): at most 8 minutes.
#
# That machine has JAX but neither TensorFlow nor Keras. Before, here (TensorFlow, network):
#   python benchmarks/gpu_jax.py prepare             # .gpu_jax/: a Vid4 clip and ours_cpu's TF output
#   echo /.whl/ >> .git/info/exclude; echo /.gpu_jax/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl keras==3.15.1 namex optree
# then run this script there with .whl and .gpu_jax carried: bash benchmarks/gpu_jax.sh [OUT.json]
# Extra arguments go to gpu_jax.py (--tiny: the CPU dry run of tests/test_gpu_jax.py).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=jax
out="${1:-benchmarks/measured/gpu_jax.json}"
[ $# -gt 0 ] && shift
timeout 480 python3 benchmarks/gpu_jax.py run --out "$out" "$@"
