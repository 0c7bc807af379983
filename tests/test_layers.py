"""Layers: shared layer checks, and numbers against numpy / TF references; the network compiled
with XLA and under mixed precision against float32."""

import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_helper import run_layer_test
from vsr_latent.layers import (
    DepthToSpaceUpscaler,
    LongAttention,
    ResidualConvBlock3D,
    ShortAttention,
    VariationalHead,
    softmax_attention,
)
from vsr_latent.layers.bicubic import BICUBIC_TOLERANCE, bicubic_upsample
from vsr_latent.layers.shapes import pad_spatial, pool_spatial

# ---- shared layer checks -----------------------------------------------------------------------

C = 8


def test_residual_block_layer():
    run_layer_test(ResidualConvBlock3D, {"filters": C, "leaky_slope": 0.1, "init_scale": 0.01},
                   (2, 3, 5, 6, C),
                   (2, 3, 5, 6, C), 2, expected_num_params=27 * C * C + C)


@pytest.mark.parametrize("variational", [False, True])
def test_long_attention_layer(variational):
    ci = C // 2
    params = (27 * C * C + C) + 3 * (C * ci + ci) + (16 * ci * C + C)
    if variational:
        params += 2 * (ci * ci + ci)
    run_layer_test(
        LongAttention, {"filters": C, "variational": variational, "max_attention_elements": 64},
        (2, 3, 5, 6, C), (2, 3, 5, 6, C), 10 + 4 * variational, 0,
        expected_num_params=params, frozen_weight_substrings=("sigma",))


@pytest.mark.parametrize("variational", [False, True])
def test_short_attention_layer(variational):
    params = 2 * (C * C + C) + (27 * 2 * C * C + C) + (27 * C * C + C) + 2 * (16 * C * C + C)
    if variational:
        params += 2 * (C * C + C)
    run_layer_test(
        ShortAttention, {"filters": C, "variational": variational}, (2, 3, 5, 6, C),
        (2, 3, 5, 6, C), 12 + 4 * variational, 0, expected_num_params=params,
        frozen_weight_substrings=("sigma",))


def test_variational_head_layer():
    run_layer_test(VariationalHead, {"units": C, "seed": 3}, (2, 3, 4, 4, C),
                   (2, 3, 4, 4, C), 4, 0, expected_num_params=2 * (C * C + C),
                   output_index=1, frozen_weight_substrings=("sigma",))


def test_upscaler_layer():
    run_layer_test(DepthToSpaceUpscaler, {"scale": 4, "out_channels": 3}, (2, 3, 5, 6, C),
                   (2, 3, 20, 24, 3), 2, expected_num_params=27 * C * 48 + 48)


# ---- numpy reference of long attention -----------------------------------------------------------

def _lrelu(x, slope):
    return np.where(x > 0, x, slope * x)


def _np_conv3d_same(x, kernel, bias):
    frames, h, w, _ = x.shape
    xp = np.pad(x, ((1, 1), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((frames, h, w, kernel.shape[-1])) + bias
    for dt in range(3):
        for dh in range(3):
            for dw in range(3):
                out += xp[dt:dt + frames, dh:dh + h, dw:dw + w] @ kernel[dt, dh, dw]
    return out


def _np_pool(x):
    frames, h, w, c = x.shape
    return x.reshape(frames, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _np_transposed_conv_k4s2(x, kernel, bias):
    """TF 'same' transposed conv: input pixel i feeds outputs 2i + k - 1, k = 0..3."""
    frames, h, w, _ = x.shape
    buf = np.zeros((frames, 2 * h + 2, 2 * w + 2, kernel.shape[2]))
    for kh in range(4):
        for kw in range(4):
            buf[:, kh:kh + 2 * h:2, kw:kw + 2 * w:2] += x @ kernel[kh, kw].T
    return buf[:, 1:1 + 2 * h, 1:1 + 2 * w] + bias


def _np_pad4(x):
    _, h, w, _ = x.shape
    return np.pad(x, ((0, 0), (0, -h % 4), (0, -w % 4), (0, 0)))


def _np_long_attention(layer, x, extra):
    """Eqs. 9-11 written out with numpy loops and matrix products, for one clip."""
    w = {v.path.split("/", 1)[1]: v.numpy().astype(np.float64) for v in layer.weights}
    slope = layer.leaky_slope

    def embed(frames):
        u = _lrelu(_np_conv3d_same(_np_pad4(frames), w["embed_conv/kernel"], w["embed_conv/bias"]),
                   slope)
        return _np_pool(u)

    u_q = embed(x)
    u_kv = np.concatenate([u_q, embed(extra)], axis=0)
    theta = u_q @ w["theta/kernel"] + w["theta/bias"]
    phi = _np_pool(u_kv @ w["phi/kernel"] + w["phi/bias"])
    g = _np_pool(u_kv @ w["g/kernel"] + w["g/bias"])
    ci = theta.shape[-1]
    logits = theta.reshape(-1, ci) @ phi.reshape(-1, ci).T
    t = np.exp(logits - logits.max(axis=1, keepdims=True))
    t /= t.sum(axis=1, keepdims=True)
    a = (t @ g.reshape(-1, ci)).reshape(theta.shape)
    y = _np_transposed_conv_k4s2(a, w["restore/kernel"], w["restore/bias"])
    return x + y[:, :x.shape[1], :x.shape[2]]


def test_long_attention_matches_numpy_formula_with_external_key_frames():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 2, 4, 6, 3)).astype("float32")      # W=6: padded to 8 inside
    extra = rng.normal(size=(1, 3, 4, 6, 3)).astype("float32")  # N = 2 + 3 != L
    layer = LongAttention(3, inner_filters=2, max_attention_elements=None)
    layer(x)
    layer.set_weights([rng.normal(scale=0.7, size=v.shape) for v in layer.get_weights()])
    got = layer(x, key_values=[x, extra]).numpy()[0]
    want = _np_long_attention(layer, x[0].astype(np.float64), extra[0].astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # The key frames matter: self-attention alone gives other numbers.
    assert np.abs(layer(x).numpy()[0] - got).max() > 1e-3


def test_long_attention_returns_the_weights_it_attends_with():
    """``return_weights``: the block's own softmax(theta phi^T) (eq. 10), as computed before from
    its embedding layers, on the padded query and key grids; the output is unchanged."""
    rng = np.random.default_rng(12)
    x = tf.constant(rng.normal(size=(2, 3, 6, 10, C)), tf.float32)  # padded to 8 x 12 inside
    layer = LongAttention(C, inner_filters=4, max_attention_elements=64)
    out, info = layer(x, return_weights=True)
    np.testing.assert_array_equal(out.numpy(), layer(x).numpy())
    u = layer._embed(pad_spatial(x))
    theta, phi = layer.theta(u), pool_spatial(layer.phi(u))
    assert info["weights"].shape == (2, *theta.shape[1:4], *phi.shape[1:4]) == (2, 3, 4, 6, 3, 2, 3)
    for b in range(2):
        logits = tf.matmul(tf.reshape(theta[b], [-1, 4]), tf.reshape(phi[b], [-1, 4]),
                           transpose_b=True)
        want = tf.nn.softmax(logits, axis=-1).numpy()
        got = info["weights"][b].numpy().reshape(want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # Times the values they give the latent attention z the block goes on with.
    g = pool_spatial(layer.g(u)).numpy().reshape(2, -1, 4)
    z = np.einsum("bqk,bkc->bqc", info["weights"].numpy().reshape(2, 3 * 4 * 6, -1), g)
    np.testing.assert_allclose(z.reshape(2, 3, 4, 6, 4)[:, :, :3, :5], info["z"].numpy(),
                               rtol=1e-4, atol=1e-5)
    assert set(layer(x, return_attention=True)[1]) == {"z"}  # no weights unless asked for


# ---- chunking ------------------------------------------------------------------------------------

def test_chunked_softmax_attention_is_exact():
    rng = np.random.default_rng(2)
    q = tf.constant(rng.normal(size=(2, 37, 5)), tf.float32)
    k = tf.constant(rng.normal(size=(2, 11, 5)), tf.float32)
    v = tf.constant(rng.normal(size=(2, 11, 3)), tf.float32)
    full = softmax_attention(q, k, v, max_elements=None).numpy()
    logits = np.einsum("bmd,bkd->bmk", q.numpy(), k.numpy())
    t = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(full, (t / t.sum(-1, keepdims=True)) @ v.numpy(), atol=1e-5)
    fn = tf.function(softmax_attention, input_signature=[
        tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, None, 5]),
        tf.TensorSpec([None, None, 3])], reduce_retracing=True)
    for budget in (1, 50, 2 * 11 * 7, 10**9):  # 1 query per chunk, ragged last chunk, one chunk
        chunked = softmax_attention(q, k, v, max_elements=budget).numpy()
        np.testing.assert_allclose(chunked, full, rtol=1e-5, atol=1e-5)
    graph = tf.function(lambda a, b, c: softmax_attention(a, b, c, max_elements=50),
                        input_signature=fn.input_signature)
    np.testing.assert_allclose(graph(q, k, v).numpy(), full, rtol=1e-5, atol=1e-5)


def test_chunked_and_unchunked_long_attention_agree_in_graph_mode():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(1, 3, 9, 7, C)), tf.float32)
    full = LongAttention(C, max_attention_elements=None)
    chunked = LongAttention(C, max_attention_elements=40)
    full(x)
    chunked(x)
    chunked.set_weights(full.get_weights())
    spec = [tf.TensorSpec([None, None, None, None, C])]
    a = tf.function(lambda t: full(t), input_signature=spec)(x).numpy()
    b = tf.function(lambda t: chunked(t), input_signature=spec)(x).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# ---- upscaler ------------------------------------------------------------------------------------

def test_upscaler_is_conv_then_tf_depth_to_space_per_frame():
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(2, 3, 5, 6, C)), tf.float32)
    layer = DepthToSpaceUpscaler(scale=4, out_channels=3)
    y = layer(x).numpy()
    features = layer.conv(x).numpy()
    for b in range(2):
        want = tf.nn.depth_to_space(features[b], 4).numpy()  # frames as batch
        np.testing.assert_allclose(y[b], want, rtol=1e-6, atol=1e-6)
    # Pixel (i, j) of output channel c is input channel (i%4*4 + j%4)*3 + c.
    np.testing.assert_allclose(y[0, 0, 4 * 2 + 1, 4 * 3 + 2, 1],
                               features[0, 0, 2, 3, (1 * 4 + 2) * 3 + 1], rtol=1e-6)


# ---- plug and play: all-zero parameters are the identity -----------------------------------------

def _zero(layer):
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])


@pytest.mark.parametrize("kind", [LongAttention, ShortAttention])
@pytest.mark.parametrize("variational", [False, True])
def test_zero_block_is_identity(kind, variational):
    x = tf.constant(np.random.default_rng(5).normal(size=(1, 3, 7, 5, C)), tf.float32)
    layer = kind(C, variational=variational)
    layer(x)
    _zero(layer)
    for sampling in (False, True) if variational else (None,):
        np.testing.assert_array_equal(layer(x, sampling=sampling).numpy(), x.numpy())


def test_residual_join_is_attention_plus_branch():
    x = tf.constant(np.random.default_rng(6).normal(size=(1, 2, 4, 4, C)), tf.float32)
    unit = ResidualConvBlock3D(C)
    unit(x)
    a = x * 2.0
    np.testing.assert_allclose(unit(x, skip=a).numpy(), (a + unit.branch(x)).numpy(), atol=1e-6)
    branch = tf.nn.leaky_relu(unit.conv(x), alpha=unit.leaky_slope)
    np.testing.assert_allclose(unit(x).numpy(), (x + branch).numpy(), atol=1e-6)


@pytest.mark.parametrize("init_scale", [1.0, 0.01])
def test_residual_kernel_starts_with_the_variance_scaling_spread(init_scale):
    # Uniform on [-a, a] with a = sqrt(3 * scale / fan_avg), fan_avg = 27 * (C_in + C_out) / 2:
    # 1.0 is Glorot uniform, 0.01 shrinks every weight tenfold.
    filters = 32
    unit = ResidualConvBlock3D(filters, init_scale=init_scale)
    unit.build((None, 3, 4, 4, filters))
    kernel = unit.conv.kernel.numpy()
    limit = np.sqrt(3.0 * init_scale / (27 * filters))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    np.testing.assert_allclose(kernel.var(), limit**2 / 3, rtol=0.05)


# ---- odd sizes, any L ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1, 1, 1, C), (2, 1, 3, 5, C), (1, 5, 9, 6, C)])
@pytest.mark.parametrize("kind", [LongAttention, ShortAttention])
def test_odd_sizes_and_lengths(kind, shape):
    x = tf.constant(np.random.default_rng(7).normal(size=shape), tf.float32)
    layer = kind(C)
    y = layer(x)
    assert y.shape == shape and np.all(np.isfinite(y.numpy()))
    # The padded border never leaks into the cropped output: the same frame embedded in a
    # larger canvas of zeros gives a different result only through attention/mask context,
    # but a zeroed block is exactly the identity at every size.
    _zero(layer)
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())


def test_long_attention_key_frames_any_count():
    rng = np.random.default_rng(8)
    x = tf.constant(rng.normal(size=(1, 2, 6, 6, C)), tf.float32)
    layer = LongAttention(C)
    base = layer(x).numpy()
    for n in (1, 4):
        keys = tf.constant(rng.normal(size=(1, n, 6, 6, C)), tf.float32)
        y = layer(x, key_values=[x, keys]).numpy()
        assert y.shape == x.shape
        assert np.abs(y - base).max() > 1e-4
    # A tensor of N != L key frames alone (no query frames among the keys) works too.
    assert layer(x, key_values=keys).shape == x.shape


# ---- variational sampling ------------------------------------------------------------------------

def test_sampling_statistics_match_mu_and_sigma():
    rng = np.random.default_rng(9)
    head = VariationalHead(4)
    a = tf.constant(np.repeat(rng.normal(size=(1, 1, 3, 3, 4)), 4000, axis=0), tf.float32)
    head(a)
    head.sigma_dense.set_weights([rng.normal(scale=0.5, size=(4, 4)), np.zeros(4)])
    z0, mu, sigma = head(a)
    np.testing.assert_array_equal(z0.numpy(), mu.numpy())  # deterministic by default
    z, _, _ = head(a, sampling=True)
    mu0, sigma0 = mu.numpy()[0], sigma.numpy()[0]
    np.testing.assert_allclose(
        sigma0, np.log1p(np.exp(a.numpy()[0] @ head.sigma_dense.kernel.numpy())), rtol=1e-5)
    z = z.numpy()
    # 4000 draws: standard error of the mean is sigma / 63, of the std about sigma / 89.
    np.testing.assert_allclose(z.mean(0), mu0, atol=float(4 * sigma0.max() / 63))
    np.testing.assert_allclose(z.std(0), sigma0, rtol=0.06)


def test_sampling_is_an_argument_of_each_call():
    """The mode is the call's ``sampling`` argument: a traced function per mode, no stored
    state; the mean path is deterministic and the sampled path draws anew each call."""
    x = tf.constant(np.random.default_rng(10).normal(size=(1, 2, 8, 8, C)), tf.float32)
    layer = ShortAttention(C, variational=True)
    mean_fn = tf.function(lambda t: layer(t))
    sample_fn = tf.function(lambda t: layer(t, sampling=True))
    mean = mean_fn(x).numpy()
    s1, s2 = sample_fn(x).numpy(), sample_fn(x).numpy()
    assert np.abs(s1 - mean).max() > 0 and np.abs(s1 - s2).max() > 0
    np.testing.assert_array_equal(mean_fn(x).numpy(), mean)
    np.testing.assert_array_equal(layer(x, sampling=False).numpy(), mean)
    assert "sampling" not in layer.get_config()
    assert not layer.non_trainable_weights
    # A config saved while the mode was stored state still builds the layer.
    old = ShortAttention.from_config({**layer.get_config(), "sampling": True})
    old(x)
    old.set_weights(layer.get_weights())
    np.testing.assert_array_equal(old(x).numpy(), mean)


def test_chunked_attention_gradient_matches_unchunked():
    rng = np.random.default_rng(11)
    q = tf.constant(rng.normal(size=(2, 23, 4)), tf.float32)
    k = tf.constant(rng.normal(size=(2, 9, 4)), tf.float32)
    v = tf.constant(rng.normal(size=(2, 9, 3)), tf.float32)
    w = tf.constant(rng.normal(size=(2, 23, 3)), tf.float32)

    def grads(budget):
        with tf.GradientTape() as tape:
            tape.watch([q, k, v])
            loss = tf.reduce_sum(w * softmax_attention(q, k, v, max_elements=budget))
        return tape.gradient(loss, [q, k, v])

    want = grads(None)
    for budget in (1, 40, 10**9):
        for got, ref in zip(grads(budget), want):
            np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    spec = [tf.TensorSpec([None, None, 4])] * 2 + [tf.TensorSpec([None, None, 3])]

    @tf.function(input_signature=spec)
    def graph_grads(a, b, c):
        with tf.GradientTape() as tape:
            tape.watch([a, b, c])
            loss = tf.reduce_sum(w * softmax_attention(a, b, c, max_elements=40))
        return tape.gradient(loss, [a, b, c])

    for got, ref in zip(graph_grads(q, k, v), want):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_variational_head_mean_path_is_mu_and_sampled_path_draws_unit_normals():
    """sampling=False gives exactly mu (no draws); sampling=True gives mu + eps * sigma with
    eps ~ N(0, 1), also inside a traced function, anew at each call."""
    head = VariationalHead(4, seed=5)
    x = tf.random.stateless_normal((2, 3, 5, 6, 4), seed=(2, 3))
    head.build(x.shape)
    head.sigma_dense.bias.assign(tf.fill([4], 0.5))
    z, mu, sigma = head(x)
    np.testing.assert_array_equal(z.numpy(), mu.numpy())
    fn = tf.function(lambda t: head(t, sampling=True))
    z, mu, sigma = fn(x)
    eps = ((z - mu) / sigma).numpy()
    assert abs(eps.mean()) < 0.15 and abs(eps.std() - 1.0) < 0.15
    assert np.abs(fn(x)[0].numpy() - z.numpy()).max() > 0


# ---- bicubic skip: an XLA-compilable formulation equal to tf.image.resize ------------------------

@pytest.mark.parametrize("shape,scale", [((2, 5, 7, 3), 4), ((1, 1, 1, 3), 4), ((3, 6, 5, 2), 2),
                                         ((1, 36, 45, 3), 4)])
def test_bicubic_upsample_equals_tf_resize(shape, scale):
    x = tf.random.stateless_uniform(shape, seed=(3, 4))
    ref = tf.image.resize(x, [shape[1] * scale, shape[2] * scale], method="bicubic")
    got = bicubic_upsample(x, scale)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=BICUBIC_TOLERANCE, rtol=0)


def test_bicubic_upsample_compiles_with_xla():
    x = tf.random.stateless_uniform((2, 9, 11, 3), seed=(5, 6))
    ref = tf.image.resize(x, [36, 44], method="bicubic")
    got = tf.function(lambda t: bicubic_upsample(t, 4), jit_compile=True)(x)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=BICUBIC_TOLERANCE, rtol=0)


# ---- the network compiled with XLA and under mixed precision -------------------------------------

def test_model_with_xla_equals_model_without():
    from vsr_latent.models import build_model

    model = build_model("ours", filters=8, num_layers=5, max_attention_elements=None)
    x = tf.random.stateless_uniform((1, 3, 12, 16, 3), seed=(7, 8), maxval=255.0)
    ref = model(x, training=False)
    got = tf.function(lambda t: model(t, training=False), jit_compile=True)(x)
    # [0, 255] outputs: float32 rounding of two different op schedules.
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-2, rtol=0)


# Mixed precision is opt-in (--precision): not equal to float32, but close. Largest deviation on
# the [0, 255] output scale of a fresh tiny model (measured 0.64 for float16, 5.6 for bfloat16:
# 8 significant bits near 255 are steps of 1-2 levels).
MIXED_PRECISION_TOLERANCE = {"mixed_float16": 2.0, "mixed_bfloat16": 16.0}


@pytest.mark.parametrize("policy", sorted(MIXED_PRECISION_TOLERANCE))
def test_mixed_precision_model_close_to_float32(policy):
    from vsr_latent.perf.inference_benchmark import BenchSettings, build_bench_model

    settings = BenchSettings.quick_settings()
    ref = build_bench_model("ours", settings)
    mixed = build_bench_model("ours", BenchSettings.quick_settings(precision=policy))
    mixed.set_weights(ref.get_weights())
    x = tf.round(tf.random.stateless_uniform((1, 3, 16, 20, 3), seed=(9, 9), maxval=255.0))
    got = mixed(x, training=False)
    assert got.dtype == tf.float32
    assert mixed.upscaler.conv.compute_dtype == policy.split("_")[1]
    err = np.abs(got.numpy() - ref(x, training=False).numpy()).max()
    assert 0 < err <= MIXED_PRECISION_TOLERANCE[policy]


def test_long_attention_in_float16_keeps_logits_beyond_float16s_range():
    """eq. 10 has no 1/sqrt(d) scaling, so logits can pass float16's largest value (65504): the
    float16 block computes them and the softmax in float32 and stays finite, and with ordinary
    logits it stays within the harness' float16 tolerance of float32 (float32 unchanged)."""
    from tests.layer_test_helper import PRECISION_TOLERANCE

    x = tf.constant(np.random.default_rng(12).normal(size=(1, 2, 8, 8, C)), tf.float32)
    ref = LongAttention(C, max_attention_elements=64)
    ref(x)
    half = LongAttention(C, max_attention_elements=64, dtype="mixed_float16")
    half(x)
    half.set_weights(ref.get_weights())
    close = np.abs(tf.cast(half(x), tf.float32).numpy() - ref(x).numpy()).max()
    assert close <= PRECISION_TOLERANCE["mixed_float16"] * max(1.0, np.abs(ref(x).numpy()).max())
    for layer in (ref, half):  # logits of order 1e5
        for dense in (layer.theta, layer.phi):
            dense.kernel.assign(dense.kernel * 150.0)
    u = half._embed(tf.cast(x, tf.float16))
    q = tf.reshape(half.theta(u), (1, -1, C // 2))
    k = tf.reshape(half.phi(u), (1, -1, C // 2))
    naive = tf.matmul(q, k, transpose_b=True)  # float16 logits overflow
    assert not np.all(np.isfinite(naive.numpy()))
    out = half(x)
    assert out.dtype == tf.float16 and np.all(np.isfinite(out.numpy()))
    assert np.all(np.isfinite(ref(x).numpy()))
