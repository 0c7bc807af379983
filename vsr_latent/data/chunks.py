"""The paper's last-chunk rule (§6.2): a sequence is cut into chunks of L frames, the last one
zero-padded to L and the outputs of its padding frames dropped.

The one place that pads: serving (``vsr_latent.serving.predictors.upscale_sequence``, the video
upscaler) and the validation pipelines (``vsr_latent.data.pipelines``) all call
:func:`pad_chunk`, so Vid4, videos and validation chunks are padded the same way.
"""

import numpy as np


def pad_chunk(frames, length):
    """``(padded, real)``: ``frames`` (T <= L, ...) with zero frames appended up to ``length``,
    and T, the number of real frames whose outputs are kept."""
    frames = np.asarray(frames)
    real = frames.shape[0]
    if real >= length:
        return frames, real
    pad = np.zeros((length - real,) + frames.shape[1:], frames.dtype)
    return np.concatenate([frames, pad]), real
