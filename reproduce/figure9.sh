#!/usr/bin/env bash
# Figure 9: qualitative comparison on Vid4 — crops of bicubic, ours and ground truth, PSNR (Y) under each.
# Usage: reproduce/figure9.sh [--model RUN_DIR|FILE.keras|NAME] [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --model: the final model of Table 4 (config `ours`), trained or reused. Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper figure9 "$@"
