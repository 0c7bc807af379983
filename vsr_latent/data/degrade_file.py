"""A whole video degraded frame by frame into a new one (what ``vsr-latent degrade`` runs)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import NamedTuple

from tqdm import tqdm

from vsr_latent.data.degrade import DEFAULT_DEGRADATION, check_method, degrade
from vsr_latent.data.video_io import FrameWriter, open_frames
from vsr_latent.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class DegradeOptions:
    """How :func:`degrade_file` makes the low-resolution frames.

    ``method``: a degradation of :mod:`vsr_latent.data.degrade`; ``scale``: the downscaling
    factor; ``yuv_size``: ``(H, W)`` to read the input as raw YUV 4:2:0 of that frame size (a
    ``.yuv`` file without it takes its size from the file name), ``yuv_bit_depth`` 8 or 10;
    ``progress``: a progress bar on stderr.
    """

    method: str = DEFAULT_DEGRADATION
    scale: int = 4
    yuv_size: tuple | None = None
    yuv_bit_depth: int = 8
    progress: bool = True

    def __post_init__(self):
        # Checked when made, like the other commands' options: one ConfigError per problem.
        check_method(self.method)
        if self.scale < 1:
            raise ConfigError(f"--scale must be a positive integer, got {self.scale}")


class DegradedVideo(NamedTuple):
    frames: int
    size: tuple  # (H, W) of the written frames


def degrade_file(input_path, output_path, options=DegradeOptions()):
    """Streams the frames of ``input_path`` (video file, raw YUV file or frame folder) through
    ``degrade`` into ``output_path`` (a ``%08d.png`` folder, or a video for a video suffix),
    which appears only once complete. Frame sizes that are not multiples of the scale are cropped
    (bottom/right) with a warning. Returns a ``DegradedVideo``."""
    scale = options.scale
    n = 0
    with open_frames(input_path, yuv_size=options.yuv_size,
                     yuv_bit_depth=options.yuv_bit_depth) as src:
        h, w = src.size
        if h % scale or w % scale:
            warnings.warn(
                f"{input_path}: frame size {w}x{h} is not a multiple of {scale}; cropped to "
                f"{w - w % scale}x{h - h % scale}",
                stacklevel=2,
            )
        with FrameWriter(output_path, fps=src.fps) as writer:
            for frame in tqdm(src, total=src.num_frames, disable=not options.progress,
                              unit="frame", desc="degrade"):
                cropped = frame[:frame.shape[0] - frame.shape[0] % scale,
                                :frame.shape[1] - frame.shape[1] % scale]
                writer.write(degrade(cropped, options.method, scale))
                n += 1
            size = writer.size
    return DegradedVideo(n, size)
