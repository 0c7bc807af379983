"""Peak memory and time of one long-attention block, chunked vs unchunked, at Vid4 size.

Input: one clip of L = 7 frames of 144 x 180 LR pixels with 64 channels (Vid4 calendar/city size
after 4x downsampling), i.e. 45,360 query and 11,340 key positions: the full attention matrix is
45,360 x 11,340 float32 = 2.06 GB. Each variant runs in its own subprocess (same weights, seeded),
inside a ``tf.function`` with dynamic shapes; peak memory is the subprocess's ``ru_maxrss`` (peak
resident set size, CPU) minus its resident size just before the first call (TensorFlow and the
layer already loaded), time is the median of ``--repeats`` calls after one warm-up call. Outputs of
both variants are compared. Printed as ratios chunked / unchunked.

With ``--grad`` each call is a forward and backward pass (gradients of a weighted sum of the
output with respect to the input and the layer's weights), as in training.

Usage: python benchmarks/attention_memory.py [--budget ELEMENTS] [--repeats N] [--grad]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SHAPE = (1, 7, 144, 180, 64)


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _child(variant, budget, repeats, out_path, grad=False):
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from vsr_latent.layers import LongAttention

    keras.utils.set_random_seed(0)
    x = tf.constant(np.random.default_rng(0).normal(size=SHAPE).astype("float32"))
    layer = LongAttention(SHAPE[-1], max_attention_elements=budget if variant == "chunked" else None)
    layer.build(SHAPE)
    weight = tf.constant(np.random.default_rng(1).normal(size=SHAPE).astype("float32"))

    def forward_backward(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            loss = tf.reduce_sum(weight * layer(t))
        grads = tape.gradient(loss, [t] + layer.trainable_weights)
        return tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)

    fn = tf.function(forward_backward if grad else (lambda t: layer(t)),
                     input_signature=[tf.TensorSpec([None] * 4 + [SHAPE[-1]])])
    fn.get_concrete_function()
    base = _rss_kib()
    y = fn(x).numpy()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    np.save(out_path, y)
    print(json.dumps({"variant": variant, "base_kib": base, "peak_kib": peak,
                      "seconds": sorted(times)[len(times) // 2]}))


def main(argv=None):
    from vsr_latent.layers import ATTENTION_BUDGET_ELEMENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=ATTENTION_BUDGET_ELEMENTS,
                        help="chunking budget in attention-matrix elements")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grad", action="store_true", help="time forward + backward passes")
    parser.add_argument("--child", choices=("chunked", "unchunked"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.budget, args.repeats, args.out, args.grad)

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("unchunked", "chunked"):
            out = os.path.join(tmp, f"{variant}.npy")
            proc = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--budget", str(args.budget),
                 "--repeats", str(args.repeats), "--out", out] + ["--grad"] * args.grad,
                check=True, capture_output=True, text=True)
            results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{variant:>9}: peak RSS {results[variant]['peak_kib'] / 2**20:.2f} GiB, "
                  f"above start {(results[variant]['peak_kib'] - results[variant]['base_kib']) / 2**20:.2f} GiB, "
                  f"median {results[variant]['seconds']:.2f} s")
        import numpy as np

        ref = np.load(os.path.join(tmp, "unchunked.npy"))
        diff = float(np.abs(np.load(os.path.join(tmp, "chunked.npy")) - ref).max())
        diff /= max(float(np.abs(ref).max()), 1e-30)
    c, u = results["chunked"], results["unchunked"]
    mem_ratio = (c["peak_kib"] - c["base_kib"]) / max(1, u["peak_kib"] - u["base_kib"])
    time_ratio = c["seconds"] / u["seconds"]
    print(f"{'forward + backward' if args.grad else 'forward'} pass, shape {SHAPE}, budget "
          f"{args.budget} elements, max |chunked - unchunked| / max |unchunked| = {diff:.1e}")
    print(f"peak memory ratio chunked/unchunked: {mem_ratio:.3f} (target <= 0.25)")
    print(f"peak RSS ratio (whole process):       {c['peak_kib'] / u['peak_kib']:.3f}")
    print(f"time ratio chunked/unchunked:         {time_ratio:.3f} (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
