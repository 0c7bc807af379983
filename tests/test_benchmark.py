"""Benchmark tooling: FLOP counter against hand counts and TensorFlow's profiler, the benchmark
command's JSON, and the faster formulations against their reference within tolerance."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from vsr_latent.layers.bicubic import BICUBIC_TOLERANCE, bicubic_upsample


# ---- faster formulations equal the reference -------------------------------------------------


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


# ---- FLOP counter ----------------------------------------------------------------------------


def test_flops_of_one_conv3d_by_hand():
    import keras

    from vsr_latent.perf.flops import count_flops

    conv = keras.layers.Conv3D(4, 3, padding="same")
    conv.build((None, None, None, None, 3))
    report = count_flops(conv, (1, 2, 5, 6, 3))
    # 2 FLOPs per multiply-add, 60 output positions x 4 channels, each 27 taps x 3 channels.
    assert report.total == 2 * (2 * 5 * 6) * 4 * (27 * 3) == 38880
    assert [e.kind for e in report.layers] == ["conv"]
    assert report.layers[0].output_shape == (1, 2, 5, 6, 4)


@pytest.mark.parametrize("budget", [None, 64])
def test_flops_of_long_attention_block_by_hand(budget):
    from vsr_latent.perf.flops import count_flops
    from vsr_latent.layers import LongAttention

    c, ci, frames, h, w = 8, 4, 2, 8, 12
    block = LongAttention(c, inner_filters=ci, max_attention_elements=budget)
    block.build((None, None, None, None, c))
    report = count_flops(block, (1, frames, h, w, c))
    embed = 2 * (frames * h * w) * c * 27 * c              # Conv3D k3, c -> c, full resolution
    pooled = frames * (h // 2) * (w // 2)                  # query positions after pooling
    linear = 3 * 2 * pooled * c * ci                        # theta, phi, g (1x1)
    keys = frames * (h // 4) * (w // 4)                    # keys/values pooled once more
    attention = 2 * pooled * keys * ci + 2 * pooled * keys * ci   # Q K^T, then weights V
    restore = 2 * pooled * 16 * ci * c                      # transposed conv k4 s2, ci -> c
    assert report.total == embed + linear + attention + restore == 731136
    assert report.by_kind()["attention"] == attention
    assert report.softmax_elements == pooled * keys
    # Chunking the queries changes the schedule, not the work.


def test_flops_equal_tensorflow_profiler_on_tiny_model():
    from vsr_latent.perf.flops import count_flops, profiler_flops
    from vsr_latent.models import build_model

    # Unchunked attention: the profiler counts ops inside a tf.map_fn loop body only once.
    model = build_model("ours", filters=8, num_layers=5, max_attention_elements=None)
    shape = (1, 3, 16, 20, 3)
    report = count_flops(model, shape)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec(shape, tf.float32))
    assert profiler_flops(fn) == report.total
    kinds = report.by_kind()
    assert set(kinds) == {"conv", "conv_transpose", "dense", "attention"}
    assert all(v > 0 for v in kinds.values())


def test_bicubic_flops_formula():
    from vsr_latent.perf.flops import bicubic_flops

    # One 2x3 RGB frame to 8x12: rows (8x2 weights on 3 columns x 3 channels), then columns.
    assert bicubic_flops((1, 1, 2, 3, 3)) == 2 * 8 * 2 * 3 * 3 + 2 * 8 * 12 * 3 * 3


# ---- measurement helpers ---------------------------------------------------------------------


def test_child_max_rss_sees_child_allocation():
    from vsr_latent.perf.memory import run_child_max_rss

    code = "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())"
    rc, rss, _, out = run_child_max_rss([sys.executable, "-c", code], timeout=60)
    small_rc, small_rss, _, _ = run_child_max_rss([sys.executable, "-c", "pass"], timeout=60)
    assert rc == 0 and small_rc == 0, out
    assert rss - small_rss > 280 * 2**20


def test_captured_activations_are_the_layer_inputs():
    import keras

    from vsr_latent.perf.components import capture_layer_inputs
    from vsr_latent.models import build_model

    model = build_model("res16", filters=4, num_layers=2)
    x = tf.random.stateless_uniform((1, 2, 6, 7, 3), seed=(1, 1), maxval=255.0)
    pairs = capture_layer_inputs(model, x, [(keras.layers.Conv3D, lambda layer: True)])
    assert [layer.path for layer, _ in pairs] == [
        "res16/stem", "res16/residual_0/conv", "res16/residual_1/conv", "res16/upscaler/conv"]
    np.testing.assert_allclose(pairs[0][1].numpy(), x.numpy() / 255.0, rtol=1e-6)
    stem_out = tf.nn.leaky_relu(model.stem(x / 255.0), alpha=model.config.leaky_slope)
    np.testing.assert_allclose(pairs[1][1].numpy(), stem_out.numpy(), rtol=1e-5, atol=1e-6)


# ---- the command -----------------------------------------------------------------------------


def test_benchmark_quick_json_runs_and_parses():
    from vsr_latent.perf.flops import bicubic_flops, count_flops
    from vsr_latent.perf.inference_benchmark import BenchSettings, build_bench_model

    proc = subprocess.run([sys.executable, "-m", "vsr_latent", "benchmark", "--quick", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert [(r["model"], r["xla"]) for r in rows] == [
        ("ours", False), ("ours", True), ("bicubic", None)]
    settings = BenchSettings.quick_settings()
    shape = tuple(rows[0]["input_shape"])
    expected = count_flops(build_bench_model("ours", settings), shape).total / shape[1]
    for row in rows:
        assert row["error"] is None
        assert row["seconds_per_frame"] == pytest.approx(row["seconds_per_clip"] / shape[1])
        assert row["achieved_flops_per_s"] == pytest.approx(
            row["flops_per_frame"] * shape[1] / row["seconds_per_clip"])
        assert row["fraction_of_matmul_peak"] == pytest.approx(
            row["achieved_flops_per_s"] / row["matmul_peak_flops_per_s"])
        assert row["memory_method"] and row["peak_memory_bytes"] >= 0
        assert row["fraction_of_matmul_peak_cpu_time"] == pytest.approx(
            row["achieved_flops_per_cpu_s"] / row["matmul_flops_per_cpu_s"])
    for row in rows[:2]:
        assert row["flops_per_frame"] == pytest.approx(expected)
        share = row["long_attention"]
        assert share["blocks"] == 1 and share["share"] > 0
    assert rows[2]["flops_per_frame"] == pytest.approx(bicubic_flops(shape) / shape[1])


def test_variational_head_stored_mode_matches_explicit_paths():
    """The stored-mode path draws eps only when the flag is set: flag 0 gives exactly mu,
    flag 1 gives mu + eps * sigma with eps ~ N(0, 1)."""
    from vsr_latent.layers.variational import VariationalHead

    head = VariationalHead(4)
    x = tf.random.stateless_normal((2, 3, 5, 6, 4), seed=(2, 3))
    head.build(x.shape)
    head.sigma_dense.bias.assign(tf.fill([4], 0.5))
    z, mu, sigma = head(x)
    np.testing.assert_array_equal(z.numpy(), mu.numpy())
    fn = tf.function(lambda t: head(t))
    np.testing.assert_array_equal(fn(x)[0].numpy(), mu.numpy())
    head.sampling = True
    z, mu, sigma = fn(x)  # the traced function follows the flag
    eps = ((z - mu) / sigma).numpy()
    assert abs(eps.mean()) < 0.15 and abs(eps.std() - 1.0) < 0.15


def test_benchmark_command_errors_are_one_line():
    proc = subprocess.run([sys.executable, "-m", "vsr_latent", "benchmark", "--backend", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "vsr-latent benchmark: error: unknown backend(s) ['nope']")
    proc = subprocess.run([sys.executable, "-m", "vsr_latent", "benchmark", "--repeats", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--repeats must be >= 1" in proc.stderr
