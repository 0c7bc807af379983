"""Models: registry, parameter budgets, numbers of the forward pass, modes, key frames."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from vsr_latent.cli import main
from vsr_latent.errors import ConfigError
from vsr_latent.models import MODEL_NAMES, VSRNet, build_model, count_params

PAPER_NAMES = ("res16", "satn10", "latn10", "lsatn_x", "lsatn_s", "lsatn_l", "lsatn_sl",
               "lsatn_ls", "vlatn10", "vsatn10", "ours")
TINY = {"filters": 8, "num_layers": 5}


def _frames(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype("float32")


def test_registry_names_and_unknown_name():
    assert tuple(MODEL_NAMES) == PAPER_NAMES
    with pytest.raises(ConfigError, match="res16.*ours"):
        build_model("latn99")
    with pytest.raises(ConfigError, match="unknown model setting"):
        build_model("res16", width=3)


def test_parameter_budgets_and_seq_len_defaults_via_models_command(capsys):
    """`vsr-latent models --json` builds every full-size model: budgets of §6.1 and Table 5."""
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # The registry's models with fresh weights, then the shipped pretrained ones.
    assert [r["name"] for r in rows if r["weights"] == "fresh"] == list(PAPER_NAMES)
    assert [r["name"] for r in rows if r["weights"] != "fresh"] == ["ours_cpu"]
    counts = {r["name"]: r["params"] for r in rows}
    for name in ("res16", "satn10", "latn10"):
        assert abs(counts[name] - 1_700_000) <= 20_000, (name, counts[name])  # §6.1
    assert abs(counts["ours"] - 4_108_739) <= 0.01 * 4_108_739, counts["ours"]  # Table 5
    for r in rows:
        assert r["seq_len"] == (4 if r["name"] in ("res16", "satn10", "latn10") else 7)
    # The listed count is the trainable weights of the built model.
    model = build_model("res16")
    assert counts["res16"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert counts["res16"] == count_params(model) == count_params("res16")
    assert model.scale == 4 and not model.variational
    assert build_model("latn10", seq_len=9).seq_len == 9
    for name in PAPER_NAMES:
        assert build_model(name, **TINY).variational == (name in ("vlatn10", "vsatn10", "ours"))


def test_zero_weights_give_bicubic_on_255_scale():
    """Normalisation in and out: with every weight zero the output is bicubic(x) on [0, 255]."""
    model = build_model("lsatn_x", **TINY)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    x = _frames((2, 3, 5, 7, 3))
    want = tf.image.resize(x.reshape(6, 5, 7, 3), (20, 28), method="bicubic").numpy()
    np.testing.assert_allclose(model(x).numpy().reshape(6, 20, 28, 3), want, atol=1e-3)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 3), (1, 2, 3, 5, 3), (2, 5, 9, 6, 3)])
def test_any_length_and_frame_size(shape):
    model = build_model("ours", **TINY)
    b, n, h, w, _ = shape
    y = model(_frames(shape)).numpy()
    assert y.shape == (b, n, 4 * h, 4 * w, 3) and np.all(np.isfinite(y))
    # The frames of a clip are processed together (3-D convs, attention), not independently.
    if n > 1:
        alone = model(_frames(shape)[:, :1]).numpy()
        assert np.abs(alone - y[:, :1]).max() > 1e-4


def test_plug_and_play_zero_blocks_leave_pretrained_network_unchanged():
    """Eqs. 16-17: attention blocks with all-zero parameters added to a trained residual net."""
    base = build_model("res16", filters=8, num_layers=4)
    plugged = build_model("res16", filters=8, num_layers=4, blocks=("long", "short"),
                          variational=True)
    for layer in plugged.attention:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    plugged.stem.set_weights(base.stem.get_weights())
    plugged.upscaler.set_weights(base.upscaler.get_weights())
    for a, b in zip(plugged.units, base.units):
        a.set_weights(b.get_weights())
    x = _frames((1, 3, 6, 5, 3))
    np.testing.assert_allclose(plugged(x).numpy(), base(x).numpy(), atol=1e-4)
    np.testing.assert_allclose(plugged(x, sampling=True).numpy(), base(x).numpy(), atol=1e-4)


def test_external_key_frames_change_long_attention_only_output_of_clip():
    model = build_model("latn10", filters=8, num_layers=5, seq_len=3)
    x = _frames((1, 3, 8, 8, 3))
    base = model(x).numpy()
    for n in (1, 5):  # N != L
        keys = _frames((1, n, 8, 8, 3), seed=n)
        y = model({"frames": x, "key_frames": keys}, training=False).numpy()
        assert y.shape == base.shape
        assert np.abs(y - base).max() > 1e-3
    # Models without long attention ignore key frames.
    short = build_model("satn10", filters=8, num_layers=5)
    np.testing.assert_array_equal(short({"frames": x, "key_frames": keys}).numpy(),
                                  short(x).numpy())


def test_sampling_is_an_argument_of_the_call_also_under_tf_function():
    """``model(x, sampling=...)`` is the one mechanism: no state, no weight holds the mode."""
    model = build_model("ours", **TINY)
    x = _frames((1, 3, 8, 8, 3))
    mean_fn = tf.function(lambda t: model(t, training=False))
    sample_fn = tf.function(lambda t: model(t, training=False, sampling=True))
    mean = mean_fn(x).numpy()
    s1, s2 = sample_fn(x).numpy(), model(x, sampling=True).numpy()
    assert np.abs(s1 - mean).max() > 1e-3 and np.abs(s1 - s2).max() > 1e-3
    np.testing.assert_array_equal(mean_fn(x).numpy(), mean)
    np.testing.assert_allclose(model(x).numpy(), mean, rtol=1e-5, atol=1e-4)  # eager vs graph rounding
    assert "sampling" not in model.get_config()
    assert not any("sampling" in w.path for w in model.weights)
    assert not model.non_trainable_weights
    with pytest.raises(ValueError, match="no variance heads"):
        build_model("latn10", filters=8, num_layers=5)(x, sampling=True)


def test_dual_forward_mean_and_sample_paths():
    model = build_model("vsatn10", **TINY)
    x = _frames((1, 2, 8, 8, 3))
    mean, sample = model.dual_forward(x, training=True)
    np.testing.assert_allclose(mean.numpy(), model(x, training=True).numpy(), atol=1e-4)
    assert np.abs(sample.numpy() - mean.numpy()).max() > 1e-3
    with tf.GradientTape() as tape:
        mean, sample = model.dual_forward(x)
        loss = tf.reduce_mean(tf.square(sample - mean))
    grads = tape.gradient(loss, model.trainable_weights)
    sigma_grads = [g for g, w in zip(grads, model.trainable_weights) if "sigma" in w.path]
    assert sigma_grads and all(g is not None for g in sigma_grads)
    plain = build_model("res16", filters=8, num_layers=2)
    a, b = plain.dual_forward(x)
    assert a is b


def test_call_with_attention_maps():
    model = build_model("ours", **TINY)  # s s l s s, variational
    x = _frames((1, 2, 7, 5, 3))
    sr, info = model.call_with_attention(x)
    np.testing.assert_allclose(sr.numpy(), model(x).numpy(), atol=1e-4)
    assert len(info["z"]) == 5 and len(info["masks"]) == 4 and len(info["variance"]) == 5
    assert info["z"][0].shape == (1, 2, 7, 5, 8)  # short: mask logits at H x W
    assert info["z"][2].shape == (1, 2, 4, 3, 4)  # long: latent at ceil(H/2) x ceil(W/2)
    np.testing.assert_allclose(info["masks"][0].numpy(), tf.sigmoid(info["z"][0]).numpy(),
                               atol=1e-6)
    assert all(np.all(v.numpy() > 0) for v in info["variance"])


def test_keras_round_trip_keeps_config_and_weights(tmp_path):
    model = build_model("ours", **TINY)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, VSRNet)
    assert loaded.get_config() == model.get_config()
    x = _frames((1, 2, 6, 6, 3))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert np.abs(loaded(x, sampling=True).numpy() - loaded(x, sampling=True).numpy()).max() > 1e-3


def test_vsrnet_takes_a_model_config_named_after_its_registry_model():
    from vsr_latent.models import (
        ModelConfig,
        VSRNetConfig,
        model_config,
        registry_changes,
    )

    config = model_config("latn10", seq_len=3, filters=8, num_layers=5)
    assert isinstance(config, ModelConfig) and config.name == "latn10"
    assert registry_changes(config) == {"seq_len": 3, "filters": 8, "num_layers": 5}
    assert config.architecture() == VSRNetConfig(blocks=("long",) * 5, num_layers=5, filters=8,
                                                 seq_len=3)
    net = VSRNet(config)
    assert net.name == "latn10" and net.config == config.architecture()
    assert (net.seq_len, len(net.units), net.stem.filters) == (3, 5, 8)
    # build_model takes the config too, and gives the same network as the registry name does.
    by_config, by_name = build_model(config), build_model("latn10", seq_len=3, filters=8,
                                                          num_layers=5)
    assert by_config.get_config() == by_name.get_config()
    assert count_params(config) == count_params(by_name)
    with pytest.raises(ConfigError, match="registry model name"):
        ModelConfig(name="")
    with pytest.raises(ConfigError, match="filters must be an integer"):
        config.replace(filters="8")
    with pytest.raises(TypeError, match="VSRNetConfig"):
        VSRNet(("long",))


def test_a_model_saved_with_keyword_config_loads(tmp_path):
    """Keras rebuilds a network from its get_config fields (files written before VSRNet took a
    config object store them the same way)."""
    model = build_model("satn10", **TINY)
    fields = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable")}
    rebuilt = VSRNet(**fields, name="rebuilt")
    rebuilt.build((None, None, None, None, 3))
    assert rebuilt.config == model.config and rebuilt.name == "rebuilt"
    older = VSRNet(**{**fields, "leaky_slope": None, "sampling": True, "variational": False})
    assert older.config.leaky_slope == model.config.leaky_slope and not older.variational


def test_residual_init_scale_reaches_every_residual_layer_and_a_saved_file_without_it_loads():
    """``residual_init_scale`` (``--set model.residual_init_scale=...``) sets each residual
    layer's initial spread; a network saved before the field existed (no such key, as the
    shipped ``ours_cpu``) rebuilds with the Glorot default."""
    from vsr_latent.layers import RESIDUAL_INIT_SCALE

    model = build_model("satn10", **TINY, residual_init_scale=0.01)
    fan_avg = 27 * TINY["filters"]
    limit = np.sqrt(3 * 0.01 / fan_avg)
    for unit in model.units:
        assert unit.init_scale == 0.01
        assert np.abs(unit.conv.kernel.numpy()).max() <= limit
    fields = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable")}
    assert fields["residual_init_scale"] == 0.01
    del fields["residual_init_scale"]
    older = VSRNet(**fields)
    assert older.config.residual_init_scale == RESIDUAL_INIT_SCALE == 1.0
    with pytest.raises(ConfigError, match="residual_init_scale must be a number"):
        model.config.replace(residual_init_scale="0.1")
