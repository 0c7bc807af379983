#!/usr/bin/env bash
# Figures 7 and 8: long-attention top-3 key regions; short attention maps, deterministic vs sampled.
# Usage: reproduce/figure7_8.sh [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper figure7_8 "$@"
