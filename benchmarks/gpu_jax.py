"""The network on a GPU under JAX (Keras' JAX backend): Table 5's speed, ours_cpu's frames, memory.

Two steps, because the lent GPU machine has JAX but no TensorFlow:

``prepare`` (here, under TensorFlow): writes ``.gpu_jax/`` (git-ignored, carried to the GPU
machine): the LR frames of the first L = 7 frames of one Vid4 sequence (``calendar``) and
``ours_cpu``'s TensorFlow output on them (float16: its own rounding is far below the 50 dB
check). The wheels of Keras and the packages it needs that the GPU image lacks go in ``.whl/``,
downloaded by hand with the ``pip download`` line at the top of ``benchmarks/gpu_jax.sh``.

``run`` (there, ``KERAS_BACKEND=jax``): writes one JSON with
- ``ours`` (registry architecture, seeded fresh weights: speed does not depend on them) on one
  L = 7 clip of Vid4 size (144 x 180 LR) in float32 and mixed_bfloat16: seconds per frame of the
  JAX-compiled ``predict_on_batch`` (median of ``--repeats`` after a compiling call), beside the
  paper's 0.063 s on a GTX 1080 Ti (Table 5);
- ``ours_cpu`` on the prepared clip: PSNR of its JAX output against TensorFlow's CPU output
  (at least ``MIN_PSNR_DB``);
- the peak device memory of ``ours`` on a 720p output (180 x 320 LR, L = 7), from JAX's
  ``memory_stats`` (None on a CPU, which reports none).
With ``--tiny`` every size shrinks (a CPU dry run in ``tests/test_gpu_jax.py``).

Usage: ``python benchmarks/gpu_jax.py prepare [--tiny] [--dir .gpu_jax]``;
``KERAS_BACKEND=jax python benchmarks/gpu_jax.py run [--tiny] [--dir .gpu_jax] --out OUT.json``
(``benchmarks/gpu_jax.sh`` does the second with the carried wheels).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PAPER_SECONDS_PER_FRAME = 0.063  # Table 5, ours on a GTX 1080 Ti
MIN_PSNR_DB = 50.0
SEQ_LEN = 7
VID4_LR = (144, 180)
HD_LR = (180, 320)  # 720p output at x4
SEQUENCE = "calendar"
TINY = {"vid4_lr": (12, 16), "hd_lr": (16, 20), "model": {"filters": 8, "num_layers": 5}}


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def prepare(out_dir, tiny):
    """Under TensorFlow: the clip, ours_cpu's TF output on it."""
    import keras

    import vsr_latent.models  # noqa: F401
    from vsr_latent.pretrained import pretrained_path

    out_dir.mkdir(parents=True, exist_ok=True)
    if tiny:
        rng = np.random.default_rng(0)
        lr = np.round(rng.uniform(0, 255, (SEQ_LEN, *TINY["vid4_lr"], 3))).astype(np.uint8)
    else:
        from vsr_latent.evaluation.datasets import dataset_sequences

        lr = {name: lr for name, lr, _ in dataset_sequences("vid4")}[SEQUENCE][:SEQ_LEN]
    model = keras.saving.load_model(pretrained_path("ours_cpu"), compile=False)
    ref = model.predict_on_batch(lr[None].astype(np.float32))[0]
    np.savez(out_dir / "ours_cpu_reference.npz", lr=lr, sr=ref.astype(np.float16),
             sequence="tiny" if tiny else SEQUENCE)


def _time(fn, x, repeats):
    import jax

    jax.block_until_ready(fn(x))  # compiles
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(x))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(in_dir, out, tiny, repeats):
    import jax
    import keras

    from vsr_latent.models import build_model
    from vsr_latent.precision import dtype_policy
    from vsr_latent.pretrained import pretrained_path

    assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"
    device = jax.devices()[0]
    overrides = TINY["model"] if tiny else {}
    vid4_lr, hd_lr = (TINY["vid4_lr"], TINY["hd_lr"]) if tiny else (VID4_LR, HD_LR)
    rng = np.random.default_rng(0)
    result = {
        "device": f"{device.platform}: {getattr(device, 'device_kind', '')}",
        "host": platform.node(), "jax": jax.__version__, "keras": keras.__version__,
        "tiny": tiny, "paper_seconds_per_frame_1080ti": PAPER_SECONDS_PER_FRAME, "speed": {},
    }
    clip = rng.uniform(0, 255, (1, SEQ_LEN, *vid4_lr, 3)).astype(np.float32)
    for precision in ("float32", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        with dtype_policy(precision):
            model = build_model("ours", **overrides)
        seconds = _time(model.predict_on_batch, clip, repeats)
        result["speed"][precision] = {"lr_size": list(vid4_lr), "frames": SEQ_LEN,
                                      "seconds_per_clip": seconds,
                                      "seconds_per_frame": seconds / SEQ_LEN}

    data = np.load(in_dir / "ours_cpu_reference.npz")
    model = keras.saving.load_model(pretrained_path("ours_cpu"), compile=False)
    sr = model.predict_on_batch(data["lr"][None].astype(np.float32))[0]
    result["ours_cpu"] = {"sequence": str(data["sequence"]), "frames": int(len(data["lr"])),
                          "psnr_db_vs_tensorflow_cpu": psnr(sr, data["sr"].astype(np.float32)),
                          "min_psnr_db": MIN_PSNR_DB}

    keras.utils.set_random_seed(0)
    model = build_model("ours", **overrides)
    hd = rng.uniform(0, 255, (1, SEQ_LEN, *hd_lr, 3)).astype(np.float32)
    jax.block_until_ready(model.predict_on_batch(hd))
    stats = device.memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    result["memory_720p"] = {"lr_size": list(hd_lr), "frames": SEQ_LEN,
                             "peak_bytes_in_use": peak,
                             "peak_gib": None if peak is None else peak / 2**30}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("prepare", "run"))
    parser.add_argument("--dir", type=Path, default=REPO / ".gpu_jax")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "measured" / "gpu_jax.json"))
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (a CPU dry run)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.step == "prepare":
        return prepare(args.dir, args.tiny)
    return run(args.dir, args.out, args.tiny, args.repeats)


if __name__ == "__main__":
    sys.exit(main())
