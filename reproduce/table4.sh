#!/usr/bin/env bash
# Table 4: the final model on Vid4 (paper protocol, standard protocol beside it), bicubic floor, other methods quoted.
# Usage: reproduce/table4.sh [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper table4 "$@"
