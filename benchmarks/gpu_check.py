"""The GPU check behind ``benchmarks/gpu_check.sh``: what a GPU owner runs once, in minutes.

    python benchmarks/gpu_check.py OUT_DIR [--dry-run] [--steps 20]

On a machine with one GPU it splits it into two logical GPUs (with several it uses them as they
are), then, each result written as JSON into OUT_DIR:

1. ``train_float32.json`` and ``train_mixed_float16.json``: the trainer's real steps of ``ours``
   (stage 1 and stage 2) under the package's strategy (`default_strategy`: MirroredStrategy over
   the GPUs), seconds per step, samples/s, the losses finite, the loss scale (float16);
2. ``inference.json``: ``ours`` (fresh weights, float32 and mixed_float16) at Vid4 size
   (L = 7 frames of 144x180 LR), seconds per frame (clip time / L, the package's convention)
   beside Table 5's 0.063 s;
3. ``saved_model.json``: a SavedModel exported (`serving.saved_model.export_saved_model`),
   reloaded and run; its output against the Keras model's;
4. ``summary.json``: the machine and the above in one object.

``--dry-run`` runs the same code on the CPU (split into two logical CPUs) at tiny sizes (the
tiny budget's narrow network with one block of each attention, 16x20 frames, L = 3): the test
suite runs it so the script cannot rot. A failure of one part is written as its ``error`` and the others still run.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

VID4_LR = (144, 180)
TABLE5_SECONDS_PER_FRAME = 0.063
# The dry run's network: ours' parts (long and short attention, variance heads), one block each.
DRY_MODEL = ["model.seq_len=3", "model.num_layers=2", 'model.blocks=["long", "short"]']


def split_devices(dry_run, memory_mb):
    """Two logical devices: the one GPU split in two (or the CPU, in a dry run)."""
    import tensorflow as tf

    kind = "CPU" if dry_run else "GPU"
    physical = tf.config.list_physical_devices(kind)
    if not physical:
        raise SystemExit(f"gpu_check: no {kind} visible to TensorFlow "
                         f"({'pass --dry-run to check the script on the CPU' if kind == 'GPU' else ''})")
    if dry_run:
        tf.config.set_visible_devices([], "GPU")
    if len(physical) == 1:
        limit = None if dry_run else memory_mb
        tf.config.set_logical_device_configuration(physical[0], [
            tf.config.LogicalDeviceConfiguration(memory_limit=limit),
            tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
    return [d.name for d in tf.config.list_logical_devices(kind)]


def write(out_dir, name, obj):
    from vsr_latent.atomic import write_json

    write_json(os.path.join(out_dir, name), obj)
    print(f"{name}: {json.dumps(obj)[:400]}", flush=True)
    return obj


def guarded(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - one failing part must not hide the others
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:400] if str(e) else ''}",
                "traceback": traceback.format_exc()[-2000:]}


def check_training(precision, strategy, dry_run, steps):
    from vsr_latent.configs import get_config
    from vsr_latent.perf.training_benchmark import config_dataset, time_train_step
    from vsr_latent.training.trainer import Trainer

    overrides = [f"precision={precision}"]
    if dry_run:
        overrides += DRY_MODEL + ["data.batch_size=2"]
    config = get_config("ours", budget="tiny" if dry_run else None, overrides=overrides)
    batch = next(iter(config_dataset(config)))
    out = {"config": config.name, "precision": precision, "batch": config.data.batch_size,
           "lr_patch": config.data.lr_patch, "seq_len": config.model.seq_len, "stages": {}}
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, run_dir, strategy=strategy, progress=False, log=lambda m: None)
        out["replicas"] = trainer.num_replicas
        for stage in (1, 2):
            first, seconds = time_train_step(trainer, batch, stage, steps=steps)
            metrics = trainer.read_metrics()
            out["stages"][f"stage{stage}"] = {
                "first_step_seconds": first, "seconds_per_step": seconds,
                "samples_per_s": config.data.batch_size / seconds,
                "loss_total": metrics["loss/total"],
                "finite": bool(all(v == v and abs(v) != float("inf") for v in metrics.values())),
                "loss_scale": metrics.get("optimizer/loss_scale"),
                "skipped_steps": metrics.get("optimizer/skipped_steps")}
    return out


def inference_model(dry_run, precision="float32"):
    from vsr_latent.models import build_model, model_config
    from vsr_latent.precision import dtype_policy

    cfg = (model_config("ours", filters=8, seq_len=3, num_layers=2, blocks=("long", "short"))
           if dry_run else model_config("ours"))
    with dtype_policy(precision):
        return build_model(cfg)


def check_inference(dry_run, repeats):
    import numpy as np
    import tensorflow as tf

    from vsr_latent.perf.timing import time_call

    rows = []
    for precision in ("float32", "mixed_float16"):
        model = inference_model(dry_run, precision)
        h, w = (16, 20) if dry_run else VID4_LR
        shape = (1, model.seq_len, h, w, 3)
        x = tf.random.stateless_uniform(shape, seed=(1, 2), maxval=255.0)
        fn = tf.function(lambda x, model=model: model(x, training=False))
        timing = time_call(fn, x, repeats=repeats, warmup=1)
        sr = np.asarray(fn(x), np.float32)
        rows.append({"precision": precision, "input_shape": list(shape),
                     "seconds_per_clip": timing.median,
                     "seconds_per_frame": timing.median / model.seq_len,
                     "table5_seconds_per_frame": TABLE5_SECONDS_PER_FRAME,
                     "finite": bool(np.isfinite(sr).all())})
    return {"model": "ours (fresh weights)", "rows": rows}


def check_saved_model(dry_run):
    import numpy as np
    import tensorflow as tf

    from vsr_latent.serving.saved_model import export_saved_model

    model = inference_model(dry_run)
    h, w = (16, 20) if dry_run else VID4_LR
    x = tf.random.stateless_uniform((1, model.seq_len, h, w, 3), seed=(3, 4), maxval=255.0)
    want = np.asarray(model(x, training=False))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = export_saved_model(model, os.path.join(tmp, "ours_savedmodel"))
        export_s = time.perf_counter() - t0
        loaded = tf.saved_model.load(str(path))
        got = np.asarray(loaded.signatures["serving_default"](frames=x)["sr"])
    return {"export_seconds": export_s, "signatures": sorted(loaded.signatures),
            "max_abs_difference": float(np.max(np.abs(got - want))),
            "output_shape": list(got.shape)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--dry-run", action="store_true",
                   help="on the CPU at tiny sizes (checks the script, measures nothing useful)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per stage (20; dry 2)")
    p.add_argument("--memory_mb", type=int, default=None,
                   help="memory of each of the two logical GPUs (default: half the GPU's)")
    args = p.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)

    import vsr_latent  # noqa: F401, I001 - before TensorFlow: the package's CPU kernels
    import tensorflow as tf

    memory_mb = args.memory_mb
    if memory_mb is None and not args.dry_run:
        gpus = tf.config.list_physical_devices("GPU")
        total = tf.config.experimental.get_device_details(gpus[0]).get("memory_limit") if gpus \
            else None
        # Unknown total: 20 GB each (an 80 GB GPU leaves room; a smaller one: pass --memory_mb).
        memory_mb = int(total / 2**20 / 2 * 0.9) if total else 20_000
    devices = split_devices(args.dry_run, memory_mb)
    from vsr_latent.hardware import describe
    from vsr_latent.training.strategy import default_strategy

    strategy = (tf.distribute.MirroredStrategy(devices[:2]) if args.dry_run
                else default_strategy())
    steps = args.steps or (2 if args.dry_run else 20)
    summary = {"machine": describe(), "dry_run": args.dry_run, "devices": devices,
               "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync}
    t0 = time.perf_counter()
    for precision in ("float32", "mixed_float16"):
        summary[f"train_{precision}"] = write(
            args.out_dir, f"train_{precision}.json",
            guarded(lambda p=precision: check_training(p, strategy, args.dry_run, steps)))
    summary["inference"] = write(args.out_dir, "inference.json",
                                 guarded(lambda: check_inference(args.dry_run,
                                                                 2 if args.dry_run else 5)))
    summary["saved_model"] = write(args.out_dir, "saved_model.json",
                                   guarded(lambda: check_saved_model(args.dry_run)))
    summary["seconds"] = time.perf_counter() - t0
    write(args.out_dir, "summary.json", summary)
    failed = [k for k, v in summary.items() if isinstance(v, dict) and "error" in v]
    if failed:
        print(f"gpu_check: failed: {', '.join(failed)} (see their JSON in {args.out_dir})",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
