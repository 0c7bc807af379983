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
- SSIM is Wang et al. (2004): Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03, data range 255,
  statistics without the sample-covariance correction, averaged over the "valid" part of the
  frame (5 pixels from each border are windows' centres only). On RGB it is the mean of the three
  channels' SSIM.
"""

import numpy as np
from scipy import ndimage

from vsr_latent.errors import InputError

DATA_RANGE = 255.0
# ITU-R BT.601 luma on [0, 255] RGB input -> [16, 235] (MATLAB rgb2ycbcr, BasicSR bgr2ycbcr).
Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0
Y_OFFSET = 16.0

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _gaussian_window(size=SSIM_WINDOW, sigma=SSIM_SIGMA):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    w = np.exp(-(x**2) / (2.0 * sigma**2))
    return w / w.sum()


_WINDOW_1D = _gaussian_window()


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


def _filter_valid(x):
    # Separable Gaussian, keeping only positions where the whole window lies inside the frame
    # (BasicSR's cv2.filter2D(...)[5:-5, 5:-5], scikit-image's pad crop).
    out = ndimage.correlate1d(x, _WINDOW_1D, axis=0, mode="constant")
    out = ndimage.correlate1d(out, _WINDOW_1D, axis=1, mode="constant")
    r = SSIM_WINDOW // 2
    return out[r:-r, r:-r]


def _ssim_channel(a, b):
    c1 = (SSIM_K1 * DATA_RANGE) ** 2
    c2 = (SSIM_K2 * DATA_RANGE) ** 2
    mu_a, mu_b = _filter_valid(a), _filter_valid(b)
    var_a = _filter_valid(a * a) - mu_a**2
    var_b = _filter_valid(b * b) - mu_b**2
    cov = _filter_valid(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def ssim(sr, hr, *, crop_border=0, y_channel=False):
    """Structural similarity (Wang et al. 2004) of one frame against its ground truth.

    Gaussian 11x11 window with sigma 1.5, data range 255; on several channels the mean of the
    per-channel SSIM.
    """
    sr, hr = _prepare(sr, hr, crop_border, y_channel)
    if min(sr.shape[0], sr.shape[1]) < SSIM_WINDOW:
        raise InputError(None, f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW} "
                         f"after cropping, got {sr.shape[:2]}")
    return float(np.mean([_ssim_channel(sr[..., c], hr[..., c]) for c in range(sr.shape[-1])]))
