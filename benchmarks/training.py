"""Training speed: steps/s of the real training step with XLA off and on, beside the input
pipeline's rate measured in the same process.

    python benchmarks/training.py [--config ours] [--batch 2] [--stage 1] [--steps 3]

The step is the trainer's own compiled step (``TrainStep.step_fn``: forward, L_re (+ lambda L_vae
in stage 2 through ``dual_forward``), backward, all-reduce, global-norm clipping, Adam, the
device-side metrics) under the trainer's strategy, with the config's ``jit_compile`` off or on,
fed one fixed global batch through a distributed dataset
(``vsr_latent.perf.training_benchmark.fixed_batch_dataset``): on two replicas each gets half of
it, so samples/s = global batch / seconds per step counts every sample once (passing the batch
to ``strategy.run`` as a plain tensor, as this script once did, gives each replica the whole
batch and halves the count). The pipeline's rate is ``train_dataset``'s with the same batch,
patch and L. The pipeline is never the bottleneck when its samples/s exceed the faster step's.
For every table's projected wall time use ``vsr-latent benchmark --train``. Prints one JSON
object.
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))


def time_steps(trainer, batch, stage, steps, warmup=1):
    from vsr_latent.perf.training_benchmark import time_train_step

    first, median = time_train_step(trainer, batch, stage, steps=steps, warmup=warmup)
    return {"xla": bool(trainer.config.jit_compile), "steps_per_s": 1.0 / median,
            "seconds_per_step": median, "first_step_seconds": first}


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
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="further config overrides (e.g. precision=mixed_float16)")
    p.add_argument("--output", default=None, help="also write the JSON object here")
    args = p.parse_args(argv)

    import vsr_latent  # noqa: F401, I001 - before TensorFlow: the package's CPU kernels (cpu_backend)

    from vsr_latent.configs import get_config
    from vsr_latent.hardware import describe
    from vsr_latent.perf.training_benchmark import config_dataset, time_pipeline
    from vsr_latent.training.trainer import Trainer

    overrides = [f"data.batch_size={args.batch}", *args.overrides]
    if args.lr_patch:
        overrides.append(f"data.lr_patch={args.lr_patch}")
    config = get_config(args.config, overrides=overrides)
    data = config.data
    pipeline_rate, batch = time_pipeline(config_dataset(config), args.batches)
    result = {"config": config.name, "model": config.model.name, "seq_len": config.model.seq_len,
              "batch": data.batch_size, "lr_patch": data.lr_patch, "stage": args.stage,
              "precision": config.precision, "machine": describe(),
              "load_average_1min": os.getloadavg()[0],
              "pipeline_samples_per_s": pipeline_rate, "steps": []}
    for xla in {"off": (False,), "on": (True,), "both": (False, True)}[args.xla]:
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = Trainer(dataclasses.replace(config, jit_compile=xla), run_dir,
                              progress=False, log=lambda *a: None)
            result["replicas"] = trainer.num_replicas
            try:
                row = time_steps(trainer, batch, args.stage, args.steps)
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
