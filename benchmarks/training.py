"""Training speed: steps/s of the real training step with XLA off and on, beside the input
pipeline's rate measured in the same process.

    python benchmarks/training.py [--config ours] [--batch 2] [--stage 1] [--steps 3]

The step is the trainer's own (``vsr_latent.training.trainer.Trainer._replica_step``: forward,
L_re (+ lambda L_vae in stage 2 through ``dual_forward``), backward, global-norm clipping, Adam)
run under the trainer's strategy, wrapped in ``tf.function`` with ``jit_compile`` off or on, fed
one fixed batch so the pipeline is not in the measurement. The pipeline's rate comes from
``benchmarks/input_pipeline.py`` (``time_pipeline`` on ``train_dataset`` with the same batch,
patch and L). The pipeline is never the bottleneck when its samples/s exceed the faster step's.
Prints one JSON object.
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)


def time_steps(trainer, batch, stage, xla, steps, warmup=1):
    import tensorflow as tf

    trainer.set_stage(stage)

    @tf.function(jit_compile=bool(xla))
    def replica_step(lr, hr):
        return trainer._replica_step(lr, hr, stage)

    @tf.function
    def step(lr, hr):
        out = trainer.strategy.run(replica_step, args=(lr, hr))
        return {k: trainer.strategy.reduce("SUM", v, axis=None) for k, v in out.items()}

    lr, hr = batch
    t0 = time.perf_counter()
    for _ in range(warmup):
        float(step(lr, hr)["loss/total"])
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        float(step(lr, hr)["loss/total"])
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    return {"xla": bool(xla), "steps_per_s": 1.0 / median, "seconds_per_step": median,
            "seconds_all": times, "first_step_seconds": first}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="ours", help="experiment config name (default ours)")
    p.add_argument("--batch", type=int, default=2,
                   help="global batch (default 2: CPU-sized; the configs' default is larger)")
    p.add_argument("--lr_patch", type=int, default=None, help="default: the config's")
    p.add_argument("--stage", type=int, choices=(1, 2), default=1)
    p.add_argument("--steps", type=int, default=3, help="timed steps per setting")
    p.add_argument("--batches", type=int, default=10, help="timed pipeline batches")
    p.add_argument("--xla", choices=("off", "on", "both"), default="both")
    p.add_argument("--output", default=None, help="also write the JSON object here")
    args = p.parse_args(argv)

    import vsr_latent  # noqa: F401, I001 - before TensorFlow: the package's CPU kernels (cpu_backend)
    import tensorflow as tf
    from input_pipeline import time_pipeline

    from vsr_latent.configs import get_config
    from vsr_latent.data.pipelines import train_dataset
    from vsr_latent.paper.hardware import describe
    from vsr_latent.training.trainer import Trainer

    overrides = [f"data.batch_size={args.batch}"]
    if args.lr_patch:
        overrides.append(f"data.lr_patch={args.lr_patch}")
    config = get_config(args.config, overrides=overrides)
    data = config.data
    ds = train_dataset(data.source, seq_len=config.model.seq_len,
                       lr_size=(data.lr_patch, data.lr_patch),
                       scale=4, degradation=data.degradation, batch_size=data.batch_size,
                       seed=data.seed, repeat=True)
    pipeline_rate, batch = time_pipeline(ds.prefetch(tf.data.AUTOTUNE), args.batches)
    result = {"config": config.name, "model": config.model.name, "seq_len": config.model.seq_len,
              "batch": data.batch_size, "lr_patch": data.lr_patch, "stage": args.stage,
              "machine": describe(), "load_average_1min": os.getloadavg()[0],
              "pipeline_samples_per_s": pipeline_rate, "steps": []}
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, run_dir, progress=False, log=lambda *a: None)
        for xla in {"off": (False,), "on": (True,), "both": (False, True)}[args.xla]:
            try:
                row = time_steps(trainer, batch, args.stage, xla, args.steps)
                row["samples_per_s"] = row["steps_per_s"] * data.batch_size
            except Exception as e:  # noqa: BLE001 - report, keep the other setting
                row = {"xla": xla, "error": f"{type(e).__name__}: {e}".splitlines()[0][:400]}
            result["steps"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    rates = [r["samples_per_s"] for r in result["steps"] if "samples_per_s" in r]
    if rates:
        result["pipeline_over_fastest_step"] = pipeline_rate / max(rates)
        result["pipeline_is_bottleneck"] = bool(pipeline_rate < max(rates))
    print(json.dumps(result, indent=1))
    if args.output:
        from vsr_latent.atomic import write_json

        write_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
