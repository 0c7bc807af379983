"""Degradations: MATLAB bicubic against the public Vid4 BIx4 frames, BD and SciPy against
independent SciPy computations, TF equal to NumPy, the command."""

import warnings

import imageio.v3 as iio
import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from vsr_latent import cli
from vsr_latent.data.degrade import DEGRADATIONS, degrade, tf_degrade, weight_matrix
from vsr_latent.data.resize_weights import _cubic, matlab_imresize_matrix
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


def test_scipy_matches_ndimage_zoom():
    x = np.random.default_rng(2).uniform(0, 255, (2, 36, 44, 3))
    ref = np.stack([scipy.ndimage.zoom(f, (0.25, 0.25, 1), order=3) for f in x])
    np.testing.assert_allclose(degrade(x, "scipy", 4), ref, atol=2e-3)


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
