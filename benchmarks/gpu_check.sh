#!/usr/bin/env bash
# One-shot GPU check (see benchmarks/gpu_check.py): JAX-backend FD-CMKD step against
# PyTorch, one JSON in $OUT (or the current folder). Under 8 minutes on one H200.
#   bash benchmarks/gpu_wheels.sh                 # here, once
#   bash benchmarks/gpu_check.sh --cpu-smoke      # rehearsal on a CPU
#   bash benchmarks/gpu_check.sh                  # on the GPU machine
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
site="$repo/benchmarks/.gpu_site"
if ! python -c "import keras, keras_hub" 2>/dev/null; then
    if [ ! -d "$site" ]; then
        echo "error: keras / keras-hub are not installed and $site is missing; run bash benchmarks/gpu_wheels.sh first" >&2
        exit 2
    fi
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax
export XLA_PYTHON_CLIENT_PREALLOCATE=false   # share the GPU with PyTorch in one process
exec timeout 470 python "$repo/benchmarks/gpu_check.py" "$@"
