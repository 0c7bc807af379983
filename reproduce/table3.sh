#!/usr/bin/env bash
# Table 3: Latn10_7 / Satn10_7 and their variational stage-2 versions VLatn10_7 / VSatn10_7.
# Usage: reproduce/table3.sh [--budget full|rehearsal|tiny|smoke|cpu] [--data_root DIR] [--vid4_root DIR] [--out results] [--runs runs]
# Without --budget (old name --scale): full when --data_root is given and a GPU is visible, else smoke (said on stdout).
set -euo pipefail
exec python -m vsr_latent.paper table3 "$@"
