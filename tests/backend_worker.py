"""Runs the network under the Keras backend of ``KERAS_BACKEND`` (JAX, PyTorch) in its own
process, for ``tests/test_backends.py``: ``python tests/backend_worker.py IN_DIR OUT_DIR``.

Reads ``IN_DIR/clip.npy`` (frames for ``ours_cpu``) and ``IN_DIR/tiny_input.npy``; writes into
OUT_DIR:
- ``ours_cpu_call.npy``, ``ours_cpu_predict.npy``: the shipped ``ours_cpu.keras`` loaded with plain
  ``keras.saving.load_model``, called eagerly and through ``predict`` (compiled by the backend);
- ``tiny.keras`` and ``tiny_output.npy``: a tiny ``ours`` built and saved under this backend;
- ``attention.npz``: chunked vs unchunked long attention and their gradients (the backend's own
  autodiff through the custom chunked backward);
- ``report.json``: the backend, the array type of the outputs, whether TensorFlow was imported,
  the fit step's losses and how many weights it moved, the sampled path's spread.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# The tiny network of these checks: every kind of block, variance heads, a chunked long attention.
TINY = {"filters": 8, "num_layers": 5, "seq_len": 2, "max_attention_elements": 64}
FIT_LEARNING_RATE = 1e-6


def attention_grads(fn, q, k, v, w):
    """Gradients of sum(w * fn(q, k, v)) with respect to q, k, v, by the backend's autodiff."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.grad(lambda a, b, c: (w * fn(a, b, c)).sum(), argnums=(0, 1, 2))(q, k, v)
    if backend == "torch":
        import torch

        ts = [torch.tensor(t, requires_grad=True) for t in (q, k, v)]
        (torch.tensor(w) * fn(*ts)).sum().backward()
        return [t.grad for t in ts]
    raise SystemExit(f"no gradient recipe for backend {backend}")


def main(in_dir, out_dir):
    import keras
    from keras import ops

    import vsr_latent.models  # noqa: F401  (registers the layers)
    from vsr_latent.layers import softmax_attention
    from vsr_latent.models import build_model
    from vsr_latent.pretrained import pretrained_path

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    report = {"backend": keras.backend.backend(), "seconds": {}}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        report["seconds"][name] = round(now - clock[0], 2)
        clock[0] = now

    model = keras.saving.load_model(pretrained_path("ours_cpu"), compile=False)
    clip = np.load(in_dir / "clip.npy")
    eager = model(clip)
    report["output_type"] = f"{type(eager).__module__}.{type(eager).__name__}"
    np.save(out_dir / "ours_cpu_call.npy", ops.convert_to_numpy(eager))
    np.save(out_dir / "ours_cpu_predict.npy", model.predict(clip, verbose=0))
    report["tensorflow_imported"] = "tensorflow" in sys.modules  # by the network: it must not be
    lap("ours_cpu")

    keras.utils.set_random_seed(0)
    tiny = build_model("ours", **TINY)
    x = np.load(in_dir / "tiny_input.npy")
    np.save(out_dir / "tiny_output.npy", ops.convert_to_numpy(tiny(x)))
    tiny.save(out_dir / "tiny.keras")
    sampled = [ops.convert_to_numpy(tiny(x, sampling=True)) for _ in range(2)]
    report["sampled_spread"] = float(np.abs(sampled[0] - sampled[1]).max())
    lap("tiny")

    # Two training steps with Keras' own fit (compiled by the backend), from the saved weights;
    # the test repeats them under TensorFlow.
    target = np.load(in_dir / "tiny_target.npy")
    before = [np.array(w) for w in tiny.get_weights()]
    tiny.compile(optimizer=keras.optimizers.SGD(FIT_LEARNING_RATE), loss="mse")
    history = tiny.fit(x, target, batch_size=len(x), epochs=2, shuffle=False, verbose=0)
    report["fit_losses"] = [float(v) for v in history.history["loss"]]
    report["weights_moved"] = sum(
        not np.array_equal(b, a) for b, a in zip(before, tiny.get_weights()))
    report["weights"] = len(before)
    np.savez(out_dir / "tiny_fitted.npz", *tiny.get_weights())
    lap("fit")

    rng = np.random.default_rng(11)
    q, k = rng.normal(size=(2, 23, 4)), rng.normal(size=(2, 9, 4))
    v, w = rng.normal(size=(2, 9, 3)), rng.normal(size=(2, 23, 3))
    q, k, v, w = (a.astype(np.float32) for a in (q, k, v, w))
    results = {}
    for budget in (None, 40):
        fn = lambda a, b, c, budget=budget: softmax_attention(a, b, c, max_elements=budget)  # noqa: E731
        results[f"out_{budget}"] = ops.convert_to_numpy(fn(q, k, v))
        for name, g in zip("qkv", attention_grads(fn, q, k, v, w)):
            results[f"d{name}_{budget}"] = ops.convert_to_numpy(g)
    np.savez(out_dir / "attention.npz", **results)
    lap("attention")
    (out_dir / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(*sys.argv[1:3])
