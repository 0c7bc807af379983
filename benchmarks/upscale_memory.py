"""Peak memory of ``vsr-latent upscale``: does it stream (flat in the clip's length) and does
tiling bound it for HD input?

Each upscale runs in its own subprocess; its peak resident set size is the child's
``ru_maxrss`` (``vsr_latent.perf.memory.run_child_max_rss``: read with ``os.wait4`` in a
small launcher, so this script's own size does not leak into it; it is the maximum over the
upscale process and the ffmpeg processes it waited for, not their sum).

Runs (``--quick`` shrinks them):

1. length: synthetic 144x180 clips (a textured image panning 1 px per frame, H.264 mp4 in a temp
   dir) of 100 and 1,000 frames, upscaled with ``bicubic`` and with a small model (``ours``
   architecture, 8 filters, saved as .keras; ``--small_frames``), output as H.264 mp4. Streaming means equal
   peaks: the check is ``peak(long) <= 1.10 * peak(short)``.
2. ours: the full ``ours`` model (fresh weights) on a short 144x180 clip, for its absolute peak.
3. HD: the first frames of /work/shared/data/clips/bigbuckbunny.mp4 (1280x720) to 5120x2880
   with the default tiling, with the small model (a full window of L = 7 frames) and with ``ours``
   (``--seq_len 1 --max_frames 1``: one frame; the window buffers scale with L). Check: < 8 GiB.

Usage: ``python benchmarks/upscale_memory.py [--quick] [--skip_ours] [--output FILE.json]``.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from vsr_latent.perf.memory import run_child_max_rss

GIB = 2**30
STREAMING_TOLERANCE = 1.10
HD_LIMIT_BYTES = 8 * GIB
LR_SIZE = (144, 180)
SMALL_MODEL = {"filters": 8, "num_layers": 5}


def synthetic_clip(path, frames, size=LR_SIZE, seed=0):
    """An H.264 clip of a smooth random texture panning one pixel per frame."""
    from vsr_latent.data.video_io import FrameWriter

    h, w = size
    rng = np.random.default_rng(seed)
    big = rng.uniform(0, 255, (h // 4 + 2, (w + frames) // 4 + 2, 3))
    big = np.kron(big, np.ones((4, 4, 1)))  # blocky texture: compressible, still has edges
    with FrameWriter(str(path), fps=25.0) as writer:
        for t in range(frames):
            writer.write(big[:h, t:t + w].astype(np.uint8))
    return path


def small_model(path):
    from vsr_latent.models import build_model

    build_model("ours", **SMALL_MODEL).save(str(path))
    return path


def upscale(label, clip, out, model, *extra, timeout=3600):
    cmd = [sys.executable, "-m", "vsr_latent", "upscale", str(clip), str(out), "--model",
           str(model), "--no_progress", *map(str, extra)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    rc, rss, seconds, output = run_child_max_rss(cmd, env=env, timeout=timeout)
    row = {"run": label, "model": Path(str(model)).name, "input": str(clip),
           "args": list(map(str, extra)), "returncode": rc, "max_rss_bytes": rss,
           "seconds": seconds, "output_tail": output.strip().splitlines()[-1:] if output else []}
    print(f"{label:28s} {row['model']:12s} rc={rc} peak RSS {rss / 2**20:9.1f} MiB "
          f"{seconds:8.1f} s  {' '.join(row['args'])}", flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10/100 frames, small model only")
    p.add_argument("--skip_ours", action="store_true", help="skip the runs with the full model")
    p.add_argument("--skip_hd", action="store_true", help="skip the 1280x720 runs")
    p.add_argument("--ours_frames", type=int, default=7)
    p.add_argument("--small_frames", type=int, nargs=2, default=(35, 350), metavar=("SHORT", "LONG"),
                   help="clip lengths for the small model (default 35 350)")
    p.add_argument("--output", default=None, help="write the rows and checks as JSON")
    args = p.parse_args(argv)

    lengths = {"bicubic": (10, 100) if args.quick else (100, 1000),
               "small": (7, 70) if args.quick else tuple(args.small_frames)}
    rows, checks = [], {}
    with tempfile.TemporaryDirectory(prefix="vsr_upscale_memory_") as tmp:
        tmp = Path(tmp)
        small = small_model(tmp / "small.keras")
        clips = {n: synthetic_clip(tmp / f"clip{n}.mp4", n)
                 for n in set(lengths["bicubic"] + lengths["small"])}
        for model, (short, long_) in (("bicubic", lengths["bicubic"]), (small, lengths["small"])):
            pair = []
            for n in (short, long_):
                out = tmp / f"out_{n}_{Path(str(model)).stem}.mp4"
                pair.append(upscale(f"length {n} frames", clips[n], out, model))
                rows.append(pair[-1])
            ratio = pair[1]["max_rss_bytes"] / max(1, pair[0]["max_rss_bytes"])
            checks[f"streaming {Path(str(model)).name}: peak({long_})/peak({short})"] = {
                "ratio": ratio, "limit": STREAMING_TOLERANCE,
                "ok": bool(ratio <= STREAMING_TOLERANCE and all(r["returncode"] == 0 for r in pair))}
        if not args.skip_ours and not args.quick:
            n = args.ours_frames
            clip = synthetic_clip(tmp / f"clip_ours{n}.mp4", n)
            rows.append(upscale(f"ours {n} frames 144x180", clip, tmp / "out_ours", "ours"))
        hd = Path(os.environ.get("VSR_SHARED_DATA", "/work/shared/data")) / "clips" / "bigbuckbunny.mp4"
        if not args.skip_hd and hd.is_file():
            hd_runs = [("HD small model L=7", small, ["--max_frames", 7 if not args.quick else 1])]
            if not args.skip_ours and not args.quick:
                hd_runs.append(("HD ours L=1", "ours", ["--seq_len", 1, "--max_frames", 1]))
            for label, model, extra in hd_runs:
                row = upscale(label, hd, tmp / f"hd_{Path(str(model)).stem}", model, *extra)
                rows.append(row)
                checks[f"{label}: peak < 8 GiB"] = {
                    "peak_gib": row["max_rss_bytes"] / GIB, "limit_gib": HD_LIMIT_BYTES / GIB,
                    "ok": bool(row["returncode"] == 0 and row["max_rss_bytes"] < HD_LIMIT_BYTES)}
        elif not args.skip_hd:
            print(f"skipping the HD runs: {hd} not found", flush=True)
    for name, check in checks.items():
        print(f"{'OK ' if check['ok'] else 'FAIL'} {name}: "
              + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in check.items() if k != "ok"), flush=True)
    if args.output:
        from vsr_latent.atomic import write_json
        from vsr_latent.hardware import cpu_model

        write_json(args.output, {"cpu": cpu_model(), "load_average_1min": os.getloadavg()[0],
                                 "rows": rows, "checks": checks})
    return 0 if all(c["ok"] for c in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
