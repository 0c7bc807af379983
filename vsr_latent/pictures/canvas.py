"""The canvas every picture is drawn on: pixel operations (rounding to 8 bits, nearest-neighbour
zoom, grey frames with a colour map blended over them, outlines) and a labelled grid of tiles
with colour bars, returned as a `Picture` that knows where each tile is."""

import functools
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vsr_latent.pictures.colours import BAR_HEIGHT, colour_bar

# Attention maps: blended over the grey LR frame and enlarged (nearest) this many times.
ATTENTION_ZOOM = 4
OVERLAY_ALPHA = 0.7

SEPARATOR = 2
SEPARATOR_GREY = (128, 128, 128)
BACKGROUND = (30, 30, 30)
TEXT_COLOUR = (230, 230, 230)
QUERY_MARKER = (255, 255, 255)
KEY_MARKER = (255, 0, 0)
FONT_SIZE = 14
PAD = 3


# ---- pixels ----------------------------------------------------------------------------------------


def picture_to_uint8(x):
    """A picture's pixels: rounded (in float64) and clipped to [0, 255]."""
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


def grid(rows, col_labels, row_labels=None, title=(), col_bars=None, bottom_bar=None):
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
                           colour_bar(bar_w, colours_of, lo, hi)))
    if bottom_bar:
        colours_of, lo, hi, lo_text, hi_text = bottom_bar
        bar_w = width - 2 * PAD
        bar_top = grid_top + grid_h + PAD
        pastes.append((bar_top, PAD, colour_bar(bar_w, colours_of, lo, hi)))
        texts.append((bar_top + BAR_HEIGHT, PAD, lo_text))
        texts.append((bar_top + BAR_HEIGHT, width - PAD - text_width(hi_text), hi_text))
        boxes["colour_bar"] = (bar_top, PAD, BAR_HEIGHT, bar_w)
    image = _render((height, width, 3), pastes, texts)
    return Picture(image, boxes, {})
