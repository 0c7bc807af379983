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
and at least `MIN_IMAGE_LOGS` times a run). No picture is stretched to its own min/max: every
colour scale is fixed and its range is written on the picture. SR and the attention maps come from
``model.call_with_attention`` in the stage's mode (``sampling=True`` in stage 2: one sampled
path).

- ``images/lr_sr_hr``: a labelled grid, columns "LR (x4 nearest)" | "SR" | "HR" | "|SR - HR|",
  rows the frames t of the clip (at most `PANEL_FRAMES`: first, middle, last), tiles separated by
  2 px of grey. LR is the input upscaled x4 by repeating pixels; SR (rounded, clipped to [0, 255])
  and HR are shown pixel for pixel; the error is the per-pixel mean over RGB of |SR - HR| in
  levels of 255 on the fixed scale `ERROR_RANGE` (0..32, "inferno": black = 0, brighter = worse,
  saturating at 32), with a colour bar in the column's header.
- attention pictures from ``model.call_with_attention`` on that clip, one per block, each a map
  upsampled (nearest) to the LR frame, alpha-blended (`OVERLAY_ALPHA`) over a grey version of the
  LR frame and enlarged x`ATTENTION_ZOOM` (nearest), with a title and a colour bar stating the
  range:

  ``attention/long_corr_<i>``: long-attention block i: cosine similarity (fixed scale -1..1) of the
  block's latent attention z at every position to z at the query, the centre position of the
  middle frame. Shown on the middle frame and on every frame holding one of the `TOP_KEYS` most
  similar positions (the query itself excluded, the paper's Fig. 7); the query's latent cell is
  outlined white, the top keys' cells red. The latent map lives at ceil(H/2) x ceil(W/2) of the
  H x W LR frame; its cells map to LR pixels by the factor between the two sizes.
  ``attention/short_mask_<i>``: short-attention block i: the mask M = sigmoid(z) (mean over
  channels, fixed scale 0..1, Fig. 8) on the middle frame.
  ``attention/variance_<i>``: variational block i: sigma^2 (mean over channels) on the middle
  frame, on the fixed log scale `VARIANCE_RANGE` (1e-6..1e-1).

The rendering functions (`lr_sr_hr_panel`, `long_attention_picture`, `short_mask_picture`,
`variance_picture`) take numpy arrays and return a `Picture`: the uint8 RGB image and the boxes
(top, left, height, width) of its tiles.
"""

import functools
import re
from typing import NamedTuple

import numpy as np
import tensorflow as tf

# ---- what the pictures show ----------------------------------------------------------------------

TOP_KEYS = 3
PANEL_FRAMES = 3
# At least this many image logs a run, whatever image_every says (see `image_interval`).
MIN_IMAGE_LOGS = 5
ATTENTION_ZOOM = 4
OVERLAY_ALPHA = 0.7

# Fixed colour scales.
ERROR_RANGE = (0.0, 32.0)  # |SR - HR|, levels of 255
ERROR_COLORMAP = "inferno"
SIMILARITY_RANGE = (-1.0, 1.0)  # cosine similarity
MASK_RANGE = (0.0, 1.0)  # sigmoid mask
VARIANCE_RANGE = (1e-6, 1e-1)  # sigma^2, log scale
COLORMAP = "viridis"  # attention maps: no white, no red, so the markers stand out

# ---- how they look ---------------------------------------------------------------------------------

SEPARATOR = 2
SEPARATOR_GREY = (128, 128, 128)
BACKGROUND = (30, 30, 30)
TEXT_COLOUR = (230, 230, 230)
QUERY_MARKER = (255, 255, 255)
KEY_MARKER = (255, 0, 0)
FONT_SIZE = 14
PAD = 3
BAR_HEIGHT = 6

ERROR_LABEL = "|SR - HR|"

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


# ---- colours ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _lut(name):
    import matplotlib

    rgb = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def colormap(values, lo, hi, name=COLORMAP):
    """Values (...) -> uint8 RGB (..., 3) on the FIXED scale lo..hi (clipped; NaN -> lo)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=lo)
    scaled = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    return _lut(name)[np.rint(scaled * 255.0).astype(np.intp)]


def error_colors(error):
    """|SR - HR| in levels of 255 -> RGB on the fixed `ERROR_RANGE`."""
    return colormap(error, *ERROR_RANGE, name=ERROR_COLORMAP)


def similarity_colors(sim):
    return colormap(sim, *SIMILARITY_RANGE)


def mask_colors(mask):
    return colormap(mask, *MASK_RANGE)


def variance_colors(variance):
    """sigma^2 -> RGB on the fixed log scale `VARIANCE_RANGE`."""
    lo, hi = np.log10(VARIANCE_RANGE[0]), np.log10(VARIANCE_RANGE[1])
    variance = np.nan_to_num(np.asarray(variance, dtype=np.float64), nan=0.0)
    return colormap(np.log10(np.maximum(variance, 1e-30)), lo, hi)


def _bar(width, colours_of, lo, hi, height=BAR_HEIGHT):
    """A horizontal colour bar (height, width, 3) from lo (left) to hi (right)."""
    row = colours_of(np.linspace(lo, hi, max(int(width), 1)))
    return np.repeat(row[None], height, axis=0)


# ---- pixels ----------------------------------------------------------------------------------------


def picture_to_uint8(x):
    """A summary picture's pixels: rounded (in float64) and clipped to [0, 255]."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64)), 0, 255).astype(np.uint8)


def zoom_nearest(x, factor, axes=(-3, -2)):
    """Repeats every pixel ``factor`` x ``factor`` times along the two spatial axes."""
    return np.repeat(np.repeat(np.asarray(x), factor, axis=axes[0]), factor, axis=axes[1])


def upsample_nearest(values, size):
    """(h, w, ...) -> (H, W, ...): LR pixel y takes latent row floor(y·h/H) (likewise x).

    For the half-resolution latent maps (h = ceil(H/2)) this is exactly the 2x2 pooling window
    that made latent cell i: LR rows 2i and 2i + 1 (the last one possibly cut by the frame).
    """
    values = np.asarray(values)
    (h, w), (H, W) = values.shape[:2], size
    rows = (np.arange(H) * h) // H
    cols = (np.arange(W) * w) // W
    return values[rows][:, cols]


def cell_box(i, j, latent_size, frame_size):
    """LR pixel box (top, left, height, width) of latent cell (i, j) under `upsample_nearest`."""
    (h, w), (H, W) = latent_size, frame_size
    top, bottom = -(-i * H // h), -(-(i + 1) * H // h)
    left, right = -(-j * W // w), -(-(j + 1) * W // w)
    return top, left, bottom - top, right - left


def grey(frame):
    """(H, W, 3) RGB on [0, 255] -> (H, W, 3) float luminance (ITU-R 601)."""
    f = np.asarray(frame, dtype=np.float64)
    y = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    return np.repeat(np.clip(y, 0, 255)[..., None], 3, axis=-1)


def overlay(frame, colours, zoom=ATTENTION_ZOOM, alpha=OVERLAY_ALPHA):
    """Colour map (H, W, 3) blended over the grey LR frame (H, W, 3), enlarged x ``zoom``."""
    mixed = alpha * np.asarray(colours, dtype=np.float64) + (1.0 - alpha) * grey(frame)
    return zoom_nearest(picture_to_uint8(mixed), zoom)


def outline(image, box, colour, zoom=ATTENTION_ZOOM):
    """Draws a 1-px outline, in place, just inside the LR box (top, left, h, w) scaled by zoom."""
    top, left, h, w = (v * zoom for v in box)
    image[top, left:left + w] = colour
    image[top + h - 1, left:left + w] = colour
    image[top:top + h, left] = colour
    image[top:top + h, left + w - 1] = colour


# ---- layout ----------------------------------------------------------------------------------------


class Picture(NamedTuple):
    """A rendered picture: uint8 (H, W, 3), its tiles' boxes (top, left, height, width) by key,
    and what it shows (e.g. the query and key positions of a long-attention picture)."""

    image: np.ndarray
    boxes: dict
    info: dict


@functools.lru_cache(maxsize=None)
def _font(size=FONT_SIZE):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _spaced(text):
    # The default font's space is narrow: "LR (x4 nearest)" would read "LR (x4nearest)".
    return text.replace(" ", "  ")


def text_width(text):
    return int(np.ceil(_font().getbbox(_spaced(text))[2])) if text else 0


def line_height():
    return int(np.ceil(_font().getbbox("Hg|y")[3])) + 2


def _render(shape, pastes, texts):
    """Canvas of ``shape`` on BACKGROUND with arrays pasted at (top, left) and text lines drawn."""
    from PIL import Image, ImageDraw

    canvas = np.empty(shape, np.uint8)
    canvas[...] = BACKGROUND
    for top, left, array in pastes:
        canvas[top:top + array.shape[0], left:left + array.shape[1]] = array
    if not texts:
        return canvas
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for top, left, line in texts:
        draw.text((left, top), _spaced(line), fill=TEXT_COLOUR, font=_font())
    return np.asarray(image).copy()


def _grid(rows, col_labels, row_labels=None, title=(), col_bars=None, bottom_bar=None):
    """Lays out tiles in a labelled grid, 2-px grey separators between cells.

    rows: list of rows, each a list of (key, uint8 tile (h, w, 3)), one per column.
    col_labels: per column, the text lines of its header (centred over the column).
    row_labels: one text per row, drawn left of it. title: text lines above everything.
    col_bars: {column: (colours_of, lo, hi)}: a colour bar under that column's label.
    bottom_bar: (colours_of, lo, hi, lo_text, hi_text): a colour bar under the grid.
    Returns a `Picture` (info empty).
    """
    col_bars = col_bars or {}
    lh = line_height()
    ncols = len(col_labels)
    title_h = (len(title) * lh + PAD) if title else 0
    label_lines = max((len(lines) for lines in col_labels), default=0)
    header_h = label_lines * lh + (BAR_HEIGHT + PAD if col_bars else 0) + PAD
    margin = (max(text_width(t) for t in row_labels) + 2 * PAD) if row_labels else 0
    col_w = [
        max([row[j][1].shape[1] for row in rows]
            + [text_width(line) + PAD for line in col_labels[j]])
        for j in range(ncols)
    ]
    row_h = [max(tile.shape[0] for _, tile in row) for row in rows]
    grid_top, grid_left = title_h + header_h, margin
    xs = [grid_left + sum(col_w[:j]) + SEPARATOR * j for j in range(ncols)]
    ys = [grid_top + sum(row_h[:i]) + SEPARATOR * i for i in range(len(rows))]
    grid_w = sum(col_w) + SEPARATOR * (ncols - 1)
    grid_h = sum(row_h) + SEPARATOR * (len(rows) - 1)
    width = max([grid_left + grid_w] + [text_width(t) + 2 * PAD for t in title])
    bar_h = (PAD + BAR_HEIGHT + lh) if bottom_bar else 0
    height = grid_top + grid_h + bar_h

    pastes, texts, boxes = [], [], {}
    # Separators: grey under the whole grid, cells cleared back to the background.
    pastes.append((grid_top, grid_left, np.full((grid_h, grid_w, 3), SEPARATOR_GREY, np.uint8)))
    for i, row in enumerate(rows):
        for j, (key, tile) in enumerate(row):
            pastes.append((ys[i], xs[j], np.full((row_h[i], col_w[j], 3), BACKGROUND, np.uint8)))
            left = xs[j] + (col_w[j] - tile.shape[1]) // 2
            pastes.append((ys[i], left, tile))
            boxes[key] = (ys[i], left, tile.shape[0], tile.shape[1])
        if row_labels:
            texts.append((ys[i], PAD, row_labels[i]))
    for k, line in enumerate(title):
        texts.append((PAD // 2 + k * lh, PAD, line))
    for j, lines in enumerate(col_labels):
        for k, line in enumerate(lines):
            texts.append((title_h + k * lh, xs[j] + (col_w[j] - text_width(line)) // 2, line))
        if j in col_bars:
            colours_of, lo, hi = col_bars[j]
            bar_w = max(col_w[j] - PAD, 1)
            bar_top = title_h + label_lines * lh + PAD // 2
            pastes.append((bar_top, xs[j] + (col_w[j] - bar_w) // 2,
                           _bar(bar_w, colours_of, lo, hi)))
    if bottom_bar:
        colours_of, lo, hi, lo_text, hi_text = bottom_bar
        bar_w = width - 2 * PAD
        bar_top = grid_top + grid_h + PAD
        pastes.append((bar_top, PAD, _bar(bar_w, colours_of, lo, hi)))
        texts.append((bar_top + BAR_HEIGHT, PAD, lo_text))
        texts.append((bar_top + BAR_HEIGHT, width - PAD - text_width(hi_text), hi_text))
        boxes["colour_bar"] = (bar_top, PAD, BAR_HEIGHT, bar_w)
    image = _render((height, width, 3), pastes, texts)
    return Picture(image, boxes, {})


# ---- the LR | SR | HR panel --------------------------------------------------------------------------


def panel_frames(frames, max_frames=PANEL_FRAMES):
    """The frames a panel shows: first, middle (``frames // 2``), last; at most ``max_frames``."""
    chosen = sorted({0, frames // 2, frames - 1})
    if len(chosen) > max_frames:
        chosen = sorted({chosen[0], chosen[-1]})[:max_frames]
    return chosen


def lr_sr_hr_panel(lr, sr, hr, scale, frames=None):
    """LR (L, h, w, 3), SR and HR (L, sh, sw, 3) on [0, 255] -> the labelled `Picture`.

    Boxes: ``("lr", t)``, ``("sr", t)``, ``("hr", t)``, ``("error", t)`` for each shown frame t.
    The LR tile is ``lr[t]`` rounded and repeated ``scale`` x ``scale``; SR and HR tiles are the
    arrays rounded and clipped to [0, 255]; the error tile is ``error_colors`` of the mean over
    RGB of |SR - HR| (of those 8-bit values).
    """
    lr8, sr8, hr8 = picture_to_uint8(lr), picture_to_uint8(sr), picture_to_uint8(hr)
    frames = panel_frames(sr8.shape[0]) if frames is None else list(frames)
    error = np.abs(sr8.astype(np.int16) - hr8.astype(np.int16)).mean(axis=-1)
    rows = [
        [(("lr", t), zoom_nearest(lr8[t], scale)), (("sr", t), sr8[t]), (("hr", t), hr8[t]),
         (("error", t), error_colors(error[t]))]
        for t in frames
    ]
    lo, hi = ERROR_RANGE
    labels = [[f"LR (x{scale} nearest)"], ["SR"], ["HR"],
              [ERROR_LABEL, f"{lo:g}-{hi:g} of 255"]]
    picture = _grid(rows, labels, row_labels=[f"t={t}" for t in frames],
                    col_bars={3: (error_colors, lo, hi)})
    return picture._replace(info={"frames": frames})


# ---- attention pictures --------------------------------------------------------------------------


def _channel_mean(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=-1) if x.ndim == 4 else x


def _single_frame_picture(values, lr, colours_of, title, bar, frame):
    """(L, h, w[, C]) map on frame ``frame`` of LR (L, H, W, 3), overlaid and enlarged."""
    lr = np.asarray(lr, dtype=np.float64)
    frame = lr.shape[0] // 2 if frame is None else int(frame)
    size = lr.shape[1:3]
    colours = colours_of(upsample_nearest(_channel_mean(values)[frame], size))
    tile = overlay(lr[frame], colours)
    picture = _grid([[(("frame", frame), tile)]], [[f"t={frame}"]], title=title, bottom_bar=bar)
    return picture._replace(info={"frame": frame})


def short_mask_picture(mask, lr, block=0, frame=None):
    """Short-attention mask M (L, H, W, C) on [0, 1] over the LR frame (middle by default).

    Fixed scale 0..1; box ``("frame", t)`` is the overlay, LR frame size x `ATTENTION_ZOOM`.
    """
    lo, hi = MASK_RANGE
    return _single_frame_picture(
        mask, lr, mask_colors, [f"short attention, block {block}", "mask M, channel mean"],
        (mask_colors, lo, hi, f"{lo:g}", f"{hi:g}"), frame)


def variance_picture(variance, lr, block=0, frame=None):
    """sigma^2 (L, h, w, C) (latent or LR size) over the LR frame on the fixed log scale."""
    lo, hi = VARIANCE_RANGE

    def log_colours(v):  # the bar runs over log10 values
        return colormap(v, np.log10(lo), np.log10(hi))

    return _single_frame_picture(
        variance, lr, variance_colors,
        [f"variance sigma^2, block {block}", "channel mean, log scale"],
        (log_colours, np.log10(lo), np.log10(hi), _power_of_ten(lo), _power_of_ten(hi)), frame)


def _power_of_ten(value):
    """1e-06 -> "1e-6" (other values: %g)."""
    exponent = np.log10(value)
    return f"1e{int(round(exponent))}" if np.isclose(exponent, round(exponent)) else f"{value:g}"


def top_keys(sim, query, k=TOP_KEYS):
    """The ``k`` positions (t, i, j) of highest ``sim`` (L, h, w), the ``query`` itself excluded."""
    flat = np.nan_to_num(np.asarray(sim, dtype=np.float64).reshape(-1), nan=-np.inf)
    flat[np.ravel_multi_index(query, np.shape(sim))] = -np.inf
    order = np.argsort(-flat, kind="stable")[:k]
    return [tuple(int(v) for v in np.unravel_index(idx, np.shape(sim))) for idx in order]


def cosine_to_query(z, query):
    """z (L, h, w, C) -> (L, h, w) cosine similarity of every position to z[query]."""
    z = np.asarray(z, dtype=np.float64)
    flat = z.reshape(-1, z.shape[-1])
    flat = flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
    q = flat[np.ravel_multi_index(query, z.shape[:3])]
    return np.clip(flat @ q, -1.0, 1.0).reshape(z.shape[:3])


def long_attention_picture(z, lr, block=0, query=None, k=TOP_KEYS):
    """Cosine similarity of latent z (L, h, w, C) to the query, over the LR frames (L, H, W, 3).

    The query defaults to the centre of the middle frame (``(L // 2, h // 2, w // 2)``). Tiles
    (boxes ``("frame", t)``, each LR frame size x `ATTENTION_ZOOM`): the query's frame and every
    frame holding one of the ``k`` most similar positions other than the query, in time order.
    The query's latent cell is outlined `QUERY_MARKER`, the keys' cells `KEY_MARKER`. Info:
    ``query``, ``keys`` (t, i, j) latent positions, ``cells`` {position: LR box}, ``frames``.
    """
    z = np.asarray(z, dtype=np.float64)
    lr = np.asarray(lr, dtype=np.float64)
    frames, h, w = z.shape[:3]
    size = lr.shape[1:3]
    query = (frames // 2, h // 2, w // 2) if query is None else tuple(int(v) for v in query)
    sim = cosine_to_query(z, query)
    keys = top_keys(sim, query, k)
    shown = sorted({query[0]} | {t for t, _, _ in keys})
    cells = {pos: cell_box(pos[1], pos[2], (h, w), size) for pos in [query] + keys}
    row = []
    for t in shown:
        tile = overlay(lr[t], similarity_colors(upsample_nearest(sim[t], size)))
        for pos in keys:
            if pos[0] == t:
                outline(tile, cells[pos], KEY_MARKER)
        if query[0] == t:
            outline(tile, cells[query], QUERY_MARKER)
        row.append((("frame", t), tile))
    labels = [[f"t={t} query" if t == query[0] else f"t={t}"] for t in shown]
    lo, hi = SIMILARITY_RANGE
    picture = _grid(
        [row], labels,
        title=[f"long attention, block {block}", "cos sim of z to the query",
               f"white: query, red: top {k} keys"],
        bottom_bar=(similarity_colors, lo, hi, f"{lo:g}", f"+{hi:g}"))
    return picture._replace(info={"query": query, "keys": keys, "cells": cells, "frames": shown,
                                  "similarity": sim})


def attention_pictures(model, info, lr):
    """{tag: Picture} of every attention block, from ``call_with_attention``'s info (batch item 0)
    and the LR clip (L, H, W, 3)."""
    def first(x):
        return np.asarray(x[0])

    pictures = {}
    short_masks = iter(info.get("masks", []))
    variances = iter(info.get("variance", []))
    zs = info.get("z", [])
    for i, block in enumerate(getattr(model, "attention", [])):
        kind = type(block).__name__.lower()
        if "long" in kind and i < len(zs):
            pictures[f"attention/long_corr_{i}"] = long_attention_picture(first(zs[i]), lr, i)
        elif "short" in kind:
            mask = next(short_masks, None)
            if mask is not None:
                pictures[f"attention/short_mask_{i}"] = short_mask_picture(first(mask), lr, i)
        if getattr(block, "variational", False):
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
