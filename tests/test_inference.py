"""Predictors (bicubic, registry model, .keras, run folder, SavedModel), the one model loader and
paper-style chunking."""

import json

import numpy as np
import pytest

from tests.eval_standin import StandInVSR
from vsr_latent.errors import CheckpointError, ConfigError, InputError
from vsr_latent.serving.loading import load_model, load_predictor
from vsr_latent.serving.predictors import (
    DEFAULT_SEQ_LEN,
    KerasPredictor,
    bicubic_upscale,
    upscale_sequence,
)


def _frames(t, h=8, w=8, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (t, h, w, 3)).astype(np.float32)


# ---- bicubic ----------------------------------------------------------------------------------


def _cubic(x):
    x = np.abs(x)
    return np.where(x <= 1, 1.5 * x**3 - 2.5 * x**2 + 1,
                    np.where(x < 2, -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2, 0.0))


def _matlab_upscale_matrix(n, scale):
    """MATLAB imresize bicubic upscaling along one axis, written out from its definition:
    output pixel o samples u = (o + 0.5) / scale - 0.5, 4 Keys taps, mirrored borders."""
    m = np.zeros((n * scale, n))
    for o in range(n * scale):
        u = (o + 0.5) / scale - 0.5
        taps = np.arange(int(np.floor(u)) - 1, int(np.floor(u)) + 3)
        weights = _cubic(u - taps)
        for j, wj in zip(taps, weights / weights.sum()):
            j = -j - 1 if j < 0 else (2 * n - 1 - j if j >= n else j)
            m[o, j] += wj
    return m


def test_bicubic_upscale_is_matlab_imresize_bicubic():
    x = _frames(2, 6, 5).astype(np.float64)
    a, b = _matlab_upscale_matrix(6, 4), _matlab_upscale_matrix(5, 4)
    expected = np.einsum("ih,thwc->tiwc", a, x)
    expected = np.einsum("jw,tiwc->tijc", b, expected)
    out = bicubic_upscale(x)
    assert out.shape == (2, 24, 20, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-3)
    # A constant frame stays constant (weights sum to one, mirrored borders included).
    np.testing.assert_allclose(bicubic_upscale(np.full((3, 4, 3), 77.0)), 77.0, atol=1e-4)


def test_bicubic_predictor_on_vid4_calendar(shared_data):
    from vsr_latent.data.vid4 import read_frame_folder
    from vsr_latent.metrics import psnr

    lr_dir = shared_data / "Vid4" / "BIx4" / "calendar"
    gt_dir = shared_data / "Vid4" / "GT" / "calendar"
    if not lr_dir.is_dir():
        pytest.skip(f"{lr_dir} is absent")
    lr = read_frame_folder(lr_dir)[:2].astype(np.float32)
    gt = read_frame_folder(gt_dir)[:2]
    p = load_predictor("bicubic")
    assert (p.seq_len, p.scale, p.variational) == (DEFAULT_SEQ_LEN, 4, False)
    sr = np.clip(np.rint(upscale_sequence(p, lr)), 0, 255)
    values = [psnr(s, g, y_channel=True) for s, g in zip(sr, gt)]
    # The literature's bicubic on calendar (41 frames, Y, no crop) is 20.39 dB.
    assert all(20.0 < v < 20.8 for v in values), values


# ---- Keras predictors and chunking ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_variational():
    from vsr_latent.models import build_model

    return build_model("vlatn10", seq_len=3, filters=4, num_layers=5)


def test_upscale_sequence_chunks_and_zero_pads(tiny_variational):
    model = tiny_variational
    predictor = KerasPredictor(model, name="tiny")
    assert (predictor.seq_len, predictor.scale, predictor.variational) == (3, 4, True)
    x = _frames(8)
    out = upscale_sequence(predictor, x)
    assert out.shape == (8, 32, 32, 3)
    # Reference: the model called on each chunk of 3, the last (frames 6, 7) padded with a zero
    # frame whose output is dropped.
    padded = np.concatenate([x, np.zeros((1, 8, 8, 3), np.float32)])
    expected = np.concatenate(
        [model(padded[None, s:s + 3], training=False).numpy()[0] for s in (0, 3, 6)])[:8]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-2)
    # The padding matters: the last two frames alone give different numbers.
    alone = model(x[None, 6:], training=False).numpy()[0]
    assert np.abs(alone - expected[6:]).max() > 1e-3
    # A sequence shorter than L is one padded chunk.
    short = np.concatenate([x[:2], np.zeros((1, 8, 8, 3), np.float32)])
    np.testing.assert_allclose(upscale_sequence(predictor, x[:2]),
                               model(short[None], training=False).numpy()[0, :2],
                               rtol=1e-4, atol=1e-2)


def test_predictor_sampling_and_key_frames(tiny_variational):
    model = tiny_variational
    predictor = KerasPredictor(model, name="tiny")
    x, keys = _frames(3, seed=1), _frames(2, seed=2)
    mean_path = predictor(x)
    mean, std = predictor(x, samples=4)
    np.testing.assert_array_equal(predictor(x), mean_path)  # no mode left behind
    assert mean.shape == std.shape == (3, 32, 32, 3)
    assert std.mean() > 1e-3 and np.abs(mean - mean_path).max() > 1e-3
    # Successive sampled calls draw new noise.
    draws = np.stack([predictor._predict(x, None, sampling=True) for _ in range(2)])
    assert np.abs(draws[0] - draws[1]).max() > 1e-3
    with_keys = predictor(x, key_frames=keys)
    expected = model({"frames": x[None], "key_frames": keys[None]}, training=False).numpy()[0]
    np.testing.assert_allclose(with_keys, expected, rtol=1e-4, atol=1e-2)
    assert np.abs(with_keys - mean_path).max() > 1e-3


def test_predictor_does_not_retrace_for_new_sizes():
    model = StandInVSR(seq_len=2)
    predictor = KerasPredictor(model, name="standin")
    for h, w in ((5, 7), (9, 4), (6, 6)):
        x = _frames(2, h, w)
        np.testing.assert_allclose(predictor(x), model(x[None]).numpy()[0], rtol=1e-5, atol=1e-3)
    assert predictor._functions[(False, False)].experimental_get_tracing_count() == 1


def test_deterministic_model_rejects_samples():
    predictor = KerasPredictor(StandInVSR(seq_len=2), name="standin")
    with pytest.raises(ConfigError, match="variational"):
        predictor(_frames(2), samples=3)
    with pytest.raises(InputError):
        predictor(np.zeros((4, 4, 3)))


def test_load_registry_name():
    p = load_predictor("res16", seq_len=5)
    assert (p.seq_len, p.scale, p.variational) == (5, 4, False)
    assert p.model.seq_len == 5


# ---- loading from files -----------------------------------------------------------------------


def test_load_keras_file_and_run_folder(tmp_path):
    model = StandInVSR(seq_len=3)
    x = _frames(3)
    expected = model(x[None]).numpy()[0]
    model.save(tmp_path / "m.keras")
    p = load_predictor(str(tmp_path / "m.keras"))
    assert p.seq_len == 3
    np.testing.assert_allclose(p(x), expected, rtol=1e-5, atol=1e-3)
    assert load_predictor(str(tmp_path / "m.keras"), seq_len=5).seq_len == 5
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": "standin", "seq_len": 3}))
    model.save(run / "model.keras")
    np.testing.assert_allclose(load_predictor(str(run))(x), expected, rtol=1e-5, atol=1e-3)


def test_load_saved_model(tmp_path):
    from vsr_latent.serving.saved_model import export_saved_model

    model = StandInVSR(seq_len=2)
    x, keys = _frames(2), _frames(1, seed=3)
    expected = model(x[None], training=False).numpy()[0]
    expected_keys = model({"frames": x[None], "key_frames": keys[None]}, training=False).numpy()[0]
    export_saved_model(model, tmp_path / "sm")
    p = load_predictor(str(tmp_path / "sm"), seq_len=2)
    assert (p.seq_len, p.scale, p.variational) == (2, 4, False)
    np.testing.assert_allclose(p(x), expected, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(p(x, key_frames=keys), expected_keys, rtol=1e-4, atol=1e-2)
    assert load_predictor(str(tmp_path / "sm")).seq_len == DEFAULT_SEQ_LEN


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'nosuchmodel'.*bicubic.*res16"):
        load_predictor("nosuchmodel")
    with pytest.raises(CheckpointError, match="no such file"):
        load_predictor(str(tmp_path / "missing.keras"))
    with pytest.raises(CheckpointError, match="no such file"):
        load_predictor(str(tmp_path / "missing" / "run"))
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="bad.keras: cannot load"):
        load_predictor(str(bad))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="neither a training run folder"):
        load_predictor(str(empty))
    (tmp_path / "weights.h5").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="not a .keras file"):
        load_predictor(str(tmp_path / "weights.h5"))


def test_load_run_folder_checkpoint(tmp_path):
    """A run folder as training leaves it mid-way: config.json and a checkpoint, no model.keras."""
    import tensorflow as tf

    from vsr_latent.configs import get_config
    from vsr_latent.run_folder import build_model_for, checkpoint_dir, write_config

    config = get_config("table1_latn10", overrides=[
        "seq_len=2", "model_overrides.filters=4", "model_overrides.num_layers=5"])
    model = build_model_for(config)
    for w in model.weights:  # non-default weights, so a fresh model would not pass
        w.assign(w + tf.random.stateless_normal(w.shape, (1, 2), stddev=0.05, dtype=w.dtype))
    write_config(tmp_path, config)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(checkpoint_dir(tmp_path)),
                               max_to_keep=1).save()
    x = _frames(2)
    p = load_predictor(str(tmp_path))
    assert (p.seq_len, p.scale) == (2, 4)
    np.testing.assert_allclose(p(x), model(x[None], training=False).numpy()[0], rtol=1e-4,
                               atol=1e-2)


def test_keras_files_load_on_the_mean_path_in_the_callers_precision(tmp_path):
    """Every Keras spec goes through one loader: a loaded model's call is its mean path,
    computing in the precision asked for (weights stay float32)."""
    from vsr_latent.models import build_model
    from vsr_latent.precision import dtype_policy

    model = build_model("vlatn10", seq_len=2, filters=4, num_layers=5)
    model.save(tmp_path / "v.keras")
    x = np.full((1, 2, 8, 8, 3), 90.0, np.float32)
    for spec in (tmp_path / "v.keras", "vlatn10"):
        loaded = load_model(spec, precision="mixed_bfloat16")
        np.testing.assert_array_equal(loaded(x).numpy(), loaded(x).numpy())
        assert loaded.stem.compute_dtype == "bfloat16" and loaded.stem.kernel.dtype == "float32"
    assert load_model(tmp_path / "v.keras").stem.compute_dtype == "float32"
    with dtype_policy("mixed_bfloat16"):  # None: the policy in force
        assert load_model(tmp_path / "v.keras").stem.compute_dtype == "bfloat16"
    p = load_predictor(tmp_path / "v.keras", precision="mixed_bfloat16")
    assert p.model.stem.compute_dtype == "bfloat16"


def test_load_model_refuses_what_holds_no_keras_model(tmp_path):
    from vsr_latent.serving.saved_model import export_saved_model

    export_saved_model(StandInVSR(seq_len=2), tmp_path / "sm")
    with pytest.raises(ConfigError, match="SavedModel folder holds no Keras model"):
        load_model(tmp_path / "sm")
    with pytest.raises(ConfigError, match="^seq_len must be >= 1"):
        load_predictor("bicubic", seq_len=0)
    with pytest.raises(ConfigError, match="unknown backend"):
        load_predictor("bicubic", backend="torch")
    with pytest.raises(ConfigError, match="runs .onnx files"):
        load_predictor("bicubic", backend="onnxruntime")
