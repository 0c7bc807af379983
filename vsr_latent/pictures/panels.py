"""The training summaries' pictures of one clip, from numpy arrays: the labelled LR | SR | HR |
error panel and the attention pictures (long-attention similarity to a query with its top keys,
short-attention mask, variance), each on a fixed colour scale stated on the picture."""

import numpy as np

from vsr_latent.pictures.canvas import (
    KEY_MARKER,
    QUERY_MARKER,
    cell_box,
    grid,
    outline,
    overlay,
    picture_to_uint8,
    upsample_nearest,
    zoom_nearest,
)
from vsr_latent.pictures.colours import (
    ERROR_RANGE,
    MASK_RANGE,
    SIMILARITY_RANGE,
    VARIANCE_RANGE,
    colormap,
    error_colors,
    mask_colors,
    similarity_colors,
    variance_colors,
)

TOP_KEYS = 3
PANEL_FRAMES = 3
ERROR_LABEL = "|SR - HR|"


# ---- the LR | SR | HR panel ------------------------------------------------------------------------


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
    picture = grid(rows, labels, row_labels=[f"t={t}" for t in frames],
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
    picture = grid([[(("frame", frame), tile)]], [[f"t={frame}"]], title=title, bottom_bar=bar)
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
    picture = grid(
        [row], labels,
        title=[f"long attention, block {block}", "cos sim of z to the query",
               f"white: query, red: top {k} keys"],
        bottom_bar=(similarity_colors, lo, hi, f"{lo:g}", f"+{hi:g}"))
    return picture._replace(info={"query": query, "keys": keys, "cells": cells, "frames": shown,
                                  "similarity": sim})
