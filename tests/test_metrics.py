"""PSNR / SSIM / Y conversion against scikit-image and hand-computed values."""

import imageio.v3 as iio
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vsr_latent.errors import InputError
from vsr_latent.metrics import crops_psnr, psnr, rgb_to_y, ssim


def _sk_ssim(a, b, channel_axis=None):
    return structural_similarity(
        np.asarray(a, np.float64), np.asarray(b, np.float64), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255, channel_axis=channel_axis)


def _sk_psnr(a, b):
    return peak_signal_noise_ratio(np.asarray(b, np.float64), np.asarray(a, np.float64),
                                   data_range=255)


def _noisy_pair(seed, shape=(37, 53, 3), noise=12.0):
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 256, shape).astype(np.uint8)
    sr = np.clip(np.rint(hr + rng.normal(0, noise, shape)), 0, 255).astype(np.uint8)
    return sr, hr


def test_rgb_to_y_hand_values():
    rgb = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255],
                    [100, 50, 200]], np.float64)
    expected = [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966,
                16 + (65.481 * 100 + 128.553 * 50 + 24.966 * 200) / 255]
    np.testing.assert_allclose(rgb_to_y(rgb), expected, rtol=0, atol=1e-9)
    assert rgb_to_y(rgb.reshape(2, 3, 3)).shape == (2, 3)
    with pytest.raises(InputError):
        rgb_to_y(np.zeros((4, 4, 2)))


def test_psnr_hand_computed():
    hr = np.zeros((6, 6, 3))
    sr = np.full((6, 6, 3), 5.0)
    assert psnr(sr, hr) == pytest.approx(10 * np.log10(255**2 / 25.0), abs=1e-12)
    # The border differs by 50, the inside by 2: cropping 1 pixel leaves only the 2s.
    sr = np.full((6, 6, 3), 50.0)
    sr[1:-1, 1:-1] = 2.0
    assert psnr(sr, hr, crop_border=1) == pytest.approx(10 * np.log10(255**2 / 4.0), abs=1e-12)
    mse = (20 * 50.0**2 + 16 * 2.0**2) / 36
    assert psnr(sr, hr) == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-12)
    # On Y a uniform RGB offset d becomes (65.481 + 128.553 + 24.966) / 255 * d = 219/255 * d.
    sr = np.full((6, 6, 3), 10.0)
    assert psnr(sr, hr, y_channel=True) == pytest.approx(
        10 * np.log10(255**2 / (219 / 255 * 10) ** 2), abs=1e-9)
    assert psnr(hr, hr) == float("inf")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psnr_ssim_match_scikit_image_on_random_frames(seed):
    sr, hr = _noisy_pair(seed)
    assert psnr(sr, hr) == pytest.approx(_sk_psnr(sr, hr), abs=1e-10)
    assert ssim(sr, hr) == pytest.approx(_sk_ssim(sr, hr, channel_axis=-1), abs=1e-10)
    ys, yh = rgb_to_y(sr), rgb_to_y(hr)
    assert psnr(sr, hr, y_channel=True) == pytest.approx(_sk_psnr(ys, yh), abs=1e-10)
    assert ssim(sr, hr, y_channel=True) == pytest.approx(_sk_ssim(ys, yh), abs=1e-10)
    c = 4
    crop = (slice(c, -c), slice(c, -c))
    assert psnr(sr, hr, crop_border=c, y_channel=True) == pytest.approx(
        _sk_psnr(ys[crop], yh[crop]), abs=1e-10)
    assert ssim(sr, hr, crop_border=c) == pytest.approx(
        _sk_ssim(sr[crop], hr[crop], channel_axis=-1), abs=1e-10)
    # RGB SSIM is the mean of the channels' SSIM.
    per_channel = [_sk_ssim(sr[..., i], hr[..., i]) for i in range(3)]
    assert ssim(sr, hr) == pytest.approx(np.mean(per_channel), abs=1e-10)


def test_crops_psnr_is_the_mean_over_clips_of_one_rgb_psnr_per_clip():
    """The validation metric: SR rounded and clipped to 8 bits, one MSE per clip over all its
    frames, then the mean of the clips' PSNRs (against scikit-image's PSNR of each clip)."""
    rng = np.random.default_rng(3)
    crops = [(rng.uniform(0, 255, (2, 4, 5, 3)), rng.integers(0, 256, (2, 16, 20, 3)))
             for _ in range(3)]
    offsets = iter([0.4, -7.6, 300.0])

    def predict(lr):  # an upscaler off by a constant: rounding and clipping both matter
        return np.repeat(np.repeat(lr, 4, axis=1), 4, axis=2) + next(offsets)

    sr = [np.clip(np.round(np.repeat(np.repeat(lr, 4, axis=1), 4, axis=2) + o), 0, 255)
          for (lr, _), o in zip(crops, [0.4, -7.6, 300.0])]
    want = np.mean([_sk_psnr(s, hr) for s, (_, hr) in zip(sr, crops)])
    assert crops_psnr(predict, crops) == pytest.approx(want, abs=1e-9)
    # A perfect clip is floored at an MSE of 1e-10 rather than infinite.
    hr = crops[0][1].astype(np.float64)
    assert crops_psnr(lambda lr: hr, [(None, hr)]) == pytest.approx(
        10 * np.log10(255.0**2 / 1e-10))


def test_ssim_bounds_and_single_channel():
    sr, hr = _noisy_pair(5, shape=(20, 24))
    assert ssim(hr, hr) == pytest.approx(1.0, abs=1e-12)
    assert ssim(sr, hr) == pytest.approx(_sk_ssim(sr, hr), abs=1e-10)
    assert ssim(sr[..., None], hr[..., None]) == pytest.approx(ssim(sr, hr), abs=1e-12)
    assert -1.0 <= ssim(255 - hr, hr) < 0.5


def test_metric_input_errors():
    with pytest.raises(InputError, match="differ in shape"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(InputError, match="too small"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), crop_border=4)
    with pytest.raises(InputError, match="at least 11x11"):
        ssim(np.zeros((10, 30, 3)), np.zeros((10, 30, 3)))


def test_metrics_match_scikit_image_on_vid4(vid4_gt):
    files = sorted((vid4_gt / "calendar").glob("*.png"))[:2]
    hr, other = (iio.imread(f) for f in files)
    # A realistic "SR" frame: the next frame (motion error) and a blurred copy.
    blurred = np.clip(np.rint((hr.astype(np.float64) + np.roll(hr, 1, axis=1)) / 2), 0, 255)
    for sr in (other, blurred.astype(np.uint8)):
        assert psnr(sr, hr) == pytest.approx(_sk_psnr(sr, hr), abs=1e-9)
        assert ssim(sr, hr) == pytest.approx(_sk_ssim(sr, hr, channel_axis=-1), abs=1e-9)
        ys, yh = rgb_to_y(sr)[8:-8, 8:-8], rgb_to_y(hr)[8:-8, 8:-8]
        assert psnr(sr, hr, crop_border=8, y_channel=True) == pytest.approx(
            _sk_psnr(ys, yh), abs=1e-9)
        assert ssim(sr, hr, crop_border=8, y_channel=True) == pytest.approx(
            _sk_ssim(ys, yh), abs=1e-9)


@pytest.mark.parametrize("shape", [(1080, 1920, 3), (263, 141, 3), (11, 11, 3), (129, 40)])
def test_banded_ssim_equals_scikit_image_at_hd_and_band_edges(shape):
    # Bands of SSIM_BAND_ROWS rows, each with the rows its Gaussian reaches: the same numbers as
    # scikit-image's whole-frame computation, at 1080p, where bands do not divide the height, and
    # at the smallest frame SSIM takes.
    rng = np.random.default_rng(sum(shape))
    hr = rng.integers(0, 256, shape).astype(np.float64)
    sr = np.clip(hr + rng.normal(0, 12, shape), 0, 255).round()
    axis = -1 if len(shape) == 3 else None
    assert ssim(sr, hr) == pytest.approx(_sk_ssim(sr, hr, channel_axis=axis), abs=1e-12)
