"""Benchmark tooling: peak-memory and activation-capture helpers, and the benchmark command's
JSON and errors. (The FLOP counter is tested in test_flops.py; the faster formulations it times,
XLA and mixed precision, in test_layers.py.)"""

import json
import sys

import numpy as np
import pytest
import tensorflow as tf

# ---- measurement helpers ---------------------------------------------------------------------


def test_child_max_rss_sees_child_allocation():
    from vsr_latent.perf.memory import run_child_max_rss

    code = "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())"
    rc, rss, _, out = run_child_max_rss([sys.executable, "-c", code], timeout=60)
    small_rc, small_rss, _, _ = run_child_max_rss([sys.executable, "-c", "pass"], timeout=60)
    assert rc == 0 and small_rc == 0, out
    assert rss - small_rss > 280 * 2**20


def test_peak_rss_counts_memory_touched_inside():
    from vsr_latent.perf.memory import PeakRss

    size = 200 * 2**20
    with PeakRss() as meter:
        block = np.ones(size // 8)  # written, so resident
    assert 0.9 * size < meter.peak_delta < 1.5 * size
    del block
    with PeakRss() as idle:
        pass
    assert idle.peak_delta < 0.1 * size


def test_captured_activations_are_the_layer_inputs():
    import keras

    from vsr_latent.models import build_model
    from vsr_latent.perf.components import capture_layer_inputs

    model = build_model("res16", filters=4, num_layers=2)
    x = tf.random.stateless_uniform((1, 2, 6, 7, 3), seed=(1, 1), maxval=255.0)
    pairs = capture_layer_inputs(model, x, [(keras.layers.Conv3D, lambda layer: True)])
    assert [layer.path for layer, _ in pairs] == [
        "res16/stem", "res16/residual_0/conv", "res16/residual_1/conv", "res16/upscaler/conv"]
    np.testing.assert_allclose(pairs[0][1].numpy(), x.numpy() / 255.0, rtol=1e-6)
    stem_out = tf.nn.leaky_relu(model.stem(x / 255.0), alpha=model.config.leaky_slope)
    np.testing.assert_allclose(pairs[1][1].numpy(), stem_out.numpy(), rtol=1e-5, atol=1e-6)


# ---- the command -----------------------------------------------------------------------------


def test_benchmark_quick_json_runs_and_parses(run_cli):
    from vsr_latent.perf.flops import bicubic_flops, count_flops
    from vsr_latent.perf.inference_benchmark import BenchSettings, build_bench_model

    proc = run_cli("benchmark", "--quick", "--json", timeout=300, returncode=0)
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
        assert row["memory_method"]
        assert row["fraction_of_matmul_peak_cpu_time"] == pytest.approx(
            row["achieved_flops_per_cpu_s"] / row["matmul_flops_per_cpu_s"])
    for row in rows[:2]:
        assert row["flops_per_frame"] == pytest.approx(expected)
        share = row["long_attention"]
        assert share["blocks"] == 1 and share["share"] > 0
        # The first call allocates at least the output clip (float32) it returns.
        assert row["peak_memory_bytes"] >= 4 * np.prod(row["output_shape"]), row
    assert rows[2]["flops_per_frame"] == pytest.approx(bicubic_flops(shape) / shape[1])


def test_benchmark_command_errors_are_one_line(run_cli):
    proc = run_cli("benchmark", "--backend", "nope", timeout=120, returncode=2)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("vsr-latent benchmark: error: unknown backend(s) ['nope']")
    proc = run_cli("benchmark", "--repeats", "0", timeout=120, returncode=2)
    assert len(proc.stderr.splitlines()) == 1 and "--repeats must be >= 1" in proc.stderr
