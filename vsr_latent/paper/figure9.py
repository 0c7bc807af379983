"""Figure 9: qualitative comparison on Vid4 — bicubic, ours and ground truth side by side.

For each Vid4 sequence (calendar, city, foliage, walk) one row of three crops of the same frame:
bicubic, ours, ground truth, each with its PSNR (Y) printed under it. The picture is composed
with Pillow pixel for pixel (crops are not resampled, so what is shown is what was scored) and
written as ``figure9.png`` with ``figure9.md`` / ``figure9.csv`` beside it.

"Ours" is ``--model SPEC`` (a run folder, a ``.keras`` file, a SavedModel, a registry name: see
:func:`vsr_latent.serving.loading.load_predictor`), else the final model of Table 4 (the ``ours``
config, trained or reused). Its LR frames are made with its own training degradation (a run
folder's ``config.json``; the Vid4 default "bi" for a model without one), with the package's
``degrade``; the bicubic column sees the same LR frames.

GAP decisions (the paper shows the figure without saying how it was cut): the middle frame of each
sequence (as Vid4 is cut at the tiny and smoke budgets), a centre crop of at most :data:`CROP` HR
pixels, and the printed PSNR is that of the whole frame, Y channel, with the paper protocol's
8-pixel border cropped (``vsr_latent.evaluation.PROTOCOLS["paper"]``), SR rounded to 8 bits.
"""

import traceback
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vsr_latent.atomic import atomic_path, write_text
from vsr_latent.configs.base import VID4_DEGRADATION
from vsr_latent.data.video_io import to_uint8
from vsr_latent.evaluation import PROTOCOLS
from vsr_latent.paper import measure
from vsr_latent.paper.attention_figures import MetaLines
from vsr_latent.paper.results import headline_lines
from vsr_latent.paper.runs import ensure_run, training_degradation
from vsr_latent.paper.tables import OURS_CONFIG, error_summary
from vsr_latent.serving.loading import load_predictor
from vsr_latent.serving.predictors import upscale_sequence

#: Largest crop shown (HR pixels, H x W); smaller frames are shown whole.
CROP = (160, 160)
#: Layout, in pixels: gap between panels, height of the title band over each row and of the
#: label band under each crop.
GAP = 4
TITLE_H = 14
LABEL_H = 14
COLUMNS = ("Bicubic", "Ours", "GT")
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


def layout_size(num_rows, crop):
    """``(width, height)`` of the PNG for ``num_rows`` sequences of ``crop`` (h, w) crops."""
    h, w = crop
    width = len(COLUMNS) * w + (len(COLUMNS) + 1) * GAP
    height = num_rows * (TITLE_H + h + LABEL_H) + (num_rows + 1) * GAP
    return width, height


def crop_box(frame_shape, crop=CROP):
    """``(y0, x0, h, w)``: the centre crop of at most ``crop`` of an (H, W, ...) frame."""
    h, w = min(crop[0], frame_shape[0]), min(crop[1], frame_shape[1])
    return (frame_shape[0] - h) // 2, (frame_shape[1] - w) // 2, h, w


def psnr_label(name, value):
    """The text printed under a crop (its PSNR to two decimals, as in the paper's tables)."""
    return name if value is None else f"{name} {value:.2f} dB"


def frame_psnr_y(sr, gt):
    """PSNR (Y) of one frame as the figure prints it: SR rounded to 8 bits, the paper
    protocol's border crop, the package's metric."""
    return PROTOCOLS["paper"].score(to_uint8(sr), gt)["psnr_y"]


def _spec_folder(spec):
    """The folder whose ``config.json`` says how a model spec was trained: a run folder itself,
    or the run folder holding a ``.keras`` file (``RUN/model.keras``)."""
    path = Path(spec).expanduser()
    return path if path.is_dir() else path.parent


def _model(ctx):
    """``(predictor, description, (degradation, why), run config names)`` of the model shown
    as "ours"."""
    if ctx.model:
        # A bare model (registry name, .keras) carries no training config: Vid4's own BI.
        folder = _spec_folder(ctx.model)
        degradation = training_degradation(folder, None)
        how = f"its training degradation, `{folder / 'config.json'}`"
        if degradation is None:
            degradation = VID4_DEGRADATION
            how = "Vid4's BI: no run config.json says how it was trained"
        return load_predictor(ctx.model), f"`{ctx.model}`", (degradation, how), []
    run = ensure_run(ctx, OURS_CONFIG)
    degradation = training_degradation(run.run_dir, run.config.data.degradation)
    return (measure.run_predictor(run), f"`{run.run_dir}` ({OURS_CONFIG})",
            (degradation, "its training degradation"), [OURS_CONFIG])


def sequence_rows(predictor, data):
    """For each ``(name, lr, gt)``: ``(name, t, box, {column: (crop, psnr or None)})``."""
    bicubic = load_predictor("bicubic", seq_len=predictor.seq_len)
    rows = []
    for name, lr, gt in data:
        t = lr.shape[0] // 2
        x = lr.astype(np.float32)
        # Ours sees the whole (cut) sequence, chunked and padded as in Table 4; bicubic is per
        # frame, so one frame is enough.
        outs = {"Bicubic": bicubic(x[t:t + 1])[0], "Ours": upscale_sequence(predictor, x)[t]}
        y0, x0, h, w = box = crop_box(gt.shape[1:])
        panels = {k: (to_uint8(v)[y0:y0 + h, x0:x0 + w], frame_psnr_y(v, gt[t]))
                  for k, v in outs.items()}
        panels["GT"] = (gt[t, y0:y0 + h, x0:x0 + w], None)
        rows.append((name, t, box, panels))
    return rows


def compose(rows):
    """The figure as a PIL image: one row of :data:`COLUMNS` crops per sequence."""
    h, w = rows[0][2][2:]
    image = Image.new("RGB", layout_size(len(rows), (h, w)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    top = GAP
    for name, t, _, panels in rows:
        draw.text((GAP, top), f"{name}, frame {t}", fill=INK, font=font)
        for c, column in enumerate(COLUMNS):
            crop, value = panels[column]
            left = GAP + c * (w + GAP)
            image.paste(Image.fromarray(np.ascontiguousarray(crop)), (left, top + TITLE_H))
            draw.text((left, top + TITLE_H + h), psnr_label(column, value), fill=INK, font=font)
        top += TITLE_H + h + LABEL_H + GAP
    return image


def _save_png(image, path):
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path


def _markdown(ctx, rows, model_text, degradation, how, data_line, runs):
    lines = ["# Figure 9 — qualitative comparison on Vid4", ""]
    lines += headline_lines(ctx.budget.name, ctx.modified)
    lines += ["![figure9](figure9.png)", "",
              "| Sequence | Frame | Bicubic PSNR (Y)/dB | Ours PSNR (Y)/dB |", "|---|---|---|---|"]
    lines += [f"| {n} | {t} | {p['Bicubic'][1]:.2f} | {p['Ours'][1]:.2f} |"
              for n, t, _, p in rows]
    _y0, _x0, h, w = rows[0][2]
    lines += ["", (f"- Ours: {model_text}; LR frames by {degradation!r} ({how}), the bicubic "
              "column on the same LR frames."),
              (f"- Crops: centre {w}x{h} HR pixels of the middle frame of each sequence; PSNR "
              "printed under each crop: the whole frame, Y channel, 8-pixel border cropped "
              "(paper protocol), SR rounded to 8 bits."), ""]
    meta = MetaLines()
    ctx.fill_meta(meta, runs=runs, data=data_line)
    lines += ["## How this figure was made", ""]
    lines += [f"- **{k}**: {v}" if not isinstance(v, (list, tuple))
              else f"- **{k}**:\n" + "\n".join(f"    - {x}" for x in v)
              for k, v in meta.meta.items()]
    return "\n".join(lines) + "\n"


def _csv(rows):
    out = ["sequence,frame,column,psnr_y,crop_top,crop_left,crop_height,crop_width"]
    for name, t, (y0, x0, h, w), panels in rows:
        for column in COLUMNS:
            value = panels[column][1]
            out.append(f"{name},{t},{column},{'' if value is None else repr(value)},"
                       f"{y0},{x0},{h},{w}")
    return "\n".join(out) + "\n"


def _not_made(ctx, reason, *, failed):
    """Writes a figure9.md that says why there is no figure (a failure is also reported in
    ``ctx.failures``, so the command exits non-zero, as a failed table row does)."""
    ctx.log(f"figure9: not made: {reason}")
    if failed:
        ctx.failures.append(f"figure9: not made: {reason}")
    lines = ["# Figure 9 — qualitative comparison on Vid4", ""]
    lines += headline_lines(ctx.budget.name, ctx.modified)
    lines += [f"not run — {'failed: ' if failed else ''}{reason}", ""]
    md = ctx.out_dir / "figure9.md"
    write_text(md, "\n".join(lines))
    return [md]


def figure9(ctx):
    """Writes figure9.png, figure9.md and figure9.csv; returns the paths. Without Vid4, or
    when the model cannot be made, only figure9.md, saying why (the other drivers go on)."""
    if ctx.vid4_root is None:
        return _not_made(ctx, "Vid4 not found: pass --vid4_root DIR (a folder with "
                              "GT/<sequence>/ frames)", failed=False)
    try:
        return _figure9(ctx)
    except Exception as e:  # noqa: BLE001 - reported in the results file and the exit code
        if not ctx.quiet:
            traceback.print_exc()
        return _not_made(ctx, error_summary(e), failed=True)


def _figure9(ctx):
    predictor, model_text, (degradation, how), runs = _model(ctx)
    data = measure.vid4_data(ctx, degradation)
    ctx.log(f"figure9: {model_text} on Vid4, LR by {degradation!r}")
    rows = sequence_rows(predictor, data)
    out = ctx.out_dir
    png = _save_png(compose(rows), out / "figure9.png")
    data_line = measure.describe_vid4(ctx, data, degradation)
    md, cs = out / "figure9.md", out / "figure9.csv"
    write_text(cs, _csv(rows))
    write_text(md, _markdown(ctx, rows, model_text, degradation, how, data_line, runs))
    return [png, md, cs]
