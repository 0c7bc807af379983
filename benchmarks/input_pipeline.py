"""Input pipeline throughput vs the training step's consumption, in one process.

    python benchmarks/input_pipeline.py [--source builtin|ROOT] [--model ours] [--batch 16]

Measures, at the default training batch (``vsr_latent.configs.base.DEFAULT_BATCH_SIZE``, LR patch
``DEFAULT_LR_PATCH``, the model's L):

1. the tf.data training pipeline (``vsr_latent.data.pipelines.train_dataset``): samples/s over
   ``--batches`` batches after a warm-up, nothing else running;
2. the training step: forward + backward + Adam update on an L2 loss for
   ``vsr_latent.models.build_model(--model)`` (or ``--stand_in``: a 10-layer Conv3D network with a
   depth-to-space upscaler of comparable cost), fed one fixed batch so that the pipeline is not in
   the measurement; samples/s over ``--steps`` steps after a warm-up.

With ``--demand``, it also prints for named GPUs the samples/s a training step would consume,
computed from the model's FLOPs per sample (forward FLOPs counted from the layers,
``vsr_latent.perf.flops``, times ``TRAIN_FLOPS_PER_FORWARD`` = 3 for forward + backward) at
``--utilisation`` of the GPU's vendor peak (``GPU_PEAK_TFLOPS``), and how many CPU cores of this
machine's pipeline rate (samples/s over ``--cores``, default all) that demand needs.
``--threads N ...`` runs the pipeline on N CPUs of the machine (CPU affinity; N = 1: the rate
of one core).

``--source`` may be repeated (a PNG root and its raw conversion, say), ``--degradation`` and
``--threads`` take several values: every combination is timed in this one process, with the
process's peak RSS over each (reset between them), and ratios against the first source.

Prints both rates and their ratio; the target is a ratio >= 2 (the pipeline never starves the
step). Run it on the machine that trains: on a CPU-only machine the step is far slower than on a
GPU and the ratio is correspondingly larger.
"""

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def stand_in_model(seq_len, filters=64, layers=10, scale=4):
    """10 Conv3D layers (k3, LeakyReLU) and a depth-to-space x4 upscaler, about 1 M parameters."""
    import keras
    import tensorflow as tf

    def to_space(t):
        s = tf.shape(t)
        frames = tf.reshape(t, [-1, s[2], s[3], 3 * scale * scale])
        up = tf.nn.depth_to_space(frames, scale)
        return tf.reshape(up, [-1, seq_len, s[2] * scale, s[3] * scale, 3])

    x = inp = keras.Input((seq_len, None, None, 3))
    for _ in range(layers):
        x = keras.layers.Conv3D(filters, 3, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv3D(3 * scale * scale, 3, padding="same")(x)
    return keras.Model(inp, keras.layers.Lambda(to_space)(x))


# Vendor peak dense TFLOP/s: (float32, float16/bfloat16 tensor cores; None: no such unit).
GPU_PEAK_TFLOPS = {
    "GTX 1080 Ti": (11.3, None),
    "Tesla T4": (8.1, 65.0),
    "V100 SXM2": (15.7, 125.0),
    "A100 SXM": (19.5, 312.0),
    "H100 SXM": (67.0, 989.0),
}
TRAIN_FLOPS_PER_FORWARD = 3  # forward + backward (about twice the forward) per sample


def gpu_demand(flops_per_sample, utilisation, pipeline_per_core):
    """[{gpu, precision, samples_per_s, cores}] at ``utilisation`` of each GPU's peak."""
    rows = []
    for gpu, peaks in GPU_PEAK_TFLOPS.items():
        for precision, peak in zip(("float32", "float16"), peaks):
            if peak is None:
                continue
            demand = peak * 1e12 * utilisation / flops_per_sample
            rows.append({"gpu": gpu, "precision": precision, "peak_tflops": peak,
                         "samples_per_s": demand, "cores": demand / pipeline_per_core})
    return rows


def time_pipeline(ds, batches, warmup=3):
    it = iter(ds)
    for _ in range(warmup):
        lr, hr = next(it)
    t = time.perf_counter()
    n = 0
    for _ in range(batches):
        lr, hr = next(it)
        n += int(lr.shape[0])
    hr.numpy()
    return n / (time.perf_counter() - t), (lr, hr)


def time_step(model, lr, hr, steps, warmup=2):
    import keras
    import tensorflow as tf

    opt = keras.optimizers.Adam(1e-4, beta_1=0.9, beta_2=0.999, global_clipnorm=3.0)

    @tf.function(jit_compile=False)
    def step(lr, hr):
        with tf.GradientTape() as tape:
            sr = model(lr, training=True)
            loss = tf.reduce_mean(tf.square(sr - hr))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for _ in range(warmup):
        step(lr, hr).numpy()
    t = time.perf_counter()
    for _ in range(steps):
        loss = step(lr, hr)
    loss.numpy()
    return steps * int(lr.shape[0]) / (time.perf_counter() - t)


ALL_CPUS = os.sched_getaffinity(0)


def peak_rss_reset():
    """Resets the process's peak RSS (Linux: ``/proc/self/clear_refs``); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib():
    """The process's peak RSS since the last reset (``VmHWM``), MiB; None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def pipeline(source, args, seq_len, degradation):
    """The training pipeline on ``source`` (the cores are limited by affinity: `on_cores`)."""
    from vsr_latent.data.pipelines import train_dataset

    return train_dataset(source, seq_len=seq_len, lr_size=(args.lr_patch, args.lr_patch),
                       degradation=degradation, batch_size=args.batch, seed=0,
                       crops_per_window=args.crops_per_window)


def on_cores(threads):
    """Limits this process to ``threads`` CPUs (affinity), so the rate is that of so many cores.
    Not tf.data's private thread pool: with a pool of one thread, the raw roots' NumPy reader
    (``tf.numpy_function``) was seen to deadlock. Returns the cores granted (None: all)."""
    if not threads:
        os.sched_setaffinity(0, ALL_CPUS)
        return None
    cpus = sorted(ALL_CPUS)[:threads]
    os.sched_setaffinity(0, cpus)
    return len(cpus)


def root_description(source):
    if source == "builtin":
        return "builtin (in memory)"
    from vsr_latent.data.dataset_root import list_clips

    clips = list_clips(source, "train")
    formats = sorted({c.format for c in clips})
    frames = sum(len(c) for c in clips)
    disk = sum(f.stat().st_size for c in clips for f in c.dir.rglob("*") if f.is_file())
    size = clips[0].size
    return (f"{source}: {'/'.join(formats)}, {len(clips)} clips, {frames} frames of "
            f"{size[1]}x{size[0]}, {disk / 2**20:,.0f} MiB ({disk / frames / 2**20:.2f} MiB a frame)")


def main(argv=None):
    from vsr_latent.configs.base import DEFAULT_BATCH_SIZE, DEFAULT_LR_PATCH

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", action="append", default=None,
                   help="'builtin' or a dataset root; repeat it to compare roots in one run "
                        "(default builtin)")
    p.add_argument("--model", default="ours", help="registry model name (default ours)")
    p.add_argument("--stand_in", action="store_true", help="time a Conv3D stand-in model instead")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--lr_patch", type=int, default=DEFAULT_LR_PATCH)
    p.add_argument("--seq_len", type=int, default=None, help="default: the model's")
    p.add_argument("--degradation", nargs="+", default=["bi"], help="one or more (bi scipy bd)")
    p.add_argument("--crops_per_window", type=int, default=None,
                   help="samples a window (default: the pipeline's, 1 for raw roots)")
    p.add_argument("--batches", type=int, default=20, help="timed pipeline batches")
    p.add_argument("--steps", type=int, default=3, help="timed training steps (0: pipeline only)")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="numbers of CPU cores to time the pipeline on (1: one core's rate)")
    p.add_argument("--cores", type=int, default=None,
                   help="cores the pipeline rate is divided by (default: --threads or all)")
    p.add_argument("--demand", action="store_true", help="print named GPUs' demand (see above)")
    p.add_argument("--utilisation", type=float, default=0.3,
                   help="share of a GPU's peak a training step reaches (default 0.3)")
    args = p.parse_args(argv)
    sources = args.source or ["builtin"]

    import tensorflow as tf

    model, what = None, None
    if not args.stand_in and (args.steps > 0 or args.demand or args.seq_len is None):
        from vsr_latent.models import build_model

        model = build_model(args.model, seq_len=args.seq_len)
        what = f"build_model({args.model!r}), {model.count_params():,} parameters"
    seq_len = args.seq_len or (model.seq_len if model is not None else 7)
    if model is None and (args.steps > 0 or args.demand):
        model = stand_in_model(seq_len)
        what = f"stand-in Conv3D (10 layers x 64 filters), {model.count_params():,} parameters"

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPU cores, TF devices {sorted(set(devices))}")
    print(f"batch {args.batch} x L={seq_len} x {args.lr_patch}x{args.lr_patch} LR "
          f"({args.lr_patch * 4}x{args.lr_patch * 4} HR)")
    if what:
        print(f"model: {what}")
    for source in sources:
        print(f"source {root_description(source)}")
    print(f"{'source':40s} {'degr.':6s} {'threads':>7s} {'samples/s':>10s} {'per core':>9s} "
          f"{'peak RSS MiB':>12s}")
    rates = {}
    lr = hr = None
    for source in sources:
        for degradation in args.degradation:
            for threads in args.threads or [None]:
                granted = on_cores(threads)
                if threads and granted < threads:
                    print(f"{threads} cores asked, this machine has {granted}: skipped")
                    continue
                ds = pipeline(source, args, seq_len, degradation)
                peak_rss_reset()
                sps, (lr, hr) = time_pipeline(ds, args.batches)
                on_cores(None)
                cores = args.cores or threads or os.cpu_count()
                rates[(source, degradation, threads)] = sps / cores
                peak = peak_rss_mib()
                print(f"{os.path.basename(str(source).rstrip('/'))[:40]:40s} {degradation:6s} "
                      f"{threads or 'all':>7} {sps:10.1f} {sps / cores:9.1f} "
                      f"{(f'{peak:,.0f}' if peak else '-'):>12s}", flush=True)
                del ds
    if len(sources) > 1:
        base = sources[0]
        for (source, degradation, threads), rate in rates.items():
            if source != base:
                ratio = rate / rates[(base, degradation, threads)]
                print(f"  {os.path.basename(source.rstrip('/'))} / {os.path.basename(base.rstrip('/'))}"
                      f" ({degradation}, {threads or 'all'} threads): {ratio:.1f}x")
    per_core = rates[next(iter(rates))]
    if args.demand:
        from vsr_latent.perf.flops import count_flops

        forward = count_flops(model, (1, seq_len, args.lr_patch, args.lr_patch, 3)).total
        per_sample = TRAIN_FLOPS_PER_FORWARD * forward
        last = list(rates)[-1]
        per_core = rates[last]
        print(f"training FLOPs per sample: {per_sample / 1e9:.1f} G (3 x forward); demand at "
              f"{args.utilisation:.0%} of vendor peak, against {per_core:.1f} samples/s per core "
              f"({os.path.basename(str(last[0]).rstrip('/'))}, {last[1]}):")
        for row in gpu_demand(per_sample, args.utilisation, per_core):
            print(f"  {row['gpu']:12s} {row['precision']:8s} {row['samples_per_s']:8.0f} "
                  f"samples/s = {row['cores']:6.1f} cores of this pipeline")
    if args.steps <= 0:
        return 0
    step_sps = time_step(model, lr, hr, args.steps)
    pipe_sps = per_core * (args.cores or os.cpu_count())
    print(f"training step : {step_sps:10.1f} samples/s")
    ratio = pipe_sps / step_sps
    print(f"ratio pipeline (all cores) / step: {ratio:.1f}x (target >= 2: "
          f"{'met' if ratio >= 2 else 'NOT met'})")
    return 0


def cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    flags = ""
                    break
            else:
                name = platform.processor() or platform.machine()
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = "AVX-512" if "avx512f" in line else "AVX2" if "avx2" in line else ""
                    break
        return f"{name} ({flags})" if flags else name
    except OSError:
        return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
