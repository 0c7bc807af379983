"""Steps/s of the trainer's real loop with a host read of the metrics every step vs every
``log_every`` steps, in one process (the ratio is what this measures; absolute rates on a shared
CPU are not comparable between runs).

    python benchmarks/host_sync.py [--config table1_latn10] [--budget tiny] [--steps 60]

"before" is the trainer of git revision ``--before`` (default afc38dc, whose loop read every
metric with ``float()``, the sampling flag and the progress bar's values after each step), loaded
from git into this process; "every step" is this trainer at ``log_every=1``: the loop reads the
device-side metrics (and the non-finite marker) after each step; "every N" is ``log_every=N``
(the configs' default is 100). All run ``Trainer._loop`` itself (no summaries,
progress bar, validation, pictures or checkpoints in the timed steps), alternating, after a
warm-up that traces the step. On a CPU the device is the host, so the difference is the cost
of the reads alone; on a GPU a read also waits for the device to drain its queue.
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def old_trainer_class(rev, folder):
    """``Trainer`` of ``vsr_latent/training/trainer.py`` at git revision ``rev`` (written into
    ``folder`` so that autograph can read its source)."""
    import importlib.util
    import subprocess

    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    source = subprocess.run(["git", "show", f"{rev}:vsr_latent/training/trainer.py"], cwd=repo,
                            check=True, capture_output=True, text=True).stdout
    path = os.path.join(folder, f"trainer_at_{rev}.py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(f"trainer_at_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Trainer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="table1_latn10")
    p.add_argument("--budget", default="tiny")
    p.add_argument("--steps", type=int, default=60, help="timed steps per repeat and mode")
    p.add_argument("--log_every", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before", default="afc38dc",
                   help="git revision of the trainer to compare with ('' to skip)")
    args = p.parse_args(argv)

    import vsr_latent  # noqa: F401, I001 - before TensorFlow: the package's CPU kernels

    from vsr_latent.configs import get_config
    from vsr_latent.training.trainer import Trainer

    total = 3 + 2 * args.repeats * args.steps
    config = get_config(args.config, budget=args.budget, overrides=[
        f"stage1_steps={total}", "stage2_steps=0", f"checkpoint_every={10 * total}",
        f"validate_every={10 * total}", f"image_every={10 * total}", "data.val_clips=0"])
    sparse_mode = f"every_{args.log_every}"
    modes = {"every_step": (Trainer, 1), sparse_mode: (Trainer, args.log_every)}
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            modes = {"before": (old_trainer_class(args.before, tmp), args.log_every), **modes}
        trainers, steps = {}, {}
        for mode, (cls, _) in modes.items():
            trainers[mode] = cls(config, os.path.join(tmp, mode), progress=False,
                                 log=lambda m: None)
            steps[mode] = trainers[mode].restore_or_initialize()
            trainers[mode]._loop(0, 3, None, None)  # traces the step
            steps[mode] = 3
        rates = {mode: [] for mode in modes}
        for _ in range(args.repeats):
            for mode, (_, log_every) in modes.items():
                trainer, step = trainers[mode], steps[mode]
                trainer.config = dataclasses.replace(config, log_every=log_every)
                t0 = time.perf_counter()
                trainer._loop(step, step + args.steps, None, None)
                rates[mode].append(args.steps / (time.perf_counter() - t0))
                steps[mode] += args.steps
    medians = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
    ratios = {f"{sparse_mode}_over_{k}": medians[sparse_mode] / v for k, v in medians.items()
              if k != sparse_mode}
    print(json.dumps({"config": config.name, "budget": args.budget, "steps": args.steps,
                      "before": args.before, "steps_per_s": rates, "median_steps_per_s": medians,
                      "ratios": ratios,
                      "load_average_1min": os.getloadavg()[0]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
