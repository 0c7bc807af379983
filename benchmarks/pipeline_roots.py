"""The input-pipeline benchmark's dataset roots, from the real 1080p stream of the shared data.

    python benchmarks/pipeline_roots.py OUT [--shared ../shared/data] [--frames 42]

From ``train_clips/openh264_drive1080`` (a real 1920x1080 H.264 stream; the paper's HD sets are
not available here) makes four sources with the ffmpeg that imageio-ffmpeg ships: the stream as
it is (1080p, 8-bit), the same frames as 10-bit 4:2:0 raw YUV (1080p, 10-bit), and both upscaled
to 3840x2160 with Lanczos (4K 8-bit H.264 at crf 18; 4K 10-bit raw YUV, SJTU 4K's format). Each
becomes two roots of 14-frame training clips made by ``data_tools.make_dataset``: ``--format
png`` (today's frame files) and ``--format raw`` (crop-first). Prints the disk per frame of each
and writes ``OUT/roots.json``.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STREAM = "train_clips/openh264_drive1080/VID_1920x1080_cabac_temporal_direct.264"
CLIP_LEN = 14


def ffmpeg(*args):
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args],
                   check=True)


def make_sources(out, stream, frames):
    sources = {
        "1080p_8bit": ("drive1080.264", None),  # the stream itself, linked
        "1080p_10bit": ("drive_1920x1080_10bit.yuv",
                        ["-i", stream, "-frames:v", str(frames), "-pix_fmt", "yuv420p10le",
                         "-f", "rawvideo"]),
        "4k_8bit": ("drive4k.mp4", ["-i", stream, "-frames:v", str(frames), "-vf",
                                    "scale=3840:2160:flags=lanczos", "-c:v", "libx264", "-crf",
                                    "18", "-pix_fmt", "yuv420p"]),
        "4k_10bit": ("drive4k_3840x2160_10bit.yuv",
                     ["-i", stream, "-frames:v", str(frames), "-vf",
                      "scale=3840:2160:flags=lanczos", "-pix_fmt", "yuv420p10le",
                      "-f", "rawvideo"]),
    }
    made = {}
    for name, (file, args) in sources.items():
        folder = out / "sources" / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / file
        if args is None:
            if not path.exists():
                path.symlink_to(Path(stream).resolve())
        elif not path.exists():
            ffmpeg(*args, str(path))
        made[name] = folder
    return made


def disk_per_frame(root):
    files = [f for f in (root / "clips").rglob("*") if f.is_file() and f.name != "manifest.json"]
    frames = sum(json.loads(m.read_text())["num_frames"]
                 for m in (root / "clips").glob("*/manifest.json"))
    return sum(f.stat().st_size for f in files) / frames


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--frames", type=int, default=42)
    args = p.parse_args(argv)
    from data_tools.make_dataset import main as make_dataset

    out = Path(args.out)
    stream = Path(args.shared) / STREAM
    if not stream.is_file():
        sys.exit(f"{stream}: not found (the shared data's 1080p stream)")
    record = {}
    for name, folder in make_sources(out, str(stream), args.frames).items():
        for fmt in ("png", "raw"):
            root = out / f"{name}_{fmt}"
            code = make_dataset([str(folder), str(root), "--clip_len", str(CLIP_LEN),
                                 "--num_train", "1", "--num_val", "0", "--format", fmt,
                                 "--no_progress"])
            if code:
                sys.exit(f"make_dataset failed for {folder}")
            per_frame = disk_per_frame(root)
            record[f"{name}_{fmt}"] = {"root": str(root), "bytes_per_frame": per_frame}
            print(f"{name:12s} {fmt:4s} {per_frame / 2**20:7.2f} MiB a frame  {root}")
    (out / "roots.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
