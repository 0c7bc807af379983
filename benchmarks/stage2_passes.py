"""Stage 2 in one sampled pass (§5.3) against two passes: the trainer's compiled steps timed in one
process, interleaved (blocks of 5 steps, 4 rounds of stage 1, one-pass stage 2, two-pass stage 2)
so that a change in the machine's load falls on all three.

    python benchmarks/stage2_passes.py [--filters 72]

Full-size ``ours`` (72 filters) at the smoke budget's batch (2) and LR patch (16), float32, on the
default strategy. Prints steps/s per block, the medians and the stage-2 / stage-1 ratios.
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from vsr_latent.configs import get_config
from vsr_latent.training.trainer import Trainer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--filters", type=int, default=72)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--run_dir", default="/tmp/stage2_passes")
    args = p.parse_args(argv)
    trainers = {}
    for forward in ("one_pass", "two_pass"):
        config = get_config("ours", budget="smoke", overrides=[
            f"model.filters={args.filters}", "data.val_clips=0", f"stage2_forward={forward}"])
        trainers[forward] = Trainer(config, f"{args.run_dir}/{forward}",
                                    strategy=tf.distribute.get_strategy(), progress=False,
                                    log=lambda m: None)
    batch = next(iter(trainers["one_pass"].distributed_dataset(0)))
    jobs = {"stage1": (trainers["one_pass"], 1), "stage2 one_pass": (trainers["one_pass"], 2),
            "stage2 two_pass": (trainers["two_pass"], 2)}
    for trainer, stage in jobs.values():  # trace and warm up
        for _ in range(2):
            trainer.train_step.step_fn(stage)(batch)
        trainer.step.numpy()
    rates = {name: [] for name in jobs}
    for _ in range(args.rounds):
        for name, (trainer, stage) in jobs.items():
            fn = trainer.train_step.step_fn(stage)
            trainer.step.numpy()
            start = time.perf_counter()
            for _ in range(5):
                fn(batch)
            trainer.step.numpy()  # waits for the steps
            rates[name].append(5 / (time.perf_counter() - start))
    for name, values in rates.items():
        print(f"{name}: steps/s per block {' '.join(f'{x:.2f}' for x in values)}; "
              f"median {np.median(values):.2f}")
    s1 = np.median(rates["stage1"])
    print(f"ratio stage2/stage1: one_pass {np.median(rates['stage2 one_pass']) / s1:.2f} "
          f"two_pass {np.median(rates['stage2 two_pass']) / s1:.2f}")


if __name__ == "__main__":
    main()
