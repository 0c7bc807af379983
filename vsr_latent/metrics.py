"""Image quality metrics as the video super-resolution literature computes them (numpy, per frame).

PSNR and SSIM follow BasicSR (``basicsr.metrics.calculate_psnr`` / ``calculate_ssim``), which
itself reproduces the MATLAB code the Vid4 tables were made with:

- inputs are one frame, ``(H, W, 3)`` RGB (or ``(H, W)`` / ``(H, W, 1)`` single channel) on the
  [0, 255] scale; they are computed in float64 as given (no rounding here: the evaluation rounds
  super-resolved frames to uint8 before scoring, see :mod:`vsr_latent.evaluation`);
- ``crop_border`` pixels are removed on every side before anything else;
- ``y_channel=True`` scores the luma of ITU-R BT.601 in studio range ([16, 235]), as MATLAB
  ``rgb2ycbcr`` / BasicSR ``bgr2ycbcr(y_only=True)``. Like BasicSR (and unlike MATLAB on uint8
  input) the luma is kept in floating point, not rounded to integers;
- SSIM is Wang et al. (2004) as scikit-image's ``structural_similarity`` computes it (Gaussian
  window 11x11, sigma 1.5, K1 0.01, K2 0.03, data range 255, statistics without the
  sample-covariance correction, averaged over the "valid" part of the frame: 5 pixels from each
  border are windows' centres only; on RGB the mean of the three channels' SSIM), computed here
  in bands of :data:`SSIM_BAND_ROWS` rows (each with the 5 rows around it that its Gaussian
  reaches) on every core: the same float64 operations as scikit-image's, equal to it to 1e-12,
  and several times faster on HD frames (a band stays in cache; bands and channels run in
  parallel, scipy's filters release the GIL).

:func:`frame_scores` gives the four numbers every evaluation reports (:data:`METRICS`);
:func:`crops_psnr` the one number of the validation during training (RGB PSNR of short crops).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

from vsr_latent.errors import InputError

DATA_RANGE = 255.0
# ITU-R BT.601 luma on [0, 255] RGB input -> [16, 235] (MATLAB rgb2ycbcr, BasicSR bgr2ycbcr).
Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0
Y_OFFSET = 16.0

SSIM_WINDOW = 11  # 2 * int(3.5 sigma + 0.5) + 1: scikit-image truncates the Gaussian at 3.5 sigma
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
#: Rows per SSIM band (see the module docstring): measured fastest of 64, 128, 540 and whole
#: frames on 1080p frames (2 cores).
SSIM_BAND_ROWS = 128
_SSIM_RADIUS = (SSIM_WINDOW - 1) // 2  # = int(3.5 * sigma + 0.5), the Gaussian's reach
_SSIM_TRUNCATE = 3.5
_pool = None

#: The four scores of a frame (:func:`frame_scores`): PSNR and SSIM, on RGB and on Y.
METRICS = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y")


def rgb_to_y(x):
    """Luma (BT.601, studio range [16, 235]) of RGB values on [0, 255]; shape ``(..., 3) -> (...)``.

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``, in float64, not rounded.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (3,):
        raise InputError(None, f"rgb_to_y needs RGB input (..., 3), got shape {x.shape}")
    return x @ Y_WEIGHTS + Y_OFFSET


def _prepare(sr, hr, crop_border, y_channel):
    sr = np.asarray(sr, dtype=np.float64)
    hr = np.asarray(hr, dtype=np.float64)
    if sr.shape != hr.shape:
        raise InputError(None, f"frames differ in shape: {sr.shape} vs {hr.shape}")
    if sr.ndim == 2:
        sr, hr = sr[..., None], hr[..., None]
    if sr.ndim != 3:
        raise InputError(None, f"expected one frame (H, W, C) or (H, W), got shape {sr.shape}")
    crop_border = int(crop_border)
    if crop_border < 0:
        raise InputError(None, f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        if min(sr.shape[0], sr.shape[1]) <= 2 * crop_border:
            raise InputError(None, f"frame {sr.shape[:2]} too small for crop_border={crop_border}")
        sr = sr[crop_border:-crop_border, crop_border:-crop_border]
        hr = hr[crop_border:-crop_border, crop_border:-crop_border]
    if y_channel and sr.shape[-1] == 3:
        sr, hr = rgb_to_y(sr)[..., None], rgb_to_y(hr)[..., None]
    return sr, hr


def psnr(sr, hr, *, crop_border=0, y_channel=False):
    """Peak signal-to-noise ratio in dB of one frame against its ground truth, data range 255.

    ``10 log10(255^2 / MSE)``, the MSE taken over all pixels and channels left after cropping;
    ``inf`` for identical frames.
    """
    sr, hr = _prepare(sr, hr, crop_border, y_channel)
    mse = np.mean((sr - hr) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(DATA_RANGE**2 / mse))


def ssim(sr, hr, *, crop_border=0, y_channel=False):
    """Structural similarity (Wang et al. 2004) of one frame against its ground truth.

    Gaussian 11x11 window with sigma 1.5, data range 255; on several channels the mean of the
    per-channel SSIM.
    """
    sr, hr = _prepare(sr, hr, crop_border, y_channel)
    if min(sr.shape[0], sr.shape[1]) < SSIM_WINDOW:
        raise InputError(None, f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW} "
                         f"after cropping, got {sr.shape[:2]}")
    return _banded_ssim(sr, hr)


def _ssim_pool():
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                   thread_name_prefix="ssim")
    return _pool


def _ssim_band(x, y, top, bottom):
    """(sum, count) of the SSIM map of rows [top, bottom) of one channel, valid part only."""
    height = x.shape[0]
    r = _SSIM_RADIUS
    lo, hi = max(0, top - r), min(height, bottom + r)
    xs, ys = x[lo:hi], y[lo:hi]

    def blur(z):  # scikit-image's filter: scipy's Gaussian, mode "reflect"
        return ndimage.gaussian_filter(z, sigma=SSIM_SIGMA, truncate=_SSIM_TRUNCATE,
                                       mode="reflect")

    ux, uy = blur(xs), blur(ys)
    vx = blur(xs * xs) - ux * ux
    vy = blur(ys * ys) - uy * uy
    vxy = blur(xs * ys) - ux * uy
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    first, last = max(top, r) - lo, min(bottom, height - r) - lo
    if last <= first:
        return 0.0, 0
    s = s[first:last, r:-r]
    return float(s.sum(dtype=np.float64)), s.size


def _banded_ssim(sr, hr):
    """Mean SSIM of (H, W, C) float64 frames: per channel over the valid part, then over
    channels (equal counts, so one sum over every band of every channel)."""
    height, channels = sr.shape[0], sr.shape[2]
    x = np.ascontiguousarray(np.moveaxis(sr, -1, 0))
    y = np.ascontiguousarray(np.moveaxis(hr, -1, 0))
    bands = max(1, height // SSIM_BAND_ROWS)
    edges = np.linspace(0, height, bands + 1).astype(int)
    tasks = [(c, edges[i], edges[i + 1]) for c in range(channels) for i in range(bands)]
    parts = list(_ssim_pool().map(lambda t: _ssim_band(x[t[0]], y[t[0]], t[1], t[2]), tasks))
    return float(sum(p[0] for p in parts) / sum(p[1] for p in parts))


def frame_scores(sr, hr, *, crop_border=0):
    """The four :data:`METRICS` of one frame against its ground truth."""
    return {
        "psnr_rgb": psnr(sr, hr, crop_border=crop_border),
        "psnr_y": psnr(sr, hr, crop_border=crop_border, y_channel=True),
        "ssim_rgb": ssim(sr, hr, crop_border=crop_border),
        "ssim_y": ssim(sr, hr, crop_border=crop_border, y_channel=True),
    }


def crops_psnr(predict, crops):
    """Mean over clips of the PSNR (dB, RGB, no border crop) of ``predict(lr)`` rounded to 8 bits
    against ``hr``, for ``crops`` = [(lr, hr)] (``vsr_latent.data.pipelines.validation_crops``).

    The validation metric of training (``psnr/validation``) and of its curve's bicubic floor:
    one MSE per clip over all its frames, computed in the dtype ``predict`` returns (the frame
    scores above are per frame, in float64); the MSE is floored at 1e-10, so a perfect clip does
    not make the mean infinite.
    """
    values = []
    for lr, hr in crops:
        sr = np.clip(np.round(np.asarray(predict(lr))), 0, 255)
        mse = np.mean((sr - hr) ** 2)
        values.append(10 * np.log10(DATA_RANGE**2 / max(mse, 1e-10)))
    return float(np.mean(values))
