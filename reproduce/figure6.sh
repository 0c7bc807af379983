#!/usr/bin/env bash
# Figure 6: PSNR of Latn10_n and Satn10_n against the sequence length n = 3..11.
# Usage: reproduce/figure6.sh [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper figure6 "$@"
