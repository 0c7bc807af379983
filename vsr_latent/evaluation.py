"""Scoring super-resolved sequences against ground truth under a named protocol.

Protocols (:data:`PROTOCOLS`, one :class:`Protocol` each):

- ``paper``: the paper's Table 4 protocol — the first frame and the last two of each sequence are
  dropped and 8 pixels are cropped at every border; PSNR/SSIM reported on RGB and on Y.
- ``standard``: what BasicSR / mmagic report for Vid4 — every frame, no crop, Y channel.

Every result carries all four numbers (PSNR and SSIM, on RGB and on Y, see
:mod:`vsr_latent.metrics`) per frame, per sequence (mean over its frames) and on average (mean over
sequences, as the Vid4 tables do); ``Protocol.primary_channel`` names the one a protocol headlines.

Super-resolved frames are clipped to [0, 255] and rounded to uint8 before scoring (:func:`to_uint8`,
``QUANTIZE_SR``), as the literature does: its numbers are computed on saved 8-bit images.

Inputs: in-memory sequences (:func:`evaluate_sequences`), folders of already-upscaled frames
against ground-truth folders (:func:`evaluate_folders`, so other methods' outputs are scored by the
same code), or a predictor on a dataset (:func:`evaluate_predictor`).
"""

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vsr_latent import metrics
from vsr_latent.errors import ConfigError, InputError

METRICS = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# Scores are computed on 8-bit frames, as saved images would be (the literature's practice).
QUANTIZE_SR = True
SCALE = 4
# LR folders of a dataset root next to GT/, by degradation (the Vid4 distributions' names).
LR_FOLDERS = {"bi": "BIx4", "bd": "BDx4"}
DATASETS = ("vid4", "builtin")


@dataclass(frozen=True)
class Protocol:
    """How frames are selected and cropped before scoring."""

    name: str
    drop_first: int
    drop_last: int
    crop_border: int
    primary_channel: str  # "y" or "rgb": the channel the protocol's tables headline
    description: str

    def frame_indices(self, num_frames, *, where=None):
        """The indices of the frames scored in a sequence of ``num_frames``."""
        kept = range(self.drop_first, num_frames - self.drop_last)
        if len(kept) < 1:
            raise InputError(where, f"{num_frames} frame(s) is too few for the {self.name!r} "
                             f"protocol (drops the first {self.drop_first} and last "
                             f"{self.drop_last})")
        return kept

    def score(self, sr, gt):
        """The four metrics of one frame pair (arrays on [0, 255])."""
        c = self.crop_border
        return {
            "psnr_rgb": metrics.psnr(sr, gt, crop_border=c),
            "psnr_y": metrics.psnr(sr, gt, crop_border=c, y_channel=True),
            "ssim_rgb": metrics.ssim(sr, gt, crop_border=c),
            "ssim_y": metrics.ssim(sr, gt, crop_border=c, y_channel=True),
        }


PROTOCOLS = {
    # Headline Y (GAP: the paper does not say): Table 4's other methods are quoted from the
    # Vid4 literature (DUF's table), which reports Y-channel PSNR, so Y is the comparable number.
    "paper": Protocol("paper", drop_first=1, drop_last=2, crop_border=8, primary_channel="y",
                      description="paper Table 4: first frame and last two dropped, "
                                  "8-pixel border cropped; RGB and Y"),
    "standard": Protocol("standard", drop_first=0, drop_last=0, crop_border=0,
                         primary_channel="y",
                         description="BasicSR/mmagic: all frames, no crop, Y channel"),
}
DEFAULT_PROTOCOL = "paper"


def get_protocol(protocol):
    """A :class:`Protocol` from its name (or the protocol itself); unknown -> ConfigError."""
    if isinstance(protocol, Protocol):
        return protocol
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol]


def to_uint8(frames):
    """Clip to [0, 255] and round half to even (numpy ``rint``), as 8-bit saving does."""
    return np.clip(np.rint(np.asarray(frames, dtype=np.float32)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Frame folders


def _natural_key(path):
    # "2.png" before "10.png": other methods' outputs are not always zero-padded.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _image_files(folder):
    return sorted((p for p in Path(folder).iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


def read_image(path):
    """One image file -> uint8 (H, W, 3) RGB (grey is repeated, alpha dropped)."""
    import imageio.v3 as iio

    try:
        img = iio.imread(path)
    except Exception as e:  # imageio's plugins raise many unrelated types
        raise InputError(path, f"cannot read image: {e}") from e
    if img.dtype != np.uint8:
        raise InputError(path, f"expected an 8-bit image, got {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] not in (1, 3, 4):
        raise InputError(path, f"unexpected image shape {img.shape}")
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return img[..., :3]


class FrameFolder:
    """The image files of one folder in natural name order ("2" before "10"), read lazily;
    indexable like an array."""

    def __init__(self, folder, name=None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(self.folder, "no such folder")
        self.files = _image_files(self.folder)
        if not self.files:
            raise InputError(self.folder, f"no image files ({', '.join(IMAGE_SUFFIXES)})")
        self.name = name or self.folder.name

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return read_image(self.files[i])

    def read_all(self):
        return np.stack([self[i] for i in range(len(self))])


def sequence_folders(root):
    """``{name: folder}`` for a folder that is either one sequence of frames (its own name) or a
    folder of sequence sub-folders."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such folder")
    if _image_files(root):
        return {root.name: root}
    subs = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and _image_files(p)}
    if not subs:
        raise InputError(root, "holds neither image files nor sub-folders of image files")
    return subs


def _select(names, sequences, where):
    if not sequences:
        return list(names)
    missing = [s for s in sequences if s not in names]
    if missing:
        raise InputError(where, f"no sequence(s) {', '.join(missing)}; found: {', '.join(names)}")
    return [n for n in names if n in sequences]


# --------------------------------------------------------------------------------------------
# Results


def _mean(values):
    return float(np.mean(values)) if len(values) else float("nan")


@dataclass
class SequenceResult:
    """Per-frame scores of one sequence; ``frames`` are the original (0-based) frame indices."""

    name: str
    frames: list = field(default_factory=list)
    scores: dict = field(default_factory=lambda: {m: [] for m in METRICS})
    files: list = field(default_factory=list)

    def add(self, index, score, file=None):
        self.frames.append(int(index))
        self.files.append("" if file is None else str(file))
        for m in METRICS:
            self.scores[m].append(float(score[m]))

    def mean(self):
        return {m: _mean(self.scores[m]) for m in METRICS}


@dataclass
class EvaluationResult:
    protocol: Protocol
    sequences: dict = field(default_factory=dict)  # name -> SequenceResult, in evaluation order

    def average(self):
        """Mean over sequences of the per-sequence means."""
        means = [s.mean() for s in self.sequences.values()]
        return {m: _mean([x[m] for x in means]) for m in METRICS}

    def to_dict(self):
        """The ``--json`` object; non-finite numbers (identical frames' PSNR) become null."""

        def clean(d):
            return {k: (v if math.isfinite(v) else None) for k, v in d.items()}

        return {
            "protocol": self.protocol.name,
            "sequences": {
                name: {**clean(s.mean()), "frames": len(s.frames)}
                for name, s in self.sequences.items()
            },
            "average": clean(self.average()),
        }

    def frames_csv(self):
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["sequence", "frame", "file", *METRICS])
        for name, s in self.sequences.items():
            for i, (idx, file) in enumerate(zip(s.frames, s.files)):
                w.writerow([name, idx, file, *(f"{s.scores[m][i]:.6f}" for m in METRICS)])
        return out.getvalue()

    def sequences_csv(self):
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["sequence", "frames", *METRICS])
        for name, s in self.sequences.items():
            mean = s.mean()
            w.writerow([name, len(s.frames), *(f"{mean[m]:.6f}" for m in METRICS)])
        avg = self.average()
        w.writerow(["average", sum(len(s.frames) for s in self.sequences.values()),
                    *(f"{avg[m]:.6f}" for m in METRICS)])
        return out.getvalue()

    def markdown(self, title=None):
        p = self.protocol
        lines = []
        if title:
            lines += [f"### {title}", ""]
        lines += [f"Protocol `{p.name}`: {p.description}.", "",
                  "| sequence | frames | PSNR RGB (dB) | PSNR Y (dB) | SSIM RGB | SSIM Y |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]

        def row(name, n, d):
            return (f"| {name} | {n} | {d['psnr_rgb']:.2f} | {d['psnr_y']:.2f} | "
                    f"{d['ssim_rgb']:.4f} | {d['ssim_y']:.4f} |")

        for name, s in self.sequences.items():
            lines.append(row(name, len(s.frames), s.mean()))
        total = sum(len(s.frames) for s in self.sequences.values())
        lines.append(row("**average**", total, self.average()))
        return "\n".join(lines) + "\n"

    def write(self, out_dir, title=None):
        """``frames.csv``, ``sequences.csv``, ``results.md`` and ``results.json`` in ``out_dir``,
        each written atomically."""
        from vsr_latent.atomic import write_json, write_text

        out_dir = Path(out_dir)
        write_text(out_dir / "frames.csv", self.frames_csv())
        write_text(out_dir / "sequences.csv", self.sequences_csv())
        write_text(out_dir / "results.md", self.markdown(title))
        write_json(out_dir / "results.json", self.to_dict())
        return out_dir


# --------------------------------------------------------------------------------------------
# Evaluation


def _progress(total, enabled, desc="evaluate"):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc=desc, disable=not enabled, leave=False)


def _label(frames, name, i):
    files = getattr(frames, "files", None)
    return str(files[i]) if files is not None else f"{name} frame {i}"


def evaluate_sequences(sequences, protocol=DEFAULT_PROTOCOL, *, progress=False, quantize=QUANTIZE_SR,
                       _bar=None):
    """Score ``(name, sr, gt)`` triples; ``sr`` / ``gt`` are (T, H, W, 3) arrays on [0, 255] or
    :class:`FrameFolder` s (anything with ``len`` and integer indexing).

    SR frames are clipped and rounded to uint8 first (``quantize``). Frame count or frame size
    mismatches raise ``InputError`` naming both sides.
    """
    protocol = get_protocol(protocol)
    sequences = list(sequences)
    plan = []
    for name, sr, gt in sequences:
        where = getattr(gt, "folder", None)
        if len(sr) != len(gt):
            raise InputError(getattr(sr, "folder", None) or name,
                             f"{len(sr)} SR frame(s) but {len(gt)} ground-truth frame(s) in "
                             f"{where or name}")
        plan.append((name, sr, gt, protocol.frame_indices(len(gt), where=where or name)))
    result = EvaluationResult(protocol)
    bar = _bar if _bar is not None else _progress(sum(len(idx) for *_, idx in plan), progress)
    try:
        for name, sr, gt, indices in plan:
            seq = result.sequences[name] = SequenceResult(name)
            for i in indices:
                s, g = np.asarray(sr[i]), np.asarray(gt[i])
                if s.shape != g.shape:
                    raise InputError(_label(sr, name, i),
                                     f"SR frame {s.shape} differs in size from ground truth "
                                     f"{g.shape} ({_label(gt, name, i)})")
                if quantize:
                    s = to_uint8(s)
                gt_files = getattr(gt, "files", None)
                seq.add(i, protocol.score(s, g), gt_files[i].name if gt_files else None)
                bar.update(1)
    finally:
        if _bar is None:
            bar.close()
    return result


def evaluate_folders(sr_dir, gt_dir, protocol=DEFAULT_PROTOCOL, *, sequences=None,
                     progress=False):
    """Score folders of already-upscaled frames against ground-truth folders.

    ``sr_dir`` and ``gt_dir`` are each one sequence folder of frames or a folder of sequence
    sub-folders; frames pair up in file-name order.
    """
    gt_seqs = sequence_folders(gt_dir)
    sr_seqs = sequence_folders(sr_dir)
    if len(gt_seqs) == 1 and len(sr_seqs) == 1:
        (gt_name, gt_path), (_, sr_path) = next(iter(gt_seqs.items())), next(iter(sr_seqs.items()))
        pairs = {gt_name: (sr_path, gt_path)}
    else:
        names = _select(list(gt_seqs), sequences, gt_dir)
        missing = [n for n in names if n not in sr_seqs]
        if missing:
            raise InputError(sr_dir, f"no SR sequence folder(s) {', '.join(missing)} "
                             f"(ground truth {gt_dir} has them)")
        pairs = {n: (sr_seqs[n], gt_seqs[n]) for n in names}
    if sequences and len(pairs) == 1 and not set(pairs) & set(sequences):
        raise InputError(gt_dir, f"no sequence(s) {', '.join(sequences)}; found: {', '.join(pairs)}")
    triples = [(n, FrameFolder(s, n), FrameFolder(g, n)) for n, (s, g) in pairs.items()]
    return evaluate_sequences(triples, protocol, progress=progress)


def _degrade_lr(gt, degradation, where):
    try:
        from vsr_latent.data.degrade import degrade
    except ImportError as e:
        raise ConfigError(f"{where}: no LR frames and vsr_latent.data.degrade is unavailable "
                          f"to make them ({e})") from e
    # Quantised like LR frames read from files (and like the training pipelines' inputs).
    return to_uint8(degrade(gt, degradation, SCALE))


def dataset_sequences(dataset, *, data_root=None, degradation="bi", sequences=None):
    """``[(name, lr, gt)]`` uint8 arrays for a dataset by name.

    ``vid4`` (or any root with the same layout): ``data_root/GT/<seq>/`` frames, LR frames from
    ``data_root/BIx4/<seq>/`` (``BDx4`` for ``bd``) when present, otherwise made from the GT with
    ``vsr_latent.data.degrade``. GT frames are cropped to a multiple of the scale.
    ``builtin``: the package's built-in validation clips (no download).
    """
    if dataset == "vid4":
        if data_root is None:
            from vsr_latent.paths import shared_data_dir

            shared = shared_data_dir()
            if shared is None or not (shared / "Vid4").is_dir():
                raise ConfigError("--data_root is required for the vid4 dataset "
                                  "(a folder with GT/<sequence>/ frames)")
            data_root = shared / "Vid4"
        root = Path(data_root)
        gt_root = root / "GT"
        if not gt_root.is_dir():
            raise InputError(gt_root, "no GT folder (expected DATA_ROOT/GT/<sequence>/ frames)")
        gt_seqs = sequence_folders(gt_root)
        names = _select(list(gt_seqs), sequences, gt_root)
        out = []
        for name in names:
            gt = FrameFolder(gt_seqs[name], name).read_all()
            h, w = gt.shape[1] - gt.shape[1] % SCALE, gt.shape[2] - gt.shape[2] % SCALE
            gt = gt[:, :h, :w]
            lr_dir = root / LR_FOLDERS[degradation] / name if degradation in LR_FOLDERS else None
            if lr_dir is not None and lr_dir.is_dir():
                lr = FrameFolder(lr_dir, name).read_all()
                if lr.shape[0] != gt.shape[0] or lr.shape[1:3] != (h // SCALE, w // SCALE):
                    raise InputError(lr_dir, f"LR frames {lr.shape} do not match ground truth "
                                     f"{gt.shape} in {gt_seqs[name]} at scale {SCALE}")
            else:
                lr = _degrade_lr(gt, degradation, gt_seqs[name])
            out.append((name, lr, gt))
        return out
    if dataset == "builtin":
        return _builtin_sequences(degradation, sequences)
    raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")


def _builtin_sequences(degradation, sequences):
    try:
        from vsr_latent.data import builtin, pipelines
    except ImportError as e:
        raise ConfigError(f"the builtin dataset needs vsr_latent.data.builtin ({e})") from e
    # The same validation clips the training pipelines validate on.
    clips = builtin.builtin_clips(pipelines.BUILTIN_VALIDATION_CLIPS, pipelines.BUILTIN_NUM_FRAMES,
                                  pipelines.BUILTIN_VALIDATION_SIZE, split="validation")
    named = {f"builtin-validation-{i}": c for i, c in enumerate(clips)}
    names = _select(list(named), sequences, "builtin")
    out = []
    for name in names:
        gt = np.asarray(named[name], dtype=np.uint8)
        out.append((name, _degrade_lr(gt, degradation, name), gt))
    return out


def evaluate_predictor(predictor, dataset="vid4", protocol=DEFAULT_PROTOCOL, *, data_root=None,
                       degradation="bi", sequences=None, samples=1, progress=False):
    """Upscale every sequence of a dataset with ``predictor`` (chunks of its ``seq_len``, see
    :func:`vsr_latent.serving.predictors.upscale_sequence`) and score it.

    ``dataset`` is a name (see :func:`dataset_sequences`) or its result, ``[(name, lr, gt)]``.
    With ``samples > 1`` the mean of that many sampled draws is scored.
    """
    from vsr_latent.serving.predictors import upscale_sequence

    protocol = get_protocol(protocol)
    if isinstance(dataset, str):
        data = dataset_sequences(dataset, data_root=data_root, degradation=degradation,
                                 sequences=sequences)
    else:
        data = list(dataset)
    result = EvaluationResult(protocol)
    # One bar over frames: each frame counts once when upscaled and once when scored.
    total = sum(len(lr) + len(protocol.frame_indices(len(gt), where=name)) for name, lr, gt in data)
    bar = _progress(total, progress)
    try:
        for name, lr, gt in data:
            sr = upscale_sequence(predictor, lr.astype(np.float32), samples=samples,
                                  on_chunk=bar.update)
            if samples > 1:
                sr = sr[0]
            part = evaluate_sequences([(name, to_uint8(sr), gt)], protocol, _bar=bar)
            result.sequences.update(part.sequences)
    finally:
        bar.close()
    return result
