"""Clip ingestion: a folder of video sources -> a dataset root of 105-frame clips with manifests.

    python -m data_tools.make_dataset SOURCES ROOT [--max_size 1920x1080] [--seed 0]

SOURCES is searched recursively for encoded videos (.mp4 .mov .mkv .avi .webm .m4v, and raw
H.264 / H.265 elementary streams .264 .h264 .265 .hevc), raw YUV 4:2:0
files (.yuv; frame size and bit depth from ``--yuv_size`` / ``--yuv_bit_depth``, or from the file
name, e.g. ``Campfire_3840x2160_10bit.yuv`` — SJTU 4K style) and folders of frames (PNG/JPEG). These
are the paper's Harmonic, CDVL and SJTU 4K downloads (§7), which users obtain themselves.

Each source is cut into non-overlapping clips of ``--clip_len`` consecutive frames (105, the paper's
clip length; the remainder of a source is left out). A source shorter than one clip is left out,
unless it has at least ``--min_clip_len`` frames: then it becomes one clip of all its frames (a
short 1080p test stream beside 105-frame clips, say). Each clip is one atomic folder
``ROOT/clips/<clip_id>/`` with a ``manifest.json`` (source, frame range, size, split, resize) and
its frames: by default one raw uint8 array ``frames.npy`` (T, H, W, 3) that training reads
crop-first, only the pixels of each sample's box (``vsr_latent.data.raw_frames`` says why this
format); ``--format png`` (lossless) or ``--format jpg`` (quality 95) write a file a frame
instead, smaller on disk but decoded whole for every window. ``python -m data_tools.convert_root``
turns a PNG/JPEG root into a raw one. Layout in ``vsr_latent.data.dataset_root``.

Split (paper: 200 train / 30 validation of 230 clips) **by source**: every clip of one source
lands on the same side, so neighbouring clips of one shot never sit on both sides. Sources are
shuffled with ``--seed`` and taken into validation while that brings the number of validation
clips closer to ``round(N * 30 / 230)`` (at least one source each side when there are two or
more) — exactly 200 / 30 for 230 one-clip sources, as close as the sources allow otherwise
(``--num_train`` / ``--num_val`` set the ratio; ``--num_train 0`` puts every clip in validation).
A dataset made from one source cannot be split by source: its last clips go to validation, with
a warning. The split depends only on the clip list and the seed; ``dataset.json`` records it.

Every file or folder under SOURCES that is not ingested is named with the reason (not a video,
raw YUV or frame folder; fewer frames than one clip), on stderr and in ``dataset.json``.

Large frames (4K) can be reduced with ``--max_size WxH``: ``--resize downscale`` (default; MATLAB
bicubic with antialiasing, aspect ratio kept) or ``--resize crop`` (centre crop). Sizes are then
cropped to multiples of 4 (``--multiple``) so every clip degrades cleanly by 4.

Resumable: each clip folder is written aside and renamed when complete (``vsr_latent.atomic``), so a
rerun skips finished clips, and an interrupted clip never looks finished (its leftover ``.part``
folder is removed by the next run). ``ROOT/dataset.json`` indexes the clips at the end.
"""

import argparse
import os
import re
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vsr_latent.atomic import atomic_dir, write_json
from vsr_latent.command_runner import OneLineErrorParser, run_command
from vsr_latent.data.dataset_root import CLIPS_DIR, INDEX, MANIFEST
from vsr_latent.data.raw_frames import RAW_FRAMES, RawClipWriter
from vsr_latent.data.resize_weights import matlab_imresize_matrix
from vsr_latent.data.video_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, natural_key, open_frames
from vsr_latent.errors import ConfigError, InputError

#: The paper's clip length (§7) and split (200 train / 30 validation).
CLIP_LEN = 105
NUM_TRAIN = 200
NUM_VAL = 30
#: Sizes are cropped to multiples of this (the SR scale) after any resize.
SIZE_MULTIPLE = 4
RESIZE_MODES = ("downscale", "crop")
FORMATS = ("raw", "png", "jpg")
#: The default clip format: crop-first reading (see the module docstring).
DEFAULT_FORMAT = "raw"
#: PNG compression level (0-9): 3 writes several times faster than 9 for a few % more disk.
PNG_COMPRESS_LEVEL = 3
JPEG_QUALITY = 95


def parse_size(text):
    """'WxH' -> (H, W)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def yuv_params_from_name(path, yuv_size=None, yuv_bit_depth=None):
    """Frame size and bit depth of a raw YUV file: the options, else ``WxH`` / ``10bit`` in its name."""
    name = Path(path).name
    size = yuv_size
    if size is None:
        m = re.search(r"(\d{2,5})x(\d{2,5})", name)
        if not m:
            raise InputError(path, "raw YUV without a frame size: give --yuv_size WxH "
                                   "(or name the file like NAME_3840x2160.yuv)")
        size = (int(m.group(2)), int(m.group(1)))
    depth = yuv_bit_depth
    if depth is None:
        m = re.search(r"(8|10)[-_]?bit", name, re.IGNORECASE)
        depth = int(m.group(1)) if m else 8
    return size, depth


def find_sources(src_dir, skipped=None):
    """Video files, .yuv files and frame folders under ``src_dir`` (natural order).

    Files that are none of these and sit outside frame folders are appended to ``skipped`` as
    ``(path, reason)`` (when given), so that nothing is left out without a word.
    """
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise InputError(src_dir, "the sources folder does not exist")
    found = []
    walked = _walk(src_dir, skipped)
    candidates = [src_dir] + sorted(walked, key=lambda q: natural_key(str(q)))
    for p in candidates:
        if any(part.startswith(".") for part in p.relative_to(src_dir).parts):
            if skipped is not None and p.is_file() and not any(
                    part.startswith(".") for part in p.relative_to(src_dir).parts[:-1]):
                skipped.append((p, "hidden file (its name starts with a dot)"))
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS + (".yuv",):
            found.append(p)
        elif p.is_dir() and any(
            q.is_file() and q.suffix.lower() in IMAGE_EXTENSIONS and not q.name.startswith(".")
            for q in p.iterdir()
        ):
            found.append(p)
        elif (p.is_file() and skipped is not None and p.suffix.lower() not in IMAGE_EXTENSIONS):
            skipped.append((p, "not a video, raw YUV file or frame folder"))
    if not found:
        raise InputError(src_dir, "empty: no videos (.mp4 .mov .mkv .avi ...), .yuv files or "
                                  "frame folders found")
    return found


def _walk(src_dir, skipped):
    """Every path under ``src_dir``, following symbolic links to folders and files (researchers
    link their downloads into a source tree), each real folder entered once: a link back to a
    folder already entered (a loop, or a second link to the same download) is named in
    ``skipped`` instead of entered again; so is a link that points nowhere. Paths stay under
    ``src_dir`` as written (the link's name, not its target's), so names and slugs are stable."""
    out, entered = [], {os.path.realpath(src_dir)}
    stack = [Path(src_dir)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError as e:
            if skipped is not None:
                skipped.append((folder, f"unreadable folder ({e.strerror or e})"))
            continue
        for p in entries:
            if p.is_symlink() and not p.exists():
                if skipped is not None:
                    skipped.append((p, f"broken symbolic link (to {os.readlink(p)})"))
                continue
            if p.is_dir():
                real = os.path.realpath(p)
                if real in entered:
                    if skipped is not None:
                        skipped.append((p, f"link to a folder already read ({real}): "
                                           "not read twice"))
                    continue
                entered.add(real)
                stack.append(p)
            out.append(p)
    return out


def slug(src_dir, path):
    rel = Path(path).relative_to(src_dir)
    if not rel.parts:  # SOURCES is itself a frame folder
        rel = Path(Path(src_dir).resolve().name)
    text = "_".join(rel.with_suffix("").parts) if Path(path).is_file() else "_".join(rel.parts)
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "source"


def source_name(src_dir, path):
    """The source's path relative to SOURCES (its own name when SOURCES is the source)."""
    rel = Path(path).relative_to(src_dir)
    return str(rel) if rel.parts else Path(src_dir).resolve().name


def target_size(size, max_size, mode, multiple):
    """(H, W) after the optional resize and the crop to multiples; and the resize factor."""
    h, w = size
    factor = 1.0
    if max_size is not None and (h > max_size[0] or w > max_size[1]):
        if mode == "downscale":
            factor = min(max_size[0] / h, max_size[1] / w)
            h, w = int(np.floor(h * factor)), int(np.floor(w * factor))
        else:
            h, w = min(h, max_size[0]), min(w, max_size[1])
    return (h - h % multiple, w - w % multiple), factor


class FrameResizer:
    """Applies the planned downscale/crop to one frame (uint8 in, uint8 out)."""

    def __init__(self, size, max_size, mode, multiple):
        self.size = tuple(size)
        self.out, self.factor = target_size(size, max_size, mode, multiple)
        self.mode = mode if self.factor != 1.0 or max_size is not None else None
        self.resample = None
        if mode == "downscale" and self.factor < 1.0:
            h, w = self.size
            rh, rw = int(np.floor(h * self.factor)), int(np.floor(w * self.factor))
            self.resample = (
                matlab_imresize_matrix(h, rh, rh / h).astype(np.float32),
                matlab_imresize_matrix(w, rw, rw / w).astype(np.float32),
            )

    def __call__(self, frame):
        x = frame
        if self.resample is not None:
            wh, ww = self.resample
            x = np.einsum("ih,hwc->iwc", wh, x.astype(np.float32), optimize=True)
            x = np.einsum("jw,iwc->ijc", ww, x, optimize=True)
            x = np.clip(np.round(x), 0, 255).astype(np.uint8)
        oh, ow = self.out
        top, left = (x.shape[0] - oh) // 2, (x.shape[1] - ow) // 2
        return np.ascontiguousarray(x[top : top + oh, left : left + ow])

    def describe(self):
        return {"mode": self.mode, "factor": self.factor, "from": list(self.size), "to": list(self.out)}


def assign_splits(clip_ids, seed, num_train=NUM_TRAIN, num_val=NUM_VAL, sources=None):
    """{clip_id: "train" | "validation"}, split by source (see the module docstring).

    ``sources`` maps each clip id to its source; without it every clip is its own source. The
    result depends only on the clips, their sources and ``seed`` (not on the order given).
    """
    ids = sorted(clip_ids)
    n = len(ids)
    if sources is None:
        sources = {c: c for c in ids}
    groups = {}
    for c in ids:
        groups.setdefault(sources[c], []).append(c)
    names = sorted(groups)
    n_val = round(n * num_val / (num_train + num_val))
    if n >= 2 and num_val > 0 and num_train > 0:
        n_val = min(max(n_val, 1), n - 1)
    if num_train <= 0 or num_val <= 0 or n_val == 0:
        side = "validation" if num_train <= 0 else "train"
        return {c: side for c in ids}
    if len(names) == 1:
        warnings.warn(
            f"one source ({names[0]}): it cannot be split by source, so its last {n_val} clip(s) "
            f"go to validation (neighbouring clips of one shot on both sides)", stacklevel=2)
        return {c: ("validation" if i >= n - n_val else "train") for i, c in enumerate(ids)}
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    val, count = set(), 0
    for name in order:
        if len(val) == len(names) - 1:
            break  # keep at least one source for training
        size = len(groups[name])
        if not val or abs(count + size - n_val) < abs(count - n_val):
            val.add(name)
            count += size
        if count >= n_val:
            break
    return {c: ("validation" if sources[c] in val else "train") for c in ids}


def open_source(path, args):
    if Path(path).is_file() and Path(path).suffix.lower() == ".yuv":
        size, depth = yuv_params_from_name(path, args.yuv_size, args.yuv_bit_depth)
        return open_frames(path, yuv_size=size, yuv_bit_depth=depth)
    return open_frames(path)


def plan(args, skipped=None):
    """[(source path, source info, [(clip_id, start)])] for every source.

    Sources and files that are not ingested are appended to ``skipped`` as (path, reason) and
    warned about.
    """
    src_dir = Path(args.sources)
    skipped = [] if skipped is None else skipped
    out = []
    for p in find_sources(src_dir, skipped):
        with open_source(p, args) as src:
            n, size, fps = src.num_frames, src.size, src.fps
        min_len = min(args.clip_len, args.min_clip_len or args.clip_len)
        if n is None or n < min_len:
            least = (f"one clip of {args.clip_len}" if min_len == args.clip_len
                     else f"--min_clip_len {min_len}")
            skipped.append((p, f"{n} frames, fewer than {least}"))
            continue
        name = slug(src_dir, p)
        if n < args.clip_len:  # one short clip of every frame
            clips = [(f"{name}_{0:06d}", 0, n)]
        else:
            k = n // args.clip_len
            if args.max_clips_per_source:
                k = min(k, args.max_clips_per_source)
            clips = [(f"{name}_{i * args.clip_len:06d}", i * args.clip_len, args.clip_len)
                     for i in range(k)]
        out.append((p, {"num_frames": n, "size": size, "fps": fps}, clips))
    for p, reason in skipped:
        warnings.warn(f"{p}: not ingested: {reason}", stacklevel=2)
    if not out:
        raise InputError(src_dir, f"no source has {args.clip_len} frames or more")
    ids = [c for _, _, clips in out for c, _, _ in clips]
    if len(set(ids)) != len(ids):
        raise InputError(src_dir, "two sources map to the same clip name; rename one of them")
    return out


def remove_stale_parts(clips_dir):
    if not clips_dir.is_dir():
        return
    for d in clips_dir.iterdir():
        if d.name.startswith(".") and ".part" in d.name:
            shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)


def write_frame(path, frame, fmt):
    import imageio.v3 as iio

    if fmt == "png":
        iio.imwrite(path, frame, extension=".png", compress_level=PNG_COMPRESS_LEVEL)
    else:
        iio.imwrite(path, frame, extension=".jpg", quality=JPEG_QUALITY)


class ClipWriter:
    """Writes one clip's frames into its (temporary) folder in ``fmt``: one raw array
    (``raw_frames.RAW_FRAMES``) or a numbered image file a frame."""

    def __init__(self, folder, num_frames, size, fmt):
        self.folder, self.fmt, self.index = Path(folder), fmt, 0
        self.raw = None
        if fmt == "raw":
            self.raw = RawClipWriter(self.folder / RAW_FRAMES, num_frames, size)

    def write(self, frame):
        if self.raw is not None:
            self.raw.write(frame)
        else:
            write_frame(self.folder / f"{self.index:08d}.{self.fmt}", frame, self.fmt)
        self.index += 1

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        if self.raw is not None:
            self.raw.__exit__(kind)


def ingest_source(path, info, clips, splits, args, root, bar):
    """Decodes one source once, writing each of its unfinished clips into an atomic folder."""
    clips_dir = root / CLIPS_DIR
    todo = [c for c in clips if not (clips_dir / c[0] / MANIFEST).is_file()]
    skipped = len(clips) - len(todo)
    bar.update(sum(c[2] for c in clips) - sum(c[2] for c in todo))
    if not todo:
        return 0, skipped
    resizer = FrameResizer(info["size"], args.max_size, args.resize, args.multiple)
    starts = {start: (cid, length) for cid, start, length in todo}
    written = 0
    with open_source(path, args) as src:
        frames = iter(src)

        def next_frame():
            try:
                return next(frames)
            except StopIteration:
                raise InputError(path, f"ended at frame {index}, before the announced "
                                       f"{info['num_frames']} frames (truncated?)") from None

        index = 0
        last_end = max(start + length for start, (_, length) in starts.items())
        while index < last_end:
            if index not in starts:
                next_frame()
                index += 1
                continue
            cid, length = starts[index]
            with atomic_dir(clips_dir / cid) as tmp:
                with ClipWriter(tmp, length, resizer.out, args.format) as writer:
                    for _ in range(length):
                        writer.write(resizer(next_frame()))
                        bar.update(1)
                manifest = {
                    "clip_id": cid,
                    "source": source_name(args.sources, path),
                    "source_path": str(Path(path).resolve()),
                    "source_fps": info["fps"],
                    "source_num_frames": info["num_frames"],
                    "frame_range": [index, index + length],
                    "num_frames": length,
                    "size": list(resizer.out),
                    "source_size": list(info["size"]),
                    "resize": resizer.describe(),
                    "split": splits[cid],
                    "split_seed": args.seed,
                    "split_by": "source",
                    "format": args.format,
                }
                write_json(tmp / MANIFEST, manifest)
            written += 1
            index += length
    return written, skipped


def make_dataset(args):
    if args.clip_len < 1:
        raise ConfigError("--clip_len must be >= 1")
    if args.min_clip_len is not None and args.min_clip_len < 1:
        raise ConfigError("--min_clip_len must be >= 1")
    root = Path(args.root)
    skipped = []
    sources = plan(args, skipped)
    all_ids = [cid for _, _, clips in sources for cid, _, _ in clips]
    source_of = {cid: source_name(args.sources, p) for p, _, clips in sources
                 for cid, _, _ in clips}
    splits = assign_splits(all_ids, args.seed, args.num_train, args.num_val, sources=source_of)
    remove_stale_parts(root / CLIPS_DIR)
    total = sum(length for _, _, clips in sources for _, _, length in clips)
    written = skipped_clips = 0
    with tqdm(total=total, unit="frame", desc="clips", disable=args.no_progress) as bar:
        for path, info, clips in sources:
            w, s = ingest_source(path, info, clips, splits, args, root, bar)
            written += w
            skipped_clips += s
    index = {
        "format": "vsr_latent clips",
        "version": 1,
        "clip_len": args.clip_len,
        "min_clip_len": args.min_clip_len,
        "seed": args.seed,
        "num_clips": len(all_ids),
        "splits": {
            "train": sorted(c for c in all_ids if splits[c] == "train"),
            "validation": sorted(c for c in all_ids if splits[c] == "validation"),
        },
        "split_by": "source",
        "sources": [source_name(args.sources, p) for p, _, _ in sources],
        "source_splits": {
            source_name(args.sources, p): splits[clips[0][0]] for p, _, clips in sources
        },
        "not_ingested": [
            {"path": source_name(args.sources, p), "reason": reason} for p, reason in skipped
        ],
        "max_size": list(args.max_size) if args.max_size else None,
        "resize": args.resize,
    }
    write_json(root / INDEX, index)
    return {"written": written, "skipped": skipped_clips, "clips": len(all_ids),
            "train": len(index["splits"]["train"]), "validation": len(index["splits"]["validation"]),
            "not_ingested": index["not_ingested"]}


def build_parser():
    p = OneLineErrorParser(
        prog="python -m data_tools.make_dataset",
        description=__doc__.split("\n\n")[0] + " Resumable; see the module docstring for details.",
    )
    p.add_argument("sources", metavar="SOURCES", help="folder of downloaded videos / .yuv / frame folders")
    p.add_argument("root", metavar="ROOT", help="dataset root to create or complete")
    p.add_argument("--clip_len", type=int, default=CLIP_LEN, help=f"frames per clip (default {CLIP_LEN})")
    p.add_argument("--min_clip_len", type=int, default=None, metavar="N",
                   help="keep a source shorter than --clip_len but at least N frames long as one "
                        "clip of all its frames (default: leave it out)")
    p.add_argument("--num_train", type=int, default=NUM_TRAIN, help="train share of the split ratio (default 200)")
    p.add_argument("--num_val", type=int, default=NUM_VAL, help="validation share of the split ratio (default 30)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--max_size", type=parse_size, default=None, metavar="WxH",
                   help="reduce larger frames to fit WxH (e.g. 1920x1080); default: keep")
    p.add_argument("--resize", choices=RESIZE_MODES, default="downscale",
                   help="how --max_size is met: bicubic downscale (default) or centre crop")
    p.add_argument("--multiple", type=int, default=SIZE_MULTIPLE,
                   help=f"crop sizes to multiples of this (default {SIZE_MULTIPLE}, the SR scale)")
    p.add_argument("--max_clips_per_source", type=int, default=None, metavar="N",
                   help="at most N clips from each source (default: all)")
    p.add_argument("--format", choices=FORMATS, default=DEFAULT_FORMAT,
                   help="raw: one uint8 array a clip, read crop-first (default); png / jpg: a "
                        "file a frame (lossless / quality 95), decoded whole")
    p.add_argument("--yuv_size", type=parse_size, default=None, metavar="WxH",
                   help="frame size of .yuv sources (default: from the file name)")
    p.add_argument("--yuv_bit_depth", type=int, choices=(8, 10), default=None,
                   help="bit depth of .yuv sources (default: from the file name, else 8)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def work():
        r = make_dataset(args)
        print(f"{args.root}: {r['clips']} clips ({r['train']} train, {r['validation']} "
              f"validation, split by source); {r['written']} written, {r['skipped']} already "
              f"finished")
        for item in r["not_ingested"]:
            print(f"  not ingested: {item['path']}: {item['reason']}")

    return run_command("make_dataset", work)


if __name__ == "__main__":
    sys.exit(main())
