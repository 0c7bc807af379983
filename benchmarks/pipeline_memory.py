"""Peak memory of the training input pipeline against the number and size of a root's clips.

    python benchmarks/pipeline_memory.py ROOT [ROOT ...] --counts 1 8 32 [--batches 100]

For each ROOT (a raw or PNG root of training clips, e.g. from ``benchmarks/pipeline_roots.py``)
and each count N, makes a root of N distinct clips (copies of ROOT's clips under new names, so
no two share a file) and runs the pipeline (batch 16, L = 7, 32x32 LR, ``bi``, on one core) for
``--batches`` batches in a fresh process, whose own peak RSS (``ru_maxrss``) is the number: what
TensorFlow and the pipeline hold, including the file pages a memory-mapped read has mapped.
The roots' size on disk grows with N; the pipeline's memory must not.
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
from vsr_latent.data.pipelines import train_dataset
ds = train_dataset(sys.argv[1], seq_len=7, lr_size=(32, 32), batch_size=16, seed=0)
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
it = iter(ds)
for _ in range(int(sys.argv[2])):
    next(it)
"""


def scaled_root(root, count, out):
    """A root of ``count`` clips: ``root``'s training clips copied round-robin."""
    from vsr_latent.data.dataset_root import CLIPS_DIR, INDEX, list_clips

    clips = list_clips(root, "train")
    (out / CLIPS_DIR).mkdir(parents=True)
    shutil.copy(Path(root) / INDEX, out / INDEX)
    for i in range(count):
        clip = clips[i % len(clips)]
        shutil.copytree(clip.dir, out / CLIPS_DIR / f"copy{i:04d}_{clip.dir.name}")
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+")
    p.add_argument("--counts", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--json", default=None, help="also write the rows here")
    args = p.parse_args(argv)
    from vsr_latent.perf.memory import run_child_max_rss

    rows = []
    print(f"{'root':28s} {'clips':>5s} {'on disk MiB':>11s} {'peak RSS MiB':>12s}")
    for root in args.roots:
        for count in args.counts:
            with tempfile.TemporaryDirectory(dir=Path(root).parent) as tmp:
                scaled = Path(tmp) / "root"
                disk = scaled_root(root, count, scaled)
                rc, peak, _, out = run_child_max_rss(
                    [sys.executable, "-c", CHILD, str(scaled), str(args.batches)],
                    cwd=str(Path(__file__).resolve().parent.parent))
            if rc:
                sys.exit(f"the pipeline failed on {count} clips of {root}: {out[-2000:]}")
            rows.append({"root": str(root), "clips": count, "disk_bytes": disk,
                         "peak_rss_bytes": peak})
            print(f"{Path(root).name[:28]:28s} {count:5d} {disk / 2**20:11,.0f} "
                  f"{peak / 2**20:12,.0f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
