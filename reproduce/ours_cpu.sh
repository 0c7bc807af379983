#!/usr/bin/env bash
# The shipped pretrained model `ours_cpu`: the dataset root from ../shared/data/train_clips, `ours`
# trained at the cpu budget (about 2.1 h on 2 CPU cores), Vid4 scores in float32 and bfloat16 with bicubic
# beside, the model card and the training-curve figure.
# Usage: reproduce/ours_cpu.sh [--run_dir runs/ours_cpu] [--data_root data/cpu_root] [--out results] [--install]
# (the same as `vsr-latent remake ours_cpu ...`; see `vsr-latent remake --help`)
set -euo pipefail
exec python -m vsr_latent remake ours_cpu "$@"
