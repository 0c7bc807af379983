"""Figures 7 and 8: what the attention blocks look at.

Figure 7 (long attention, §6.3): for one query region of the current frame, the three most
correlated key regions of another frame of the clip, from the first long block of VLatn10_7
(deterministic path). The correlation is the block's own softmax(theta phi^T) (eq. 10), as the
block returns it on the features that enter it: a query is a 2x2 LR pixel block, a key a 4x4 LR
pixel block (the block-sparse layout of the paper).

Figure 8 (short attention): the mask of the second short block of VSatn10_7 (the block the paper
inspects) around a 15x15 LR receptive field, on the deterministic path and for three sampled
draws (z = mu + eps sigma).

GAP decisions: ``QUERY_FRAME`` (the middle frame of the clip), ``QUERY_POSITION`` (the query block
at the centre of the frame), the clip (Vid4 calendar when Vid4 is present, else the first built-in
validation clip; at the tiny and smoke budgets cut to ``CLIP_CROP`` LR pixels),
``FIGURE8_SAMPLES``. The clip's LR frames are made with each model's own training degradation (its
run folder's ``config.json``), not a fixed "bi": the Table 3 models are trained on the paper's
degradation.
"""

import traceback

import numpy as np
import tensorflow as tf

from vsr_latent.atomic import write_text
from vsr_latent.data.builtin import builtin_clips
from vsr_latent.data.degrade import degrade
from vsr_latent.data.vid4 import GT_FOLDER, load_sequence
from vsr_latent.data.video_io import to_uint8
from vsr_latent.layers import LongAttention
from vsr_latent.paper.figures import pyplot, save
from vsr_latent.paper.results import SMOKE_BUDGETS, headline_lines
from vsr_latent.paper.runs import ensure_run, training_degradation
from vsr_latent.paper.tables import error_summary, stage2_changes
from vsr_latent.run_folder import load_keras_model

FIGURE7_CONFIG = "table3_vlatn10_7"
FIGURE8_CONFIG = "table3_vsatn10_7"
FIGURE8_BLOCK = 1  # "the second attention block" (§6.3)
FIGURE8_FIELD = 15  # LR pixels
FIGURE8_SAMPLES = 3
CLIP_CROP = (64, 64)
TOP_K = 3


def _clip(ctx, seq_len, degradation):
    """(name, lr uint8 (L, h, w, 3), gt uint8 (L, 4h, 4w, 3)); LR by ``degradation`` (the
    model's own training degradation, :func:`_run_degradation`)."""
    if ctx.vid4_root is not None:
        gt = load_sequence(ctx.vid4_root / GT_FOLDER / "calendar")[:seq_len]
        name = "Vid4 calendar"
    else:
        gt = np.asarray(builtin_clips(1, max(seq_len, 7), (128, 128), split="validation")[0])
        gt = gt[:seq_len]
        name = "built-in validation clip 0"
    h, w = gt.shape[1] // 4 * 4, gt.shape[2] // 4 * 4
    gt = gt[:, :h, :w]
    if ctx.budget.name in SMOKE_BUDGETS:
        ch, cw = min(CLIP_CROP[0], h // 4), min(CLIP_CROP[1], w // 4)
        y0, x0 = (h // 4 - ch) // 2, (w // 4 - cw) // 2
        gt = gt[:, 4 * y0:4 * (y0 + ch), 4 * x0:4 * (x0 + cw)]
        name += f" (centre {cw}x{ch} LR crop)"
    lr = to_uint8(degrade(gt, degradation, 4))
    return f"{name}, LR by {degradation!r}", lr, np.ascontiguousarray(gt)


def _run_degradation(run):
    """The degradation ``run``'s model was trained on (its config.json, else its config)."""
    return training_degradation(run.run_dir, run.config.data.degradation)


def _block_input(model, frames, block):
    """The features entering ``block`` when ``model`` runs on ``frames``."""
    captured = []
    original = block.call

    def spy(inputs, *args, **kwargs):
        if not captured:
            captured.append(inputs)
        return original(inputs, *args, **kwargs)

    block.call = spy
    try:
        model(frames, training=False)
    finally:
        del block.call
    return captured[0]


def long_attention_weights(model, frames, block_index=0):
    """softmax(theta phi^T) of long block ``block_index`` as the block computes it
    (``LongAttention(..., return_weights=True)``): ``(weights (Q, K), query grid (L, H/2, W/2),
    key grid (L, H/4, W/4))`` for a batch of one clip (padded frame sizes)."""
    longs = [b for b in model.attention if isinstance(b, LongAttention)]
    block = longs[block_index]
    x = _block_input(model, tf.convert_to_tensor(frames[None], tf.float32), block)
    _, info = block(x, training=False, return_weights=True)
    weights = info["weights"].numpy()[0]
    q_grid, k_grid = weights.shape[:3], weights.shape[3:]
    return weights.reshape(int(np.prod(q_grid)), int(np.prod(k_grid))), q_grid, k_grid


def _stage2_model_and_clip(ctx, config, stage1_config):
    """``(run, model, L, (name, lr, gt))``: the stage-2 run of ``config`` (trained from
    ``stage1_config``'s run, or reused), its model, its L and the clip in its own degradation."""
    run = ensure_run(ctx, config, _stage2(ctx, stage1_config))
    model = load_keras_model(run.run_dir / "model.keras")
    L = run.config.model.seq_len
    return run, model, L, _clip(ctx, L, _run_degradation(run))


def figure7(ctx, out_dir, lines, csv_rows):
    plt = pyplot()
    run, model, L, (name, lr, gt) = _stage2_model_and_clip(ctx, FIGURE7_CONFIG, "table3_latn10_7")
    weights, (_ql, qh, qw), (kl, kh, kw) = long_attention_weights(model, lr.astype(np.float32))
    t = L // 2
    qi, qj = qh // 2, qw // 2
    q = (t * qh + qi) * qw + qj
    w = weights[q].reshape(kl, kh, kw)
    others = w.copy()
    others[t] = -1  # the paper shows keys in another frame of the sequence
    t_key = int(np.unravel_index(np.argmax(others), others.shape)[0])
    order = np.argsort(w[t_key].ravel())[::-1][:TOP_K]
    keys = [divmod(int(k), kw) for k in order]

    fig = plt.figure(figsize=(9, 6.5))
    grid = fig.add_gridspec(2, TOP_K)
    ax_q = fig.add_subplot(grid[0, :TOP_K // 2 + 1]) if TOP_K > 2 else fig.add_subplot(grid[0, 0])
    ax_k = fig.add_subplot(grid[0, TOP_K // 2 + 1:]) if TOP_K > 2 else fig.add_subplot(grid[0, 1])
    from matplotlib.patches import Rectangle

    ax_q.imshow(gt[t])
    ax_q.add_patch(Rectangle((qj * 8 - 0.5, qi * 8 - 0.5), 8, 8, fill=False, ec="red", lw=2))
    ax_q.set_title(f"query: frame {t}, LR block ({2 * qi}, {2 * qj}) 2x2", fontsize=9)
    ax_k.imshow(gt[t_key])
    colours = ("yellow", "cyan", "magenta", "lime", "orange")
    for r, (ki, kj) in enumerate(keys):
        ax_k.add_patch(Rectangle((kj * 16 - 0.5, ki * 16 - 0.5), 16, 16, fill=False,
                                 ec=colours[r % 5], lw=2))
    ax_k.set_title(f"top-{TOP_K} keys in frame {t_key}", fontsize=9)
    for r, (ki, kj) in enumerate(keys):
        ax = fig.add_subplot(grid[1, r])
        y0, x0 = max(0, ki * 16 - 16), max(0, kj * 16 - 16)
        ax.imshow(gt[t_key][y0:ki * 16 + 32, x0:kj * 16 + 32])
        ax.add_patch(Rectangle((kj * 16 - x0 - 0.5, ki * 16 - y0 - 0.5), 16, 16, fill=False,
                               ec=colours[r % 5], lw=2))
        ax.set_title(f"#{r + 1}: weight {w[t_key, ki, kj]:.6f}", fontsize=9)
        csv_rows.append(("figure7", f"key{r + 1}", t_key, 4 * ki, 4 * kj,
                         float(w[t_key, ki, kj])))
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    title = f"Figure 7: long attention of {run.config.name} (first long block), {name}"
    title += _title_note(ctx)
    fig.suptitle(title, fontsize=10)
    path = save(fig, out_dir / "figure7.png")
    uniform = 1.0 / (kl * kh * kw)
    lines += [
        "## Figure 7 — long attention", "",
        "![figure7](figure7.png)", "",
        (f"- Model: `{run.run_dir}` ({run.config.model.name}, L = {L}, deterministic path), "
         "first long attention block."),
        f"- Clip: {name}, {L} frames, LR {lr.shape[2]}x{lr.shape[1]}.",
        (f"- Query: frame {t}, LR pixels rows {2 * qi}-{2 * qi + 1}, columns {2 * qj}-{2 * qj + 1}"
        f" (query grid {qh}x{qw} per frame; key grid {kh}x{kw} per frame, {kl} frames)."),
        f"- Top-{TOP_K} keys in frame {t_key} (LR top-left corner of each 4x4 block, weight): "
        + "; ".join(f"({4 * ki}, {4 * kj}) {w[t_key, ki, kj]:.6f}" for ki, kj in keys)
        + f". A uniform attention would give {uniform:.6f} to every key.", "",
    ]
    return path, run


def _stage2(ctx, base_config):
    return stage2_changes(ctx, ensure_run(ctx, base_config))


def figure8(ctx, out_dir, lines, csv_rows):
    plt = pyplot()
    run, model, L, (name, lr, _gt) = _stage2_model_and_clip(ctx, FIGURE8_CONFIG, "table3_satn10_7")
    x = lr[None].astype(np.float32)
    t = L // 2
    maps = []
    _, info = model.call_with_attention(x, training=False)
    maps.append(("deterministic", np.asarray(info["masks"][FIGURE8_BLOCK])[0, t].mean(-1)))
    for s in range(FIGURE8_SAMPLES):
        _, info = model.call_with_attention(x, training=False, sampling=True)
        maps.append((f"sample {s + 1}", np.asarray(info["masks"][FIGURE8_BLOCK])[0, t].mean(-1)))
    h, w = maps[0][1].shape
    f = FIGURE8_FIELD
    y0, x0 = max(0, h // 2 - f // 2), max(0, w // 2 - f // 2)
    from matplotlib.patches import Rectangle

    cols = 1 + len(maps)
    fig, axes = plt.subplots(2, cols, figsize=(2.4 * cols, 5))
    axes[0, 0].imshow(lr[t])
    axes[0, 0].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), f, f, fill=False, ec="red", lw=1.5))
    axes[0, 0].set_title(f"LR frame {t}", fontsize=9)
    axes[1, 0].imshow(lr[t][y0:y0 + f, x0:x0 + f], interpolation="nearest")
    axes[1, 0].set_title(f"{f}x{f} field", fontsize=9)
    lo = min(m.min() for _, m in maps)
    hi = max(m.max() for _, m in maps)
    det = maps[0][1][y0:y0 + f, x0:x0 + f]
    for c, (label, m) in enumerate(maps, start=1):
        axes[0, c].imshow(m, cmap="viridis", vmin=lo, vmax=hi)
        axes[0, c].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), f, f, fill=False, ec="red", lw=1.5))
        axes[0, c].set_title(label, fontsize=9)
        crop = m[y0:y0 + f, x0:x0 + f]
        axes[1, c].imshow(crop, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
        diff = float(np.abs(crop - det).mean())
        axes[1, c].set_title(f"std {crop.std():.3f}" + (f", |d| {diff:.3f}" if c > 1 else ""),
                             fontsize=8)
        csv_rows.append(("figure8", label, t, y0, x0, float(crop.std())))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    title = (f"Figure 8: short attention masks of {run.config.name}, block {FIGURE8_BLOCK + 1} "
             f"(channel mean), {name}")
    title += _title_note(ctx)
    fig.suptitle(title, fontsize=10)
    path = save(fig, out_dir / "figure8.png")
    lines += [
        "## Figure 8 — short attention, deterministic vs sampled", "",
        "![figure8](figure8.png)", "",
        (f"- Model: `{run.run_dir}` ({run.config.model.name}, L = {L}); mask of short block "
        f"{FIGURE8_BLOCK + 1} (sigmoid of z, mean over channels), frame {t} of {name}."),
        (f"- {f}x{f} LR field at rows {y0}-{y0 + f - 1}, columns {x0}-{x0 + f - 1}; "
        f"deterministic path (z = mu) and {FIGURE8_SAMPLES} sampled draws (z = mu + eps sigma)."),
        "- Spatial standard deviation of the mask inside the field: "
        + "; ".join(f"{label} {m[y0:y0 + f, x0:x0 + f].std():.4f}" for label, m in maps)
        + " (the paper: deterministic attention looks noisier/averaged, sampled ones sharper "
          "and more diverse).", "",
    ]
    return path, run


def figure7_8(ctx):
    """Writes figure7.png, figure8.png and figure7_8.md / .csv; returns the paths."""
    out = ctx.out_dir

    lines = ["# Figures 7 and 8 — attention visualised", ""]
    lines += headline_lines(ctx.budget.name, ctx.modified)
    csv_rows = [("figure", "item", "frame", "row", "column", "value")]
    written, runs = [], []
    for label, fn in (("Figure 7", figure7), ("Figure 8", figure8)):
        try:
            path, run = fn(ctx, out, lines, csv_rows)
            written.append(path)
            runs.append(run.config_name)
        except Exception as e:  # noqa: BLE001 - reported in the results file
            if not ctx.quiet:
                traceback.print_exc()

            msg = f"{label}: not made: {error_summary(e)}"
            ctx.log(msg)
            ctx.failures.append(f"figure7_8: {msg}")
            lines += [f"## {label}", "", f"not run — failed: {error_summary(e)}", ""]
    meta = MetaLines()
    ctx.fill_meta(meta, runs=runs)
    lines += ["## How these figures were made", ""]
    lines += [f"- **{k}**: {v}" if not isinstance(v, (list, tuple))
              else f"- **{k}**:\n" + "\n".join(f"    - {x}" for x in v)
              for k, v in meta.meta.items()]
    md, cs = out / "figure7_8.md", out / "figure7_8.csv"
    write_text(cs, "\n".join(",".join(str(c) for c in row) for row in csv_rows) + "\n")
    write_text(md, "\n".join(lines) + "\n")
    return written + [md, cs]


def _title_note(ctx):
    """What a figure's title adds so a smoke or modified-settings figure is never taken for the
    paper's."""
    if ctx.budget.name in SMOKE_BUDGETS:
        return f"\n{ctx.budget.name} budget: tiny model, few steps - not comparable to the paper"
    if ctx.budget.name == "cpu":
        return "\nCPU scale: not the paper's data or steps"
    if ctx.modified:
        return f"\n{ctx.budget_label} - not the paper's settings"
    return ""


class MetaLines:
    """Holds the "how these were made" lines (``Context.fill_meta`` fills any ``.meta`` dict)."""

    def __init__(self):
        self.meta = {}
