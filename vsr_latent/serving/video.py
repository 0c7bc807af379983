"""Upscale a real video of any length and frame size, optionally with a per-pixel uncertainty map.

Wang et al., "Efficient Video Super-Resolution with Latent Attention" (Computer Science 2023)
process a clip of L frames in parallel (§4.3) and cut longer sequences into chunks of L, the last
zero-padded and its padded outputs dropped (§6.2). ``upscale_video`` applies the same rule to a
stream: frames are read, upscaled and written one window of L at a time, so memory does not grow
with the length of the video.

A frame's path through ``vsr-latent upscale``: :func:`upscale_video` checks the paths (its
``UpscaleOptions`` were checked when made), loads the model
(``vsr_latent.serving.loading.load_predictor``), reads frames with ``vsr_latent.data.video_io``,
upscales them window by window (:func:`upscale_frames`, tiled by :func:`predict_window`) with the
predictor, and hands them back to ``video_io``'s writer.

Large frames are cut into overlapping spatial tiles, each upscaled on its own and blended back
with feathered (linear ramp) weights over the overlap, so the model's memory does not grow with
the frame size and the tile joins do not show (what remains proportional to the frame size is
one window of L output frames, which the writer needs whole). Decisions the paper leaves open
(GAP), each named once here:

* ``TILE_PIXEL_BUDGET``: frames with more LR pixels than this are tiled by default (``tile=None``).
* ``DEFAULT_TILE`` / ``DEFAULT_TILE_OVERLAP``: tile side and overlap, in LR pixels.
* ``TILE_ALIGN``: tile origins lie on multiples of 8 LR pixels, so the pooling grids of the
  attention blocks (2x2 poolings down to 1/4 of the frame) line up with those of the whole frame
  (8 leaves room for one more halving). Tiling limits long attention to the tile: a tiled run of
  an attention model is an approximation of the whole-frame run, exact only away from the joins
  for purely convolutional models (Res16).
* ``UNCERTAINTY_MAX_STD``/``UNCERTAINTY_COLORMAP``: the heat map of the variational models
  (§4.1, §5) maps a per-pixel standard deviation of 0 to the bottom of the 'inferno' colormap and
  ``UNCERTAINTY_MAX_STD`` (intensity levels on the [0, 255] scale) or more to its top, the same
  for every frame and every video, so maps are comparable.
* With ``samples=K > 1`` the output is the mean of K draws of the latent attention
  (z = mu + eps * sigma); with ``samples=1`` it is the deterministic mean path (z = mu).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vsr_latent.data.chunks import pad_chunk
from vsr_latent.data.video_io import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    WRITABLE_VIDEO_EXTENSIONS,
    FrameWriter,
    VideoEncoding,
    carried_streams,
    notice,
    open_frames,
)
from vsr_latent.data.video_probe import SCALE_MATRIX
from vsr_latent.errors import ConfigError, InputError
from vsr_latent.pictures import colormap as fixed_scale_colours
from vsr_latent.serving.loading import load_predictor
from vsr_latent.serving.predictors import check_sample_count

TILE_PIXEL_BUDGET = 320 * 240
"""LR pixels per frame above which ``tile=None`` tiles the frame (about 1/4 of 640x480)."""

DEFAULT_TILE = 128
"""Tile side in LR pixels when tiling (output tiles of 512x512)."""

DEFAULT_TILE_OVERLAP = 16
"""Overlap between neighbouring tiles in LR pixels; the blend ramps over it."""

TILE_ALIGN = 8
"""Tile origins are multiples of this (LR pixels), keeping pooling grids aligned with the frame."""

UNCERTAINTY_COLORMAP = "inferno"
"""Matplotlib colormap of the uncertainty heat map."""

UNCERTAINTY_MAX_STD = 16.0
"""Standard deviation (intensity levels, [0, 255] scale) shown at the top of the colormap."""

# Output names that look like a format the writer does not write (it would make a folder of
# PNG frames called out.webm): refused rather than surprising.
_UNWRITABLE_SUFFIXES = tuple(
    s for s in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS if s not in WRITABLE_VIDEO_EXTENSIONS
) + (".gif", ".yuv")


# --------------------------------------------------------------------------------------------
# Tiling


def tile_spans(length, tile, overlap, align=TILE_ALIGN):
    """Start/stop pairs covering ``range(length)`` with tiles of about ``tile`` pixels.

    Neighbouring tiles overlap by at least ``overlap``; starts are multiples of ``align``; the
    last tile reaches ``length`` and may be up to ``align - 1`` pixels longer than ``tile``.
    """
    tile, overlap, align = int(tile), int(overlap), int(align)
    if length <= tile:
        return [(0, int(length))]
    stride = ((tile - overlap) // align) * align
    if stride < align:
        raise ConfigError(
            f"tile {tile} with overlap {overlap} leaves no stride: tile must be at least "
            f"overlap + {align}"
        )
    starts = list(range(0, length - tile, stride))
    last = ((length - tile) // align) * align
    if last > starts[-1]:
        starts.append(last)
    spans = [(s, s + tile) for s in starts[:-1]]
    spans.append((starts[-1], int(length)))
    return spans


def axis_weights(start, stop, length, overlap, scale):
    """1-D blend weights of one tile at output resolution: a linear ramp over ``overlap`` LR
    pixels on each side that borders another tile, 1 elsewhere (never 0, so every output pixel
    has weight)."""
    n = (stop - start) * scale
    w = np.ones(n, np.float32)
    r = min(int(overlap) * scale, n)
    if r > 0:
        ramp = (np.arange(r, dtype=np.float32) + 0.5) / r
        if start > 0:
            w[:r] = np.minimum(w[:r], ramp)
        if stop < length:
            w[n - r :] = np.minimum(w[n - r :], ramp[::-1])
    return w


def resolve_tile(size, tile):
    """The tile side to use for frames of ``size`` (H, W): ``None`` means no tiling.

    ``tile=None``: tile with ``DEFAULT_TILE`` when H*W exceeds ``TILE_PIXEL_BUDGET``;
    ``tile=0``: never tile; ``tile > 0``: tile with that side.
    """
    h, w = size
    if tile is None:
        return DEFAULT_TILE if h * w > TILE_PIXEL_BUDGET else None
    tile = int(tile)
    if tile == 0 or (h <= tile and w <= tile):
        return None
    return tile


def check_tiling(tile, overlap):
    """Raise ConfigError for a tile/overlap pair that cannot tile (``tile`` as for resolve_tile);
    run by ``UpscaleOptions`` when it is made."""
    if overlap is None or int(overlap) < 0:
        raise ConfigError(f"overlap must be >= 0, got {overlap}", fields=("overlap",))
    if tile is not None and int(tile) < 0:
        raise ConfigError(f"tile must be >= 0 (0 = never tile), got {tile}", fields=("tile",))
    side = DEFAULT_TILE if tile is None else int(tile)
    if side > 0 and side - int(overlap) < TILE_ALIGN:
        raise ConfigError(
            f"tile side {side} must exceed overlap {overlap} by at least {TILE_ALIGN} pixels",
            fields=("overlap",))


@functools.lru_cache(maxsize=4)
def tile_plan(h, w, tile, overlap, scale):
    """The tiles of an (h, w) frame: ``((y0, y1, x0, x1), weight)`` pairs, ``weight`` the
    (scale*(y1-y0), scale*(x1-x0), 3) blend weight at output resolution, already divided by the
    sum of all tiles' weights (so the blend is a plain sum, and exactly 1 where one tile covers).
    The channel axis is repeated rather than broadcast: numpy is several times faster with a
    contiguous innermost axis.

    Cached: the plan depends only on the geometry, not on the frames.
    """
    ys, xs = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    wsum = np.zeros((h * scale, w * scale), np.float32)
    tiles = []
    for y0, y1 in ys:
        wy = axis_weights(y0, y1, h, overlap, scale)
        for x0, x1 in xs:
            wt = np.outer(wy, axis_weights(x0, x1, w, overlap, scale))
            wsum[y0 * scale:y1 * scale, x0 * scale:x1 * scale] += wt
            tiles.append(((y0, y1, x0, x1), wt))
    plan = []
    for (y0, y1, x0, x1), wt in tiles:
        weight = np.repeat((wt / wsum[y0 * scale:y1 * scale, x0 * scale:x1 * scale])[..., None],
                           3, axis=-1)
        weight.flags.writeable = False
        plan.append(((y0, y1, x0, x1), weight))
    return tuple(plan)


def predict_window(predictor, window, *, tile=None, overlap=DEFAULT_TILE_OVERLAP, samples=1):
    """Upscale one window (L, H, W, 3) float32, tiled when ``tile`` is set.

    Returns the (L, sH, sW, 3) output, or (mean, std) when ``samples > 1``. Untiled, the
    predictor's own output is returned unchanged.
    """
    def call(x):
        out = predictor(x, samples=samples) if samples > 1 else predictor(x)
        if samples > 1:
            mean, std = out
            return np.array(mean, np.float32), np.array(std, np.float32)
        return (np.array(out, np.float32),)

    _, h, w, _ = window.shape
    if tile is None or (h <= tile and w <= tile):
        outs = call(window)
        return outs if samples > 1 else outs[0]
    s = int(predictor.scale)
    accs = None
    for (y0, y1, x0, x1), weight in tile_plan(h, w, int(tile), int(overlap), s):
        outs = call(np.ascontiguousarray(window[:, y0:y1, x0:x1]))
        if accs is None:
            accs = [np.zeros((o.shape[0], h * s, w * s, o.shape[-1]), np.float32) for o in outs]
        for acc, o in zip(accs, outs):
            o *= weight
            acc[:, y0 * s:y1 * s, x0 * s:x1 * s] += o
    return tuple(accs) if samples > 1 else accs[0]


# --------------------------------------------------------------------------------------------
# Options


@dataclasses.dataclass(frozen=True)
class UpscaleOptions:
    """How a video is upscaled; checked once, when made (a ConfigError for the first problem,
    naming these fields; the command line names its flags).

    Attributes:
      tile: tile side in LR pixels; None: tile with ``DEFAULT_TILE`` only when a frame has more
        than ``TILE_PIXEL_BUDGET`` pixels; 0: never tile.
      overlap: tile overlap in LR pixels (the blend ramps over it).
      samples: K draws of the latent attention (variational models); the output is their mean.
      uncertainty_path: with ``samples > 1``, where to write the heat map of the per-pixel
        standard deviation over draws (mean over RGB; see ``uncertainty_heatmap``), a video or a
        frame folder by its suffix like the output. In tile overlaps the tiles' standard
        deviations are blended with the same feathered weights as the means.
      uncertainty_max_std: the std shown at the top of the colormap (fixed across frames).
      fps: output frame rate (a Fraction, a number, or a string such as "30000/1001");
        default: the input's exact rate.
      max_frames: upscale only the first ``max_frames`` frames.
      progress: show a tqdm bar (frames/s and remaining time).
      encoding: how video outputs (the upscaled video and the heat map) are encoded
        (``vsr_latent.data.video_io.VideoEncoding``: codec, CRF, preset, pixel format).
      audio: carry the input's audio into a video output (stream-copied where the container
        holds its codec); False drops it. Subtitles are carried either way.
    """

    tile: int | None = None
    overlap: int = DEFAULT_TILE_OVERLAP
    samples: int = 1
    uncertainty_path: str | os.PathLike | None = None
    uncertainty_max_std: float = UNCERTAINTY_MAX_STD
    fps: float | None = None
    max_frames: int | None = None
    progress: bool = True
    encoding: VideoEncoding = dataclasses.field(default_factory=VideoEncoding)
    audio: bool = True

    def __post_init__(self):
        check_tiling(self.tile, self.overlap)
        check_sample_count(self.samples)
        if self.uncertainty_path is not None and int(self.samples) < 2:
            raise ConfigError("uncertainty_path needs samples K with K >= 2 (the std of K draws)",
                              fields=("uncertainty_path", "samples"))
        if not float(self.uncertainty_max_std) > 0:
            raise ConfigError(f"uncertainty_max_std must be > 0, got {self.uncertainty_max_std}",
                              fields=("uncertainty_max_std",))
        if self.fps is not None:
            try:
                fps = Fraction(self.fps) if not isinstance(self.fps, float) else Fraction(
                    str(self.fps))
            except (TypeError, ValueError, ZeroDivisionError):
                raise ConfigError(f"fps must be a number or a ratio such as 30000/1001, "
                                  f"got {self.fps!r}", fields=("fps",)) from None
            if not fps > 0:
                raise ConfigError(f"fps must be > 0, got {self.fps}", fields=("fps",))
            object.__setattr__(self, "fps", fps)
        if self.max_frames is not None and int(self.max_frames) < 1:
            raise ConfigError(f"max_frames must be >= 1, got {self.max_frames}",
                              fields=("max_frames",))
        # Checked: store plain numbers (numpy or string-typed values work the same afterwards).
        for name, kind in (("tile", int), ("overlap", int), ("samples", int),
                           ("uncertainty_max_std", float), ("max_frames", int)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, kind(value))


# --------------------------------------------------------------------------------------------
# Streaming


def upscale_frames(frames, predictor, options=None):
    """Upscale an iterable of (H, W, 3) frames (uint8 or float on [0, 255]) window by window.

    Yields one float32 (sH, sW, 3) frame per input frame (not clipped), or ``(mean, std)`` pairs
    when ``options.samples > 1``. Windows have ``predictor.seq_len`` frames; the last is
    zero-padded and its padded outputs dropped (``vsr_latent.data.chunks.pad_chunk``, as
    ``upscale_sequence`` does, SPEC §6.2). At most one window of input and of output is held at
    a time. Uses ``tile``, ``overlap``, ``samples`` and ``max_frames`` of ``options``
    (``UpscaleOptions``, default ones when None).
    """
    options = options or UpscaleOptions()
    seq_len, samples = int(predictor.seq_len), int(options.samples)
    window, size, tile = [], None, None

    def flush():
        n = len(window)
        x, _ = pad_chunk(np.stack(window), seq_len)
        out = predict_window(predictor, x, tile=tile, overlap=options.overlap, samples=samples)
        window.clear()
        if samples > 1:
            mean, std = out
            return [(mean[i], std[i]) for i in range(n)]
        return [out[i] for i in range(n)]

    for count, frame in enumerate(itertools.islice(frames, options.max_frames)):
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise InputError(None, f"frame {count} has shape {frame.shape}, expected (H, W, 3)")
        if size is None:
            size = frame.shape[:2]
            tile = resolve_tile(size, options.tile)
        elif frame.shape[:2] != size:
            raise InputError(None, f"frame {count} is {frame.shape[1]}x{frame.shape[0]}, "
                             f"the first frame was {size[1]}x{size[0]}")
        window.append(frame.astype(np.float32))
        if len(window) == seq_len:
            yield from flush()
    if window:
        yield from flush()


def uncertainty_heatmap(std, *, max_std=UNCERTAINTY_MAX_STD, colormap=UNCERTAINTY_COLORMAP):
    """RGB uint8 heat map of a per-pixel standard deviation.

    ``std`` is (H, W) or (H, W, 3) (then averaged over the channels) on the [0, 255] intensity
    scale; 0 maps to the colormap's first colour, ``max_std`` and above to its last (the fixed
    scale of ``vsr_latent.pictures.colormap``, the training pictures' colours).
    """
    std = np.asarray(std, np.float32)
    if std.ndim == 3:
        std = std.mean(axis=-1)
    return fixed_scale_colours(std, 0.0, float(max_std), name=colormap)


# --------------------------------------------------------------------------------------------
# Files


def _is_video(path):
    return Path(path).suffix.lower() in WRITABLE_VIDEO_EXTENSIONS


def _same_path(a, b):
    return Path(a).resolve() == Path(b).resolve()


def check_output_path(out_path, in_path, what="output"):
    """Raise a one-line error when ``out_path`` cannot be written or would overwrite the input."""
    out_path = Path(out_path)
    if _same_path(out_path, in_path):
        raise InputError(out_path, f"the {what} is the input itself; choose another path")
    if out_path.suffix.lower() in _UNWRITABLE_SUFFIXES:
        raise InputError(
            out_path, f"cannot write a {out_path.suffix} {what}: name a video "
            f"({'/'.join(WRITABLE_VIDEO_EXTENSIONS)}) or a frame folder (no suffix)")
    if out_path.exists() and out_path.is_dir() != (not _is_video(out_path)):
        kind = "folder" if out_path.is_dir() else "file"
        raise InputError(out_path, f"the {what} exists as a {kind}; remove it or choose another path")
    parent = out_path.resolve().parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(out_path, f"cannot create the {what}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(out_path, f"the {what} folder {existing} is not writable")


def check_input_path(in_path):
    """A one-line InputError for a missing or unreadable input (before any model is loaded)."""
    in_path = Path(in_path)
    if not in_path.exists():
        raise InputError(in_path, "input does not exist")
    if not os.access(in_path, os.R_OK):
        raise InputError(in_path, "input is not readable")


def check_paths(in_path, out_path, uncertainty_path=None, encoding=None):
    """One-line InputErrors for an input that cannot be read or outputs that cannot be written;
    a ConfigError when a video output's encoder is missing from the FFmpeg build."""
    check_input_path(in_path)
    check_output_path(out_path, in_path)
    if uncertainty_path is not None:
        if _same_path(uncertainty_path, out_path):
            raise InputError(uncertainty_path, "uncertainty_path must differ from out_path",
                             fields=("uncertainty_path", "out_path"))
        check_output_path(uncertainty_path, in_path, what="uncertainty output")
    if encoding is not None and any(p is not None and _is_video(p)
                                    for p in (out_path, uncertainty_path)):
        encoding.check_available()


def _output_settings(source, in_path, options):
    """(rate, writer keywords) for the outputs of ``source``: the input's exact rate (or
    ``options.fps``), colour (when tagged), pixel aspect; a one-line notice for a variable
    rate made constant."""
    info = getattr(source, "info", None)
    rate = getattr(source, "rate", None) or Fraction(str(source.fps))
    if options.fps is not None:
        rate = options.fps
    elif info is not None and info.variable_rate:
        lo, hi = info.frame_durations
        notice(f"{in_path}: variable frame rate (frames of {lo * 1000:.1f} to {hi * 1000:.1f} "
               f"ms): written at a constant {float(rate):.4g} fps, its average, every frame "
               f"once (--fps sets another)")
    kwargs = {"encoding": options.encoding}
    if info is not None:
        # A tagged input keeps its colour; an untagged one is tagged as players assume for
        # the output's size (the writer's default).
        if info.colour.tagged and info.colour.matrix in SCALE_MATRIX:
            kwargs["colour"] = info.colour
        kwargs["sar"] = info.sar
    return rate, kwargs


def upscale_video(in_path, out_path, model, options=None, *, seq_len=None, precision="float32",
                  backend=None):
    """Upscale the video file or frame folder ``in_path`` into ``out_path``.

    Args:
      in_path: a video file or a folder of frames (anything ``open_frames`` reads).
      out_path: ``.mp4/.mkv/.mov/.avi`` -> video (``options.encoding``; the input's audio and
        subtitles, exact rate, colour and pixel aspect carried: docs/video.md), anything else ->
        folder of PNG frames.
        Written atomically: it appears (replacing an existing one) only once complete; after an
        error or a kill nothing appears under this name.
      model: a ``Predictor`` (``.seq_len``, ``.scale``, ``.variational``), or a model spec, loaded
        with ``load_predictor(model, seq_len=, precision=, backend=)`` once the paths are
        checked (so a bad path fails before a model is loaded); those three apply to specs only.
      options: ``UpscaleOptions`` (default ones when None).

    Returns:
      A dict: ``frames``, ``fps`` (a float), ``rate`` (the exact Fraction), ``input_size`` (H, W),
      ``output_size``, ``tile`` (the side used, or None), ``seconds``.
    """
    options = options or UpscaleOptions()
    check_paths(in_path, out_path, options.uncertainty_path, options.encoding)
    if isinstance(model, (str, os.PathLike)):
        predictor = load_predictor(model, seq_len=seq_len, precision=precision, backend=backend)
    else:
        predictor = model
    predictor.check_samples(options.samples)  # before any output is opened

    start = time.perf_counter()
    with open_frames(in_path) as source:
        rate, writer_kwargs = _output_settings(source, in_path, options)
        streams = None
        if _is_video(out_path):
            streams = carried_streams(source, audio=options.audio)
        elif options.audio and getattr(source, "info", None) is not None and source.info.audio:
            notice(f"{out_path}: a frame folder holds no audio; the input's audio is not written")
        total = source.num_frames
        if total is not None and options.max_frames is not None:
            total = min(total, int(options.max_frames))
        size = tuple(source.size)
        s = int(predictor.scale)
        count = 0
        with tqdm(total=total, desc=f"upscale {Path(in_path).name}", unit="frame",
                  dynamic_ncols=True, disable=not options.progress) as bar, \
                contextlib.ExitStack() as stack:
            # Both writers see any exception, so neither output appears after a failure.
            writer = stack.enter_context(FrameWriter(out_path, fps=rate, streams=streams,
                                                     **writer_kwargs))
            heat = None
            if options.uncertainty_path is not None:
                heat = stack.enter_context(FrameWriter(options.uncertainty_path, fps=rate,
                                                       **writer_kwargs))
            for item in upscale_frames(source, predictor, options):
                if options.samples > 1:
                    mean, std = item
                    writer.write(mean)
                    if heat is not None:
                        heat.write(uncertainty_heatmap(std, max_std=options.uncertainty_max_std))
                else:
                    writer.write(item)
                count += 1
                bar.update(1)
            if count == 0:
                raise InputError(in_path, "input has no frames")
    return {
        "frames": count,
        "fps": float(rate),
        "rate": rate,
        "input_size": size,
        "output_size": (size[0] * s, size[1] * s),
        "tile": resolve_tile(size, options.tile),
        "seconds": time.perf_counter() - start,
    }
