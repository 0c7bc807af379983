#!/usr/bin/env bash
# Table 5: parameters and seconds per frame of the final model on Vid4, other methods quoted.
# Usage: reproduce/table5.sh [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper table5 "$@"
