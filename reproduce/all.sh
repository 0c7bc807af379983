#!/usr/bin/env bash
# Every table and figure, in dependency order (Table 1, Figure 6, Tables 2-5, Figures 7-8, Figure 9).
# Usage: reproduce/all.sh [--budget full|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper all "$@"
