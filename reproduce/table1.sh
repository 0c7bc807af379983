#!/usr/bin/env bash
# Table 1: Res16 / Satn10 / Latn10 (L = 4) on Normal and Remote validation data.
# Usage: reproduce/table1.sh [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper table1 "$@"
