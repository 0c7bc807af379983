#!/usr/bin/env bash
# Every table and figure, in dependency order (Table 1, Figure 6, Tables 2-5, Figures 7-8, Figure 9).
# Usage: reproduce/all.sh [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
# Rehearsal of the paper's scale on a CPU with two replicas (docs/full_scale.md):
#   VSR_LATENT_CPU_REPLICAS=2 reproduce/all.sh --budget rehearsal --data_root DATASET_ROOT
set -euo pipefail
exec python -m vsr_latent.paper all "$@"
