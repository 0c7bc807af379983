"""The rehearsal budget's record per table: peak memory, phase times, seconds per step, and a
projected full-budget wall time on named hardware (a projection, never a measurement).

Projection (GAP decision of this package; the paper gives no training time): the FLOPs of one
training step are ``TRAIN_FLOPS_FACTOR`` (3: forward + a backward of about twice the forward's
cost) times the forward FLOPs of the global batch (``vsr_latent.perf.flops.count_flops``), times
the forward passes of a stage-2 step in stage 2 (``STAGE2_FORWARD_PASSES`` of the config's
``stage2_forward``: 1 for the one sampled pass of §5.3, 2 for ``dual_forward``'s mean and sampled
paths); the full budget's steps of the config times
that, divided by the hardware's peak float32 throughput times ``UTILISATION``, is the projected
training time. Evaluation and input decoding are left out (they are measured in the rehearsal).
"""

import resource
import time

import numpy as np

from vsr_latent import run_folder
from vsr_latent.configs import get_config
from vsr_latent.configs.base import STAGE2_FORWARD_PASSES
from vsr_latent.models import build_model
from vsr_latent.perf.flops import count_flops

#: Forward + backward of a training step, in forward passes (the usual 1 + 2 rule).
TRAIN_FLOPS_FACTOR = 3
#: Assumed fraction of peak throughput a training step sustains (convolutions of 64-128 filters
#: on 32x32 patches: a stated assumption, not a measurement).
UTILISATION = 0.3
#: Peak float32 FLOP/s of the hardware projected for (vendors' data sheets; A100 without TF32).
HARDWARE = {
    "2x GTX 1080 Ti (the paper's)": 2 * 11.3e12,
    "V100 SXM2": 15.7e12,
    "A100 SXM4 (FP32, no TF32)": 19.5e12,
    "H100 SXM5 (FP32)": 66.9e12,
}


def peak_rss_mib():
    """This process's peak resident memory so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_step_flops(config):
    """FLOPs of one stage-1 training step of ``config`` (global batch, LR patch, L)."""
    d, L = config.data, config.model.seq_len
    shape = (d.batch_size, L, d.lr_patch, d.lr_patch, 3)
    return TRAIN_FLOPS_FACTOR * count_flops(build_model(config.model), shape).total


def projected_seconds(config_name, step_flops, peak_flops, utilisation=UTILISATION):
    """Projected wall seconds of the full budget's training of ``config_name``."""
    full = get_config(config_name, budget="full")
    passes = STAGE2_FORWARD_PASSES[full.stage2_forward]
    work = step_flops * (full.stage1_steps + passes * full.stage2_steps)
    return work / (peak_flops * utilisation)


def steady_seconds_per_step(run_dir):
    """Median seconds of a run's training steps after its first logged one (which traced the
    step function), from its TensorBoard ``perf/steps_per_sec`` (TensorBoard's own reader);
    None where fewer than two intervals were logged."""
    tag = "perf/steps_per_sec"
    scalars = run_folder.read_scalars(run_folder.log_dir(run_dir) / "train", tags=(tag,))
    if tag not in scalars or len(scalars[tag][1]) < 2:
        return None
    rates = scalars[tag][1][1:]
    return float(np.median(1.0 / rates[rates > 0]))


def _hours(seconds):
    return f"{seconds / 3600:.1f} h"


def record(ctx, infos):
    """Result-file lines for the rehearsal: ``{label: text}``."""
    trained = [i for i in infos if i.trained_now]
    train_s = sum(i.wall_s for i in trained)
    table_s = time.monotonic() - ctx.started
    lines = {
        "Peak RSS": f"{peak_rss_mib():.0f} MiB (this process's peak so far)",
        "Phase times": (f"training {train_s:.0f} s ({len(trained)} model(s) trained now; each "
                        f"run's own validation included), scoring {table_s - train_s:.0f} s "
                        f"(validation / Remote / Vid4 and the Bicubic line); ingest is "
                        f"make_dataset's, run apart (docs/full_scale.md)"),
    }
    if trained:
        per_step = []
        for i in trained:
            try:
                steady = steady_seconds_per_step(i.run_dir)
            except Exception:  # noqa: BLE001 - a record line, never worth losing the table
                steady = None
            per_step.append(
                f"{i.config_name}: "
                + (f"{steady:.2f} s steady (median after the first step), " if steady else "")
                + f"{i.wall_s / max(1, i.steps):.2f} s wall / steps (set-up, tracing and the "
                f"run's validation included), {i.replicas} replica(s)")
        lines["Seconds per training step"] = "; ".join(per_step)
    projections = []
    for info in infos:
        try:
            flops = train_step_flops(info.config)
        except Exception as e:  # noqa: BLE001 - a projection line, never worth losing the table
            projections.append(f"{info.config_name}: not projected ({type(e).__name__}: {e})")
            continue
        per_hw = ", ".join(f"{hw} {_hours(projected_seconds(info.config_name, flops, peak))}"
                           for hw, peak in HARDWARE.items())
        projections.append(f"{info.config_name}: {flops / 1e9:.1f} GFLOP a stage-1 step -> "
                           f"{per_hw}")
    if projections:
        lines["Projected full-budget training time (PROJECTION, not measured)"] = (
            f"FLOPs per step x the full budget's steps / (peak float32 FLOP/s x {UTILISATION:.0%}"
            f" utilisation): " + "; ".join(projections))
    return lines
