"""One ``.keras`` file, any Keras backend: the network runs under JAX (and PyTorch where it is
installed) as under TensorFlow.

Each backend runs in its own process (``tests/backend_worker.py`` with ``KERAS_BACKEND`` set: a
Keras backend is chosen once per process); this process (TensorFlow) computes the references:
- the shipped ``ours_cpu.keras``, loaded with plain ``keras.saving.load_model``, returns the
  backend's arrays and TensorFlow's frames to at least ``MIN_PSNR_DB`` through ``predict``
  (compiled by the backend) and through an eager call;
- a tiny ``ours`` saved under the backend loads here and computes what it computed there;
- two steps of Keras' ``fit`` under the backend give TensorFlow's losses and weights;
- the chunked long attention is exact there too, and so are its gradients (the backend's autodiff
  through the custom chunked backward).

Cost: about 100 s for JAX on a 2-core CPU (most of it compiling), so ``slow``. Install: the
``jax`` extra (``pip install -e ".[jax]"``); the PyTorch case runs where ``torch`` imports.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vsr_latent.models  # noqa: F401  (registers the network's classes for loading)

REPO = Path(__file__).resolve().parent.parent
WORKER = REPO / "tests" / "backend_worker.py"
sys.path.insert(0, str(REPO / "tests"))
from backend_worker import FIT_LEARNING_RATE, TINY  # noqa: E402

# The issue's bar for "the same frames": PSNR between two backends' outputs on [0, 255].
MIN_PSNR_DB = 60.0

pytestmark = pytest.mark.slow


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module", params=["jax", "torch"])
def backend_run(request, tmp_path_factory):
    backend = request.param
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -e \".[{backend}]\")")
    tmp = tmp_path_factory.mktemp(f"backend_{backend}")
    in_dir, out_dir = tmp / "in", tmp / "out"
    in_dir.mkdir()
    out_dir.mkdir()
    rng = np.random.default_rng(0)
    inputs = {
        "clip": rng.uniform(0, 255, (1, 3, 24, 28, 3)),
        "tiny_input": rng.uniform(0, 255, (2, 2, 12, 12, 3)),
        "tiny_target": rng.uniform(0, 255, (2, 2, 48, 48, 3)),
    }
    for name, value in inputs.items():
        np.save(in_dir / f"{name}.npy", value.astype(np.float32))
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, str(WORKER), str(in_dir), str(out_dir)], env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, f"{backend} worker failed:\n{proc.stderr[-4000:]}"
    report = json.loads((out_dir / "report.json").read_text())
    assert report["backend"] == backend
    return backend, in_dir, out_dir, report


def test_ours_cpu_gives_tensorflows_frames_as_the_backends_arrays(backend_run):
    import keras

    from vsr_latent.pretrained import pretrained_path

    backend, in_dir, out_dir, report = backend_run
    assert report["output_type"].startswith({"jax": "jax", "torch": "torch"}[backend]), report
    assert not report["tensorflow_imported"], "the network pulled TensorFlow in"
    clip = np.load(in_dir / "clip.npy")
    reference = keras.saving.load_model(pretrained_path("ours_cpu"), compile=False)(clip).numpy()
    for name in ("ours_cpu_predict", "ours_cpu_call"):
        got = np.load(out_dir / f"{name}.npy")
        assert got.shape == reference.shape
        assert psnr(got, reference) >= MIN_PSNR_DB, (name, psnr(got, reference))


def test_a_file_saved_under_the_backend_loads_under_tensorflow(backend_run):
    import keras

    _, in_dir, out_dir, report = backend_run
    model = keras.saving.load_model(out_dir / "tiny.keras")
    x = np.load(in_dir / "tiny_input.npy")
    there = np.load(out_dir / "tiny_output.npy")
    assert psnr(model(x).numpy(), there) >= MIN_PSNR_DB
    # The sampled path draws there too.
    assert report["sampled_spread"] > 1e-4


def test_fit_steps_under_the_backend_match_tensorflows(backend_run):
    import keras

    _, in_dir, out_dir, report = backend_run
    model = keras.saving.load_model(out_dir / "tiny.keras")
    assert model.config.max_attention_elements == TINY["max_attention_elements"]
    x, target = np.load(in_dir / "tiny_input.npy"), np.load(in_dir / "tiny_target.npy")
    before = model.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(FIT_LEARNING_RATE), loss="mse")
    history = model.fit(x, target, batch_size=len(x), epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(report["fit_losses"], history.history["loss"], rtol=1e-4)
    assert report["fit_losses"][1] < report["fit_losses"][0]
    fitted = np.load(out_dir / "tiny_fitted.npz")
    there = [fitted[f"arr_{i}"] for i in range(len(fitted.files))]
    here = model.get_weights()
    moved = 0
    for b, h, t in zip(before, here, there):
        np.testing.assert_allclose(t, h, rtol=1e-4, atol=1e-7)
        moved += not np.array_equal(b, t)
    # Everything but the variance heads (no gradient on the mean path) gets a step.
    assert moved >= report["weights"] - 2 * len(model.attention) - 2, moved


def test_chunked_attention_and_its_gradients_are_exact_under_the_backend(backend_run):
    _, _, out_dir, _ = backend_run
    got = np.load(out_dir / "attention.npz")
    for name in ("out", "dq", "dk", "dv"):
        np.testing.assert_allclose(got[f"{name}_40"], got[f"{name}_None"], rtol=1e-5, atol=1e-5)
    assert np.abs(got["dk_None"]).max() > 1e-3  # a real gradient, not zeros
