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


# ---- the training benchmark (vsr-latent benchmark --train) ------------------------------------


def test_fixed_batch_gives_each_replica_its_half():
    """The two-replica samples/s count: a distributed fixed batch splits the global batch (a
    plain tensor passed to strategy.run would give both replicas all of it)."""
    from vsr_latent.perf.training_benchmark import fixed_batch_dataset

    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < 2:
        pytest.skip("needs the two logical CPU devices that conftest sets up")
    strategy = tf.distribute.MirroredStrategy([d.name for d in cpus[:2]])
    lr = tf.reshape(tf.range(4 * 3, dtype=tf.float32), (4, 3))
    hr = lr * 10
    it = iter(fixed_batch_dataset(strategy, (lr, hr)))
    for _ in range(2):  # repeated
        got_lr, got_hr = next(it)
        parts = strategy.experimental_local_results(got_lr)
        assert [p.shape[0] for p in parts] == [2, 2]
        np.testing.assert_array_equal(np.concatenate([p.numpy() for p in parts]), lr.numpy())
        np.testing.assert_array_equal(
            np.concatenate([p.numpy() for p in strategy.experimental_local_results(got_hr)]),
            hr.numpy())
    seen = strategy.run(lambda x: tf.shape(x)[0], args=(got_lr,))
    assert int(strategy.reduce("SUM", seen, axis=None)) == 4  # every sample once


def test_projection_against_hand_computed_hours():
    from vsr_latent.perf.training_benchmark import Projection, tables

    p = Projection(config="ours", table="ours", steps={"stage1": 200_000, "stage2": 50_000},
                   seconds_per_step={"stage1": 0.1, "stage2": 0.2},
                   pipeline_seconds_per_step=0.15, measured=True)
    # Stage 1 waits for the pipeline (0.15 s), stage 2 for the step (0.2 s).
    assert p.hours == pytest.approx((200_000 * 0.15 + 50_000 * 0.2) / 3600)
    assert p.limit == "step"
    slow = Projection("x", "t", {"stage1": 10, "stage2": 0}, {"stage1": 0.1, "stage2": 0.2}, 0.3,
                      False)
    assert slow.limit == "pipeline" and slow.hours == pytest.approx(3 / 3600)
    t = tables()
    assert t["table1"] == ["table1_res16", "table1_satn10", "table1_latn10"]
    assert t["ours"] == ["ours"] and len(t["figure6"]) == 18


@pytest.mark.slow  # two traced training steps and the FLOPs of four full-size models: ~60 s
def test_benchmark_train_quick_json(run_cli, tmp_path):
    out = tmp_path / "train.json"
    done = run_cli("benchmark", "--train", "--quick", "--json", "--set", "model.seq_len=3",
                   "--output", out, returncode=0)
    result = json.loads(done.stdout)
    assert json.loads(out.read_text()) == result
    assert result["timed_config"] == "ours" and result["budget"] == "tiny"
    assert set(result["step"]) == {"stage1", "stage2"}
    for row in result["step"].values():
        assert row["samples_per_s"] == pytest.approx(result["batch"] / row["seconds_per_step"])
    assert result["pipeline_samples_per_s"] > 0
    rows = {p["config"]: p for p in result["projections"]}
    assert set(rows) == {"table1_res16", "table1_satn10", "table1_latn10", "ours"}
    ours = rows["ours"]
    assert ours["steps"] == {"stage1": 200_000, "stage2": 50_000} and not ours["measured"]
    want = sum(n * max(ours["seconds_per_step"][s], ours["pipeline_seconds_per_step"])
               for s, n in ours["steps"].items()) / 3600
    assert ours["hours"] == pytest.approx(want)
    assert ours["limit"] in ("step", "pipeline")


@pytest.mark.slow  # four traced training steps, two models and a SavedModel export: 1-3 min
def test_gpu_check_dry_run_writes_its_json(tmp_path):
    import os
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    out = tmp_path / "gpu_check"
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHON": sys.executable,
           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(["bash", str(repo / "benchmarks" / "gpu_check.sh"), str(out),
                           "--dry-run"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = {p.name for p in out.iterdir()}
    assert names == {"train_float32.json", "train_mixed_float16.json", "inference.json",
                     "saved_model.json", "summary.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dry_run"] and summary["strategy"] == "MirroredStrategy"
    assert summary["replicas"] == 2
    for precision in ("float32", "mixed_float16"):
        train = json.loads((out / f"train_{precision}.json").read_text())
        assert train["replicas"] == 2 and set(train["stages"]) == {"stage1", "stage2"}
        for row in train["stages"].values():
            assert row["finite"] and row["seconds_per_step"] > 0
            assert row["samples_per_s"] == pytest.approx(train["batch"] / row["seconds_per_step"])
        scale = train["stages"]["stage1"]["loss_scale"]
        assert scale == (2.0**15 if precision == "mixed_float16" else None)
    rows = json.loads((out / "inference.json").read_text())["rows"]
    assert [r["precision"] for r in rows] == ["float32", "mixed_float16"]
    assert all(r["finite"] and r["table5_seconds_per_frame"] == 0.063 for r in rows)
    for r in rows:
        assert r["seconds_per_frame"] == pytest.approx(r["seconds_per_clip"] / 3)
    saved = json.loads((out / "saved_model.json").read_text())
    assert "serving_default" in saved["signatures"] and saved["max_abs_difference"] < 1e-2
    assert saved["output_shape"] == [1, 3, 64, 80, 3]
