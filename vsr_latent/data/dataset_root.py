"""The on-disk layout of a dataset root made by ``python -m data_tools.make_dataset``.

::

    ROOT/dataset.json                 index: clip length, seed, split sizes, clip ids per split
    ROOT/clips/<clip_id>/frames.npy   frames of one clip (105 by default), one raw uint8 array
                                      (T, H, W, 3) that training reads crop-first (raw_frames)
    ROOT/clips/<clip_id>/00000000.png or, in roots made before it (or with --format png / jpg),
                                      one lossless PNG (or JPEG) file a frame
    ROOT/clips/<clip_id>/manifest.json  source, frame range, size, split, resize applied
    ROOT/clips/<clip_id>/key_frames/  external key frames (Remote clips only, select_remote)
    ROOT/remote.json                  Remote selection: every measured value and decision

Each clip folder is written aside and renamed when complete (``vsr_latent.atomic.atomic_dir``),
so a folder with a ``manifest.json`` under ``clips/`` is always a finished clip.
"""

import json
from pathlib import Path

from vsr_latent.configs.budgets import cpu_root_difference
from vsr_latent.data import raw_frames
from vsr_latent.data.video_io import FolderSource, list_frame_files, natural_key, read_image
from vsr_latent.errors import InputError

CLIPS_DIR = "clips"
MANIFEST = "manifest.json"
INDEX = "dataset.json"
KEY_FRAMES_DIR = "key_frames"
REMOTE_REPORT = "remote.json"


def _check_manifest(path, m):
    """Raises InputError unless ``m`` has the fields a clip needs, of the right types."""

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if not isinstance(m, dict):
        raise InputError(path, f"clip manifest must be a JSON object, got {type(m).__name__}")
    size = m.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(is_int(v) and v > 0 for v in size)):
        raise InputError(path, f"clip manifest: 'size' must be [H, W] (positive integers), "
                               f"got {size!r}")
    if "num_frames" in m and not (is_int(m["num_frames"]) and m["num_frames"] >= 0):
        raise InputError(path, f"clip manifest: 'num_frames' must be a count, "
                               f"got {m['num_frames']!r}")
    if not isinstance(m.get("remote", {}), dict):
        raise InputError(path, f"clip manifest: 'remote' must be an object, got {m['remote']!r}")


def root_settings(root):
    """The make_dataset settings a root was made with, from its index: ``{"clip_len": int,
    "max_size": "WxH" or None}`` (None: frames kept at their size)."""
    path = Path(root) / INDEX
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no dataset index: not a root made by data_tools.make_dataset")
    except ValueError as e:
        raise InputError(path, f"dataset index is not valid JSON ({e})")
    return index_settings(index, path)


def cpu_root_warning(root):
    """A warning naming how ``root`` differs from the cpu budget's make_dataset settings, or None.
    Such a root still trains, but not the recipe the budget (and the shipped card) describes."""
    difference = cpu_root_difference(root_settings(root))
    return f"Warning: {root}: {difference}" if difference else None


def index_settings(index, path):
    """:func:`root_settings` of an index already read from ``path`` (named in errors)."""
    clip_len = index.get("clip_len") if isinstance(index, dict) else None
    size = index.get("max_size") if isinstance(index, dict) else None
    if not (isinstance(clip_len, int) and clip_len > 0):
        raise InputError(path, f"dataset index: 'clip_len' must be a positive integer, "
                               f"got {clip_len!r}")
    if size is not None and not (isinstance(size, list) and len(size) == 2):
        raise InputError(path, f"dataset index: 'max_size' must be [H, W] or null, got {size!r}")
    return {"clip_len": clip_len, "max_size": f"{size[1]}x{size[0]}" if size else None}


class Clip:
    """One finished clip: ``dir``, ``manifest`` (dict), ``size`` (H, W), ``format`` ("raw": one
    ``frames.npy``; "image": a file a frame, ``frames`` their paths) and its frames
    (:meth:`iter_frames`, :meth:`read_frame`)."""

    def __init__(self, clip_dir):
        self.dir = Path(clip_dir)
        mpath = self.dir / MANIFEST
        try:
            self.manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InputError(mpath, f"unreadable clip manifest ({e})") from None
        _check_manifest(mpath, self.manifest)
        self.raw_path = self.dir / raw_frames.RAW_FRAMES
        if self.raw_path.is_file():
            self.format = "raw"
            self.frames = []
            _, shape = raw_frames.layout(self.raw_path)
            num_frames, size = shape[0], shape[1:3]
        else:
            self.format = "image"
            self.raw_path = None
            self.frames = list_frame_files(self.dir)
            num_frames, size = len(self.frames), tuple(self.manifest["size"])
        if num_frames != self.manifest.get("num_frames", num_frames):
            raise InputError(
                self.dir,
                f"clip has {num_frames} frames, its manifest says {self.manifest['num_frames']}",
            )
        if tuple(size) != tuple(self.manifest["size"]):
            raise InputError(self.raw_path, f"frames are {size[1]}x{size[0]}, the manifest says "
                                            f"{self.manifest['size'][1]}x{self.manifest['size'][0]}")
        self.num_frames = num_frames
        self.size = tuple(self.manifest["size"])
        self.id = self.manifest.get("clip_id", self.dir.name)
        self.split = self.manifest.get("split")

    @property
    def key_frames(self):
        d = self.dir / KEY_FRAMES_DIR
        return list_frame_files(d) if d.is_dir() else []

    @property
    def remote(self):
        return bool(self.manifest.get("remote", {}).get("selected", False))

    def iter_frames(self):
        """The clip's frames in order, uint8 (H, W, 3), one in memory at a time."""
        if self.format == "raw":
            yield from raw_frames.iter_frames(self.raw_path)
            return

        with FolderSource(self.dir) as src:
            yield from src

    def read_frame(self, index):
        """Frame ``index`` (uint8 (H, W, 3))."""
        if self.format == "raw":
            return raw_frames.read_boxes(self.raw_path, index, [0], [0], 1, *self.size)[0, 0]

        return read_image(self.frames[index])

    def __len__(self):
        return self.num_frames

    def __repr__(self):
        return f"Clip({self.id!r}, split={self.split!r}, frames={len(self)}, size={self.size})"


def list_clips(root, split=None):
    """Finished clips of a dataset root (natural order of ids), optionally of one split."""
    root = Path(root)
    cdir = root / CLIPS_DIR
    if not cdir.is_dir():
        raise InputError(root, f"not a dataset root (no {CLIPS_DIR}/ folder); make one with "
                               "`python -m data_tools.make_dataset`")
    clips = [
        Clip(d)
        for d in sorted(cdir.iterdir(), key=lambda p: natural_key(p.name))
        if d.is_dir() and not d.name.startswith(".") and (d / MANIFEST).is_file()
    ]
    if split is not None:
        clips = [c for c in clips if c.split == split]
    return clips


def _looks_like_frame_folders(root):
    """A test-set layout (Vid4's ``GT/<sequence>/`` or ``<sequence>/`` of images), not a root."""
    root = Path(root)
    for d in (root / "GT", root):
        if d.is_dir() and any(sub.is_dir() and list_frame_files(sub) for sub in d.iterdir()):
            return True
    return False


def check_training_root(root, seq_len, *, field="data.source", val_clips=0):
    """Raises InputError at once (one line naming ``field`` and the fix) unless ``root`` is a
    finished dataset root that can train clips of ``seq_len`` frames and score ``val_clips``
    validation clips: a dataset root (not a Vid4-style folder of sequences), every clip its index
    lists finished, train and validation clips present, none shorter than L."""
    root = Path(root)
    make = f"`python -m data_tools.make_dataset SRC {root}`"
    if not root.is_dir():
        raise InputError(root, f"{field}: no such folder; make a dataset root with {make}")
    if not (root / CLIPS_DIR).is_dir():
        if _looks_like_frame_folders(root):
            raise InputError(root, f"{field}: this is a folder of frame sequences (a Vid4-style "
                                   f"test set), not a training root; make one from your training "
                                   f"videos with {make} (test sets are never trained on)")
        raise InputError(root, f"{field}: not a dataset root (no {CLIPS_DIR}/ folder); make one "
                               f"with {make}")
    index_path = root / INDEX
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(index_path, f"{field}: no dataset index, the root is unfinished; rerun "
                                     f"{make} (it resumes)") from None
    except ValueError as e:
        raise InputError(index_path, f"dataset index is not valid JSON ({e})") from None
    clips = list_clips(root)
    by_split = {"train": [], "validation": []}
    for c in clips:
        by_split.setdefault(c.split, []).append(c)
    splits = index.get("splits") if isinstance(index, dict) else None
    for split, listed in (splits or {}).items():
        have = {c.id for c in by_split.get(split, [])}
        missing = [cid for cid in listed if cid not in have]
        if missing:
            raise InputError(root, f"{field}: the index lists {len(listed)} {split} clips but "
                                   f"{len(missing)} are not finished (first: {missing[0]}); rerun "
                                   f"{make} to finish the root (it resumes)")
    for split in ("train", "validation"):
        if not by_split[split]:
            raise InputError(root, f"{field}: the root has no {split} clips; remake it with "
                                   f"more sources or other --num_train/--num_val")
    if val_clips and len(by_split["validation"]) < val_clips:
        raise InputError(root, f"{field}: {len(by_split['validation'])} validation clip(s), fewer "
                               f"than the {val_clips} asked for; make the root with more "
                               f"validation clips (--num_val) or ask for fewer")
    for c in by_split["train"] + by_split["validation"]:
        if len(c) < seq_len:
            raise InputError(c.dir, f"{field}: clip has {len(c)} frames, fewer than L = "
                                    f"{seq_len} (model.seq_len); remake the root with "
                                    f"--clip_len {seq_len} or more")
    return by_split
