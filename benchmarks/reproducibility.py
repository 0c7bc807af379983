"""How far apart two runs of one config and seed end when one thing about the machine changes.

    python benchmarks/reproducibility.py --data_root data/cpu_root [--steps 200] \
        [--validate_every 50] [--variants avx512,avx2,deterministic] [--out runs/reproducibility]

Each variant trains the same config and seed (default: ``ours`` at the cpu budget, stage 1 only,
on a cpu root) in a fresh process, so each gets its own TensorFlow and oneDNN start:

- ``avx512``: the machine as it is (the baseline; oneDNN uses the widest instruction set it finds);
- ``avx2``: oneDNN held to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``), as on a CPU without AVX-512;
- ``deterministic``: TensorFlow's op determinism on (``deterministic=true``);
- ``repeat``: the baseline again (two runs on one machine end bitwise equal: a check).

For each variant against the baseline it prints the final weights' agreement (tensors bitwise
equal, largest absolute difference, ||a - b|| / ||a|| over all weights), the validation PSNR at
every validation step (``psnr/validation``, dB) and the median steps/s (``perf/steps_per_sec``:
the variants run one after another, so speed ratios are only as fair as the machine was quiet).
Prints one JSON object; ``--output`` also writes it.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "avx512": ({}, []),
    "avx2": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, []),
    "deterministic": ({}, ["deterministic=true"]),
    "repeat": ({}, []),
}


def train(run_dir, args, env_extra, overrides):
    sets = [f"data.source={args.data_root}", f"stage1_steps={args.steps}", "stage2_steps=0",
            f"validate_every={args.validate_every}", f"log_every={args.log_every}",
            f"checkpoint_every={args.steps}", *overrides, *args.overrides]
    cmd = [sys.executable, "-m", "vsr_latent.cli", "train", "--config", args.config,
           "--budget", args.budget, "--run_dir", str(run_dir), "--no_progress",
           *[a for s in sets for a in ("--set", s)]]
    env = {**os.environ, **env_extra, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    log = Path(str(run_dir) + ".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc:
        raise SystemExit(f"{' '.join(cmd)} exited {rc}; see {log}")


def weights(run_dir):
    import tensorflow as tf

    from vsr_latent.run_folder import latest_checkpoint

    reader = tf.train.load_checkpoint(latest_checkpoint(run_dir))
    names = sorted(k for k in reader.get_variable_to_shape_map()
                   if k.startswith(("model/", "optimizer/_trainable_variables/"))
                   and k.endswith("VARIABLE_VALUE"))
    return {k: reader.get_tensor(k) for k in names}


def compare(base, other):
    import numpy as np

    keys = sorted(set(base) & set(other))
    equal = sum(np.array_equal(base[k], other[k]) for k in keys)
    a = np.concatenate([base[k].ravel().astype(np.float64) for k in keys])
    b = np.concatenate([other[k].ravel().astype(np.float64) for k in keys])
    return {"tensors": len(keys), "bitwise_equal": int(equal),
            "max_abs_diff": float(np.max(np.abs(a - b))),
            "relative_l2_diff": float(np.linalg.norm(a - b) / np.linalg.norm(a))}


def curves(run_dir):
    import numpy as np

    from vsr_latent.run_folder import log_dir, read_scalars

    scalars = read_scalars(log_dir(run_dir) / "train", ["psnr/validation", "perf/steps_per_sec"])
    steps, psnr, _ = scalars.get("psnr/validation", ([], [], []))
    _, rate, _ = scalars.get("perf/steps_per_sec", ([], [], []))
    # The first logged rate includes the traced first step.
    steady = rate[1:] if len(rate) > 1 else rate
    return ({int(s): round(float(v), 4) for s, v in zip(steps, psnr)},
            float(np.median(steady)) if len(steady) else None)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_root", required=True, help="dataset root (a cpu root: see docs)")
    p.add_argument("--config", default="ours")
    p.add_argument("--budget", default="cpu")
    p.add_argument("--steps", type=int, default=200, help="stage-1 steps per run")
    p.add_argument("--validate_every", type=int, default=50)
    p.add_argument("--log_every", type=int, default=10)
    p.add_argument("--variants", default="avx512,avx2,deterministic",
                   help=f"comma-separated, the first is the baseline ({', '.join(VARIANTS)})")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="a further setting for every run (repeatable)")
    p.add_argument("--out", default="runs/reproducibility", help="the runs' folder")
    p.add_argument("--output", default=None, help="also write the JSON object here")
    args = p.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        p.error(f"--variants: unknown {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(VARIANTS)}")
    from vsr_latent.paper.hardware import cpu_model, cpu_speed_flags

    out = Path(args.out)
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "cpu_flags": cpu_speed_flags(),
              "config": args.config, "budget": args.budget, "steps": args.steps,
              "baseline": names[0], "variants": {}}
    base = None
    for name in names:
        run_dir = out / name
        env_extra, overrides = VARIANTS[name]
        if not (run_dir / "model.keras").is_file():
            train(run_dir, args, env_extra, overrides)
        psnr, rate = curves(run_dir)
        entry = {"env": env_extra, "overrides": overrides, "psnr_validation": psnr,
                 "steps_per_s": rate}
        w = weights(run_dir)
        if base is None:
            base = (w, psnr)
        else:
            entry["weights_vs_baseline"] = compare(base[0], w)
            entry["psnr_minus_baseline"] = {s: round(psnr[s] - base[1][s], 4)
                                            for s in psnr if s in base[1]}
        result["variants"][name] = entry
        print(f"{name}: {json.dumps(entry)}", file=sys.stderr, flush=True)
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
