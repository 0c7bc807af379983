"""TensorBoard summaries of a training run: scalars, a stage text, LR | SR | HR panels, attention.

Everything goes to real event files under ``RUN/logs/train`` through `tf.summary`, and every tag
carries a description (what it is, its unit and range; `DESCRIPTIONS`, shown by TensorBoard
next to the card and read back as ``EventAccumulator.SummaryMetadata(tag).summary_description``).

Scalars (every ``log_every`` steps; ``psnr/validation`` every ``validate_every``):

- ``loss/total``: the step's objective, L_re (stage 1) or L_re + λ·L_vae (stage 2); mean squared
  error on the [0, 1] pixel scale, >= 0;
- ``loss/re``: L_re, the MSE of the mean path (in stage 2 with the default
  ``stage2_forward="one_pass"``, of the one sampled pass, so equal to ``loss/vae``);
  ``loss/vae``: L_vae, the MSE of one sampled path (stage 2 only);
- ``psnr/train``: PSNR in dB of the path L_re is computed on (the mean path, or the sampled pass
  of a one-pass stage 2) on the training batch (RGB, SR clipped to
  [0, 255]), the mean over its clips; ``psnr/validation``: mean PSNR in dB on the fixed
  validation crops (SR rounded to 8 bits);
- ``optimizer/learning_rate``: Adam's learning rate at the step; ``optimizer/grad_norm``: the
  global norm of the summed gradient before clipping; ``perf/steps_per_sec``: training steps per
  second of wall time since the previous log.

Text ``train/stage`` (not a scalar: TensorBoard's smoothing would draw the 1 -> 2 step as a ramp):
written at the first step a process trains and whenever the stage changes, e.g. "stage 1: L_re,
variance heads off (steps 1-3300 of 3600)" and "stage 2: L_re + λ·L_vae, variance heads on, from
step 3301 (λ = 1; steps 3301-3600 of 3600)" (`stage_text`).

Images (for the first clip of the batch, every `image_interval` steps: every ``image_every`` steps
and at least `MIN_IMAGE_LOGS` times a run), drawn by `vsr_latent.pictures` (which says what each
shows). SR and the attention maps come from ``model.call_with_attention`` in the stage's mode
(``sampling=True`` in stage 2: one sampled path).

- ``images/lr_sr_hr``: the LR | SR | HR | |SR - HR| panel (``pictures.lr_sr_hr_panel``);
- ``attention/long_corr_<i>``: long-attention block i (a `LongAttention`), the cosine similarity
  of its latent attention to the query with the top keys marked (``long_attention_picture``);
- ``attention/short_mask_<i>``: short-attention block i (a `ShortAttention`), its mask
  (``short_mask_picture``);
- ``attention/variance_<i>``: variational block i, its sigma^2 (``variance_picture``).
"""

import re

import numpy as np
import tensorflow as tf

from vsr_latent.layers import LongAttention, ShortAttention
from vsr_latent.pictures import (
    long_attention_picture,
    lr_sr_hr_panel,
    short_mask_picture,
    variance_picture,
)

# At least this many image logs a run, whatever image_every says (see `image_interval`).
MIN_IMAGE_LOGS = 5

# ---- descriptions ----------------------------------------------------------------------------------

DESCRIPTIONS = {
    "loss/total": (
        "Training objective of the step: L_re in stage 1, L_re + λ·L_vae in stage 2 (plus any "
        "regularisation). Mean squared error per pixel and channel on the [0, 1] pixel scale, "
        "averaged over the global batch and over the steps since the previous log (log_every); "
        ">= 0, lower is better."),
    "loss/re": (
        "L_re: mean squared error of the mean path's SR against HR (in stage 2 with "
        "stage2_forward=one_pass, of the one sampled pass, so equal to loss/vae), pixels on "
        "[0, 1], averaged over the global batch and the steps since the previous log; >= 0."),
    "loss/vae": (
        "L_vae (stage 2 only): mean squared error of one sampled path (z = mu + eps·sigma) "
        "against HR, pixels on [0, 1], averaged over the global batch and the stage-2 steps since "
        "the previous log; >= 0."),
    "psnr/train": (
        "PSNR in dB of the path L_re is computed on (the mean path; the sampled pass in a "
        "one-pass stage 2) on the training batch (RGB, SR clipped to [0, 255], no "
        "border crop), the mean over the batch's clips and the steps since the previous log; "
        "higher is better."),
    "psnr/validation": (
        "PSNR in dB of the mean path on the fixed validation crops (RGB, SR rounded to 8 bits), "
        "the mean over the crops; higher is better."),
    "optimizer/learning_rate": "Adam's learning rate used at this step (schedule value).",
    "optimizer/grad_norm": (
        "Global L2 norm of the gradient summed over the replicas, BEFORE clipping (the clip "
        "norm is optimizer.global_clipnorm, 3 in the paper), unscaled under loss scaling, the "
        "mean over the applied steps since the previous log; >= 0."),
    "optimizer/loss_scale": (
        "mixed_float16 only: the dynamic loss scale after this step (halved at each step whose "
        "float16 gradients overflowed, doubled after 2000 steps without)."),
    "optimizer/skipped_steps": (
        "mixed_float16 only: steps so far (over the whole run, resumes included) whose update "
        "was skipped because the loss-scaled gradients overflowed."),
    "perf/steps_per_sec": (
        "Training steps per second of wall time since the previous log (includes summaries, "
        "validation and checkpoints in between)."),
    "train/stage": (
        "Algorithm 1's stage as text, written at the first step of a (resumed) run and when it "
        "changes: stage 1 trains L_re with the variance heads off, stage 2 L_re + λ·L_vae with "
        "them on, from the step named."),
    "images/lr_sr_hr": (
        "First clip of the training batch. Columns: LR input upscaled x4 by pixel repetition | "
        "SR (rounded, clipped to [0, 255]) | HR | per-pixel mean over RGB of |SR - HR| in levels "
        "of 255, fixed scale 0..32 (inferno: black = 0, saturates at 32). Rows: frames t "
        "(first, middle, last)."),
    "attention/long_corr_<i>": (
        "Long-attention block {i}: cosine similarity, fixed scale -1..1 (viridis), of the "
        "latent attention z at every position to z at the query (centre of the middle frame), "
        "overlaid on the grey LR frames, x4 nearest. White outline: the query's latent cell; red "
        "outlines: the 3 most similar other positions (keys). Shown on the middle frame and on "
        "the frames holding the keys."),
    "attention/short_mask_<i>": (
        "Short-attention block {i}: the mask M = sigmoid(z), mean over channels, fixed scale "
        "0..1 (viridis), overlaid on the grey middle LR frame, x4 nearest."),
    "attention/variance_<i>": (
        "Variational block {i}: sigma^2 of the latent attention, mean over channels, fixed log "
        "scale 1e-6..1e-1 (viridis, clipped at both ends), overlaid on the grey middle LR frame, "
        "x4 nearest."),
}

_BLOCK_TAG = re.compile(r"^(?P<base>.+_)(?P<i>\d+)$")


def describe(tag, strict=False):
    """The description of a summary tag (per-block tags match the ``..._<i>`` patterns).

    An unregistered tag gets a note saying so (training must not fail over a description);
    ``strict=True`` raises KeyError instead.
    """
    if tag in DESCRIPTIONS:
        return DESCRIPTIONS[tag]
    match = _BLOCK_TAG.match(tag)
    if match and match["base"] + "<i>" in DESCRIPTIONS:
        return DESCRIPTIONS[match["base"] + "<i>"].format(i=int(match["i"]))
    if strict:
        raise KeyError(f"no description for the summary tag {tag!r}")
    return f"{tag} (no description registered in vsr_latent.training.summaries.DESCRIPTIONS)"


# ---- cadence and stage -----------------------------------------------------------------------------


def image_interval(image_every, total_steps):
    """Steps between picture logs: ``image_every``, but short enough for `MIN_IMAGE_LOGS` a run.

    ``min(image_every, max(1, total_steps // MIN_IMAGE_LOGS))``; e.g. a 20-step run with
    ``image_every=100000`` logs pictures every 4 steps (and at its last step).
    """
    return max(1, min(int(image_every), max(1, int(total_steps) // MIN_IMAGE_LOGS)))


def logs_images_at(step, image_every, total_steps):
    """Whether pictures are logged after step ``step`` (1-based) of a ``total_steps`` run."""
    return step % image_interval(image_every, total_steps) == 0 or step == total_steps


def stage_text(stage, stage1_steps, total_steps, vae_weight=1.0, variational=True):
    """The ``train/stage`` text of Algorithm 1's stage ``stage`` (1 or 2)."""
    k, total = int(stage1_steps), int(total_steps)
    if stage == 1:
        heads = "" if variational else "; the model has no variance heads"
        return f"stage 1: L_re, variance heads off (steps 1-{k} of {total}{heads})"
    return (f"stage 2: L_re + λ·L_vae, variance heads on, from step {k + 1} "
            f"(λ = {vae_weight:g}; steps {k + 1}-{total} of {total})")


# ---- attention pictures ----------------------------------------------------------------------------


def attention_pictures(model, info, lr):
    """{tag: Picture} of every attention block, from ``call_with_attention``'s info (batch item 0)
    and the LR clip (L, H, W, 3). Every block has a z (``info["z"]``, in block order); short
    blocks a mask and variational blocks a variance, each list in the order of those blocks."""
    def first(x):
        return np.asarray(x[0])

    pictures = {}
    short_masks = iter(info.get("masks", []))
    variances = iter(info.get("variance", []))
    zs = info.get("z", [])
    for i, block in enumerate(getattr(model, "attention", [])):
        if isinstance(block, LongAttention) and i < len(zs):
            pictures[f"attention/long_corr_{i}"] = long_attention_picture(first(zs[i]), lr, i)
        elif isinstance(block, ShortAttention):
            mask = next(short_masks, None)
            if mask is not None:
                pictures[f"attention/short_mask_{i}"] = short_mask_picture(first(mask), lr, i)
        if block.variational:
            var = next(variances, None)
            if var is not None:
                pictures[f"attention/variance_{i}"] = variance_picture(first(var), lr, i)
    return pictures


# ---- the writer ----------------------------------------------------------------------------------


class TrainingSummaries:
    """Writes a run's TensorBoard summaries (only the chief writes)."""

    def __init__(self, logdir):
        self._stage = None
        self.writer = tf.summary.create_file_writer(str(logdir))

    def scalars(self, step, values):
        with self.writer.as_default(step=int(step)):
            for tag, value in values.items():
                tf.summary.scalar(tag, float(value), description=describe(tag))

    def stage(self, step, stage, stage1_steps, total_steps, vae_weight=1.0, variational=True):
        """Writes the ``train/stage`` text if ``stage`` differs from the last one written by this
        writer (so: at the first step it is called for, and at the switch). True if written."""
        if stage == self._stage:
            return False
        text = stage_text(stage, stage1_steps, total_steps, vae_weight, variational)
        with self.writer.as_default(step=int(step)):
            tf.summary.text("train/stage", text, description=describe("train/stage"))
        self._stage = stage
        return True

    def images(self, step, model, lr, hr, sampling=False):
        """The LR | SR | HR panel and the attention pictures for the first clip of a batch, on the
        mean path or (``sampling``, stage 2) one sampled path.

        Returns {tag: uint8 image (H, W, 3)} as written.
        """
        lr = tf.convert_to_tensor(lr)[:1]
        sr, info = model.call_with_attention(lr, training=False, sampling=sampling)
        lr0 = lr[0].numpy()
        pictures = {
            "images/lr_sr_hr": lr_sr_hr_panel(lr0, sr[0].numpy(), np.asarray(hr)[0], model.scale),
            **attention_pictures(model, info, lr0),
        }
        images = {tag: picture.image for tag, picture in pictures.items()}
        with self.writer.as_default(step=int(step)):
            for tag, image in images.items():
                tf.summary.image(tag, image[None], max_outputs=1, description=describe(tag))
        return images

    def flush(self):
        if self.writer is not None:
            self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
