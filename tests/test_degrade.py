"""Degradations: MATLAB bicubic against the public Vid4 BIx4 frames, BD against an independent
SciPy computation, SciPy (``scipy.misc.imresize``) bit-exact against Pillow's BICUBIC, its LR/HR
alignment, TF equal to NumPy, the command."""

import warnings

import imageio.v3 as iio
import numpy as np
import PIL.Image
import pytest
import scipy.ndimage
import tensorflow as tf

from vsr_latent import cli
from vsr_latent.data.degrade import DEGRADATIONS, degrade, tf_degrade, weight_matrix
from vsr_latent.data.resize_weights import _cubic, matlab_imresize_matrix, pillow_bicubic_matrix
from vsr_latent.data.video_io import read_frames
from vsr_latent.errors import ConfigError


def _psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse) if mse > 0 else np.inf


def test_bi_reproduces_vid4_bix4_calendar(shared_data):
    gt = read_frames(shared_data / "Vid4" / "GT" / "calendar")
    ref = read_frames(shared_data / "Vid4" / "BIx4" / "calendar")
    assert gt.shape == (41, 576, 720, 3) and ref.shape == (41, 144, 180, 3)
    lr = np.clip(np.round(degrade(gt, "bi", 4)), 0, 255)
    psnr = _psnr(lr, ref)
    assert psnr >= 50.0, psnr


def test_matlab_weights_hand_computed():
    # Keys' cubic, a = -0.5: known values.
    np.testing.assert_allclose(_cubic(np.array([0, 0.5, 1, 1.5, 2, 2.5])),
                               [1, 0.5625, 0, -0.0625, 0, 0])
    # Shrinking by 2 with antialiasing: output pixel u (1-based) sits at x = 2u - 0.5; taps at
    # distances +-0.5, +-1.5, +-2.5, +-3.5 with kernel 0.5 * cubic(0.5 d), normalised.
    m = matlab_imresize_matrix(40, 20, 0.5)
    d = np.array([3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5])
    w = 0.5 * _cubic(0.5 * d)
    w /= w.sum()
    u = 10  # 1-based output 10 -> x = 19.5, input taps 16..23 (1-based)
    np.testing.assert_allclose(m[u - 1, 15:23], w, atol=1e-12)
    assert np.count_nonzero(m[u - 1]) == 8
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    # Symmetric padding at the border: taps before pixel 1 fold back onto pixels 1, 2, ...
    w0 = 0.5 * _cubic(0.5 * np.array([3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5]))
    w0 /= w0.sum()
    row = np.zeros(40)
    for tap, i in zip(w0, [-2, -1, 0, 1, 2, 3, 4, 5]):  # 1-based -2..5
        row[-i if i < 1 else i - 1] += tap  # 1-based 0, -1, -2 mirror to pixels 1, 2, 3
    np.testing.assert_allclose(m[0], row, atol=1e-12)


def test_bd_matches_gaussian_filter_and_subsampling():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (40, 52, 3))
    # DUF's kernel: gaussian_filter of a 13x13 delta, sigma 1.6.
    delta = np.zeros((13, 13))
    delta[6, 6] = 1
    k = scipy.ndimage.gaussian_filter(delta, 1.6)
    ref = np.stack(
        [scipy.ndimage.correlate(x[..., c], k, mode="mirror")[::4, ::4] for c in range(3)], -1
    )
    np.testing.assert_allclose(degrade(x, "bd", 4), ref, atol=1e-3)


def _pil_resize(x_uint8, size):
    img = PIL.Image.fromarray(x_uint8.squeeze(-1) if x_uint8.shape[-1] == 1 else x_uint8)
    out = np.asarray(img.resize(size, PIL.Image.BICUBIC))
    return out.reshape(out.shape[:2] + (x_uint8.shape[-1],))


def _pillow_bicubic(x_uint8, scale=4, one_call=True):
    """What ``scipy.misc.imresize(x, 1 / scale, 'bicubic')`` returned (uint8 frame via PIL).

    ``one_call``: the single ``Image.resize`` imresize made. Otherwise a width-only resize then a
    height-only one: Pillow's two passes with the 8-bit intermediate, horizontal first as every
    Pillow before 13 always did. Pillow 13 (PR #9549) runs the vertical pass first for some tall
    frames, which moves a few pixels by 1; the explicit two calls pin the older order.
    """
    h, w = x_uint8.shape[:2]
    size = (int(w / scale), int(h / scale))
    if one_call:
        return _pil_resize(x_uint8, size)
    return _pil_resize(_pil_resize(x_uint8, (size[0], h)), size)


@pytest.mark.parametrize("shape", [(128, 128, 3), (144, 176, 3), (240, 360, 3), (36, 100, 3),
                                   (52, 20, 1), (64, 48, 3), (8, 12, 3)])
def test_scipy_equals_pillow_bicubic_exactly(shape):
    x = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    y = degrade(x, "scipy", 4)
    assert y.dtype == np.float32 and y.shape == (shape[0] // 4, shape[1] // 4, shape[2])
    np.testing.assert_array_equal(y, _pillow_bicubic(x, one_call=False))
    if shape[1] >= shape[0]:  # not tall: every Pillow runs the horizontal pass first
        np.testing.assert_array_equal(y, _pillow_bicubic(x))
    # Frames batched in leading axes; float input is rounded to uint8 values first.
    xs = np.stack([x, 255 - x]).astype(np.float32) + 0.3
    np.testing.assert_array_equal(degrade(xs, "scipy", 4)[1],
                                  _pillow_bicubic(255 - x, one_call=False))
    # Scale 2 as well.
    np.testing.assert_array_equal(degrade(x, "scipy", 2), _pillow_bicubic(x, 2, one_call=False))


def test_scipy_equals_pillow_bicubic_on_vid4_frame(vid4_gt):
    frame = read_frames(vid4_gt / "calendar")[0]
    assert frame.dtype == np.uint8
    np.testing.assert_array_equal(degrade(frame, "scipy", 4), _pillow_bicubic(frame))


def test_pillow_coefficients_hand_computed():
    # Shrink by 4: output pixel 10 centred at 42 (input coordinates), support 8, taps 34..49 at
    # distances (x + 0.5 - 42) / 4 of Keys' cubic (a = -0.5), normalised, times 2**22, rounded.
    m = pillow_bicubic_matrix(80, 20)
    x = np.arange(34, 50)
    w = _cubic((x + 0.5 - 42.0) / 4.0)
    w /= w.sum()
    q = np.sign(w) * np.floor(np.abs(w) * 2**22 + 0.5)
    np.testing.assert_array_equal(m[10, 34:50], q)
    assert np.count_nonzero(m[10]) == 16
    # Border: taps before pixel 0 are dropped and the rest renormalised (no mirroring).
    w0 = _cubic((np.arange(0, 10) + 0.5 - 2.0) / 4.0)
    w0 /= w0.sum()
    np.testing.assert_array_equal(m[0, :10], np.sign(w0) * np.floor(np.abs(w0) * 2**22 + 0.5))
    assert not m[0, 10:].any()
    np.testing.assert_array_equal(weight_matrix("scipy", 80, 4), m / 2**22)


def test_scipy_lr_is_aligned_with_hr():
    # A smooth image shrunk by 4 then enlarged again with MATLAB bicubic must come back as well
    # as with the BI degradation: a sampling-grid offset (the old scipy.ndimage.zoom reading,
    # corner-aligned, ~1.5 HR pixels off) costs many dB. Both LR rounded to 8 bits; 8 border
    # pixels left out (Pillow drops out-of-image taps, MATLAB mirrors them).
    n = 256
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    img = (127.5 + 60 * np.sin(2 * np.pi * xx / 64 + 0.3) * np.cos(2 * np.pi * yy / 80 + 0.5)
           + 30 * np.sin(2 * np.pi * (xx + yy) / 128))
    img = np.round(img)[..., None]
    up = matlab_imresize_matrix(n // 4, n, 4.0)

    def round_trip_psnr(lr):
        rec = np.einsum("ih,hwc->iwc", up, np.einsum("jw,hwc->hjc", up, lr.astype(np.float64)))
        return _psnr(rec[8:-8, 8:-8], img[8:-8, 8:-8])

    psnr_scipy = round_trip_psnr(degrade(img, "scipy", 4))
    psnr_bi = round_trip_psnr(np.round(degrade(img, "bi", 4)))
    assert psnr_bi > 50, psnr_bi
    assert abs(psnr_scipy - psnr_bi) < 1.0, (psnr_scipy, psnr_bi)
    # The old corner-aligned zoom fails this check.
    psnr_zoom = round_trip_psnr(np.round(scipy.ndimage.zoom(img, (0.25, 0.25, 1), order=3)))
    assert psnr_bi - psnr_zoom > 10, (psnr_zoom, psnr_bi)


def test_tf_scipy_equals_numpy_exactly():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (2, 3, 48, 60, 3)).astype(np.float32)
    x[0, 0, :4] += 0.5  # halves: both round half to even
    x[1, 1, 5:9] = rng.uniform(-20, 280, (4, 60, 3))  # out of range: clipped first
    ref = degrade(x, "scipy", 4)
    np.testing.assert_array_equal(tf_degrade(x, "scipy", 4).numpy(), ref)
    assert tf_degrade(x, "scipy", 4).dtype == tf.float32
    x8 = np.clip(x, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(tf_degrade(x8, "scipy", 4).numpy(), degrade(x8, "scipy", 4))
    # Dynamic shapes (Pillow matrices built by numpy_function) in a graph and in Dataset.map.
    f = tf.function(lambda t: tf_degrade(t, "scipy", 4),
                    input_signature=[tf.TensorSpec([None, None, None, None, 3], tf.float32)])
    np.testing.assert_array_equal(f(x).numpy(), ref)
    ds = tf.data.Dataset.from_tensor_slices(x).map(lambda t: tf_degrade(t, "scipy", 4))
    np.testing.assert_array_equal(np.stack([e.numpy() for e in ds]), ref)
    dyn = tf.data.Dataset.from_generator(
        lambda: iter(x), output_signature=tf.TensorSpec([None, None, None, 3], tf.float32)
    ).map(lambda t: tf_degrade(t, "scipy", 4))
    np.testing.assert_array_equal(np.stack([e.numpy() for e in dyn]), ref)
    # Sizes that are not multiples of 4 are cropped as in degrade.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(tf_degrade(x[0, :, :47, :59], "scipy", 4).numpy(),
                                      degrade(x[0, :, :47, :59], "scipy", 4))


@pytest.mark.parametrize("method", DEGRADATIONS)
def test_tf_degrade_equals_numpy(method):
    x = np.random.default_rng(3).uniform(0, 255, (2, 3, 32, 40, 3)).astype(np.float32)
    ref = degrade(x, method, 4)
    np.testing.assert_allclose(tf_degrade(x, method, 4).numpy(), ref, atol=2e-3)
    # Dynamic shapes (weights built by numpy_function) inside a graph.
    f = tf.function(lambda t: tf_degrade(t, method, 4),
                    input_signature=[tf.TensorSpec([None, None, None, None, 3], tf.float32)])
    np.testing.assert_allclose(f(x).numpy(), ref, atol=2e-3)
    # Inside Dataset.map.
    ds = tf.data.Dataset.from_tensor_slices(x).map(lambda t: tf_degrade(t, method, 4))
    np.testing.assert_allclose(np.stack([e.numpy() for e in ds]), ref, atol=2e-3)


def test_non_multiple_size_is_cropped_with_warning():
    x = np.random.default_rng(4).uniform(0, 255, (18, 23, 3))
    with pytest.warns(UserWarning, match="cropped to 16x20"):
        y = degrade(x, "bi", 4)
    assert y.shape == (4, 5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(y, degrade(x[:16, :20], "bi", 4))
    np.testing.assert_allclose(tf_degrade(x, "bi", 4).numpy(), y, atol=2e-3)


def test_unknown_method():
    with pytest.raises(ConfigError, match="bicubic|known"):
        degrade(np.zeros((8, 8, 3)), "bicubic")
    with pytest.raises(ConfigError):
        tf_degrade(np.zeros((8, 8, 3), np.float32), "nearest", 4)
    with pytest.raises(ConfigError):
        weight_matrix("x", 8, 4)


def test_degrade_command(tmp_path, capsys):
    frames = np.random.default_rng(5).integers(0, 256, (3, 24, 32, 3), dtype=np.uint8)
    src = tmp_path / "in"
    src.mkdir()
    for i, f in enumerate(frames):
        iio.imwrite(src / f"f{i}.png", f)
    out = tmp_path / "out"
    assert cli.main(["degrade", "--method", "bd", "--scale", "4", "--no_progress", str(src), str(out)]) == 0
    expected = np.clip(np.round(degrade(frames, "bd", 4)), 0, 255)
    np.testing.assert_array_equal(read_frames(out), expected)
    # Unknown method: one-line error, exit 2, nothing written.
    assert cli.main(["degrade", "--method", "lanczos", str(src), str(tmp_path / "o2")]) == 2
    assert "unknown degradation" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
    # Empty input folder.
    (tmp_path / "empty").mkdir()
    assert cli.main(["degrade", str(tmp_path / "empty"), str(tmp_path / "o3")]) == 2
    assert "empty folder" in capsys.readouterr().err
    assert not (tmp_path / "o3").exists()


def test_degrade_command_reads_10bit_yuv(tmp_path):
    from vsr_latent.data import yuv as yuv_mod

    frames = np.random.default_rng(6).integers(0, 256, (2, 16, 24, 3), dtype=np.uint8)
    path = tmp_path / "clip.raw"
    path.write_bytes(b"".join(yuv_mod.rgb_to_yuv420(f, 10) for f in frames))
    out = tmp_path / "lr"
    assert cli.main(["degrade", "--yuv_size", "24x16", "--yuv_bit_depth", "10", "--no_progress",
                     str(path), str(out)]) == 0
    decoded = read_frames(path, yuv_size=(16, 24), yuv_bit_depth=10)
    np.testing.assert_array_equal(read_frames(out), np.clip(np.round(degrade(decoded, "bi", 4)), 0, 255))
