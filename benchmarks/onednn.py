"""TensorFlow's oneDNN CPU kernels against its Eigen kernels: one `ours` training step and
`ours_cpu` inference at Vid4 size, each timed with ``TF_ENABLE_ONEDNN_OPTS`` 0 and 1.

    python benchmarks/onednn.py [--rounds 2] [--output FILE]

TensorFlow reads the variable once, when it loads, so the two settings cannot share a process:
each measurement is a fresh process (``benchmarks/training.py``, ``vsr-latent benchmark``), and the
settings alternate (off, on, off, on, ...) so that a change in the machine's load falls on both.
The ratio is Eigen's median time over oneDNN's (above 1: oneDNN faster). The package turns oneDNN
on where TensorFlow would not (``vsr_latent.cpu_backend``); this measures what that is worth on the
machine it runs on. Prints one JSON object.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
TRAIN = [sys.executable, os.path.join(HERE, "training.py"), "--config", "ours", "--batch", "4",
         "--lr_patch", "32", "--xla", "off", "--steps", "3", "--batches", "2"]
INFER = [sys.executable, "-m", "vsr_latent", "benchmark", "--models", "ours_cpu", "--sizes",
         "vid4", "--xla", "off", "--precision", "float32", "--repeats", "2", "--json"]


def _run(cmd, onednn):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} (TF_ENABLE_ONEDNN_OPTS={onednn}) exited "
                         f"{out.returncode}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout[out.stdout.index("[" if cmd is INFER else "{"):])


def training_seconds(onednn):
    return _run(TRAIN, onednn)["steps"][0]["seconds_per_step"]


def inference_seconds(onednn):
    return _run(INFER, onednn)[0]["seconds_per_frame"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="off/on pairs per measurement")
    p.add_argument("--output", default=None, help="also write the JSON object here")
    args = p.parse_args(argv)
    sys.path.insert(0, ROOT)
    from vsr_latent.atomic import write_json
    from vsr_latent.hardware import cpu_model, cpu_speed_flags

    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "cpu_flags": cpu_speed_flags(),
              "rounds": args.rounds}
    for name, measure, unit in (("training_step", training_seconds, "seconds_per_step"),
                                ("inference_vid4", inference_seconds, "seconds_per_frame")):
        times = {"0": [], "1": []}
        for _ in range(args.rounds):
            for onednn in ("0", "1"):
                times[onednn].append(measure(onednn))
                print(f"{name} TF_ENABLE_ONEDNN_OPTS={onednn}: {times[onednn][-1]:.3f} {unit}",
                      file=sys.stderr, flush=True)
        off, on = statistics.median(times["0"]), statistics.median(times["1"])
        result[name] = {"unit": unit, "eigen": times["0"], "onednn": times["1"],
                        "eigen_over_onednn": off / on}
    if args.output:
        write_json(args.output, result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
