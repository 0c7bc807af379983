"""The sequences an evaluation scores: frame folders, Vid4 (or any root laid out like it) and the
package's built-in clips.

Frame folders are :class:`~vsr_latent.data.video_io.FolderSource` s: natural name order ("2"
before "10"), partial files skipped, any frame read on its own when it is scored.
"""

from pathlib import Path

import numpy as np

from vsr_latent.data import builtin, vid4
from vsr_latent.data.degrade import degrade
from vsr_latent.data.video_io import (
    FolderSource,
    list_frame_files,
    read_frames,
    to_uint8,
)
from vsr_latent.errors import ConfigError, InputError
from vsr_latent.paths import shared_data_dir
from vsr_latent.scale import SCALE

DATASETS = ("vid4", "builtin")


def sequence_folders(root):
    """``{name: folder}`` for a folder that is either one sequence of frames (its own name) or a
    folder of sequence sub-folders."""
    root = Path(root)
    if list_frame_files(root):
        return {root.name: root}
    subs = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and list_frame_files(p)}
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


def folder_pairs(sr_dir, gt_dir, sequences=None):
    """``[(name, sr, gt)]`` frame folders (read lazily) of already-upscaled frames and their
    ground truth.

    ``sr_dir`` and ``gt_dir`` are each one sequence folder of frames or a folder of sequence
    sub-folders (paired by name); frames pair up in file-name order.
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
    return [(n, FolderSource(s), FolderSource(g)) for n, (s, g) in pairs.items()]


def _degrade_lr(gt, degradation, where):
    # Quantised like LR frames read from files (and like the training pipelines' inputs).
    return to_uint8(degrade(gt, degradation, SCALE, path=where))


def vid4_sequences(data_root=None, *, degradation="bi", sequences=None):
    """``[(name, lr, gt)]`` uint8 arrays of a root laid out like Vid4 (see
    :mod:`vsr_latent.data.vid4`); the shared data's ``Vid4`` when ``data_root`` is None.

    LR frames come from the degradation's folder (``BIx4`` for ``bi``, ``BDx4`` for ``bd``) when
    it is there, otherwise they are made from the GT with :func:`vsr_latent.data.degrade.degrade`.
    GT frames are cropped to a multiple of the scale.
    """
    if data_root is None:
        shared = shared_data_dir()
        if shared is None or not (shared / "Vid4").is_dir():
            raise ConfigError("data_root is required for the vid4 dataset "
                              f"(a folder with {vid4.GT_FOLDER}/<sequence>/ frames)",
                              fields=("data_root",))
        data_root = shared / "Vid4"
    root = Path(data_root)
    gt_root = root / vid4.GT_FOLDER
    if not gt_root.is_dir():
        raise InputError(gt_root, f"no {vid4.GT_FOLDER} folder (expected "
                         f"DATA_ROOT/{vid4.GT_FOLDER}/<sequence>/ frames)")
    gt_seqs = sequence_folders(gt_root)
    out = []
    for name in _select(list(gt_seqs), sequences, gt_root):
        gt = read_frames(gt_seqs[name])
        h, w = gt.shape[1] - gt.shape[1] % SCALE, gt.shape[2] - gt.shape[2] % SCALE
        gt = gt[:, :h, :w]
        lr_folder = vid4.LR_FOLDERS.get(degradation)
        lr_dir = root / lr_folder / name if lr_folder else None
        if lr_dir is not None and lr_dir.is_dir():
            lr = read_frames(lr_dir)
            if lr.shape[0] != gt.shape[0] or lr.shape[1:3] != (h // SCALE, w // SCALE):
                raise InputError(lr_dir, f"LR frames {lr.shape} do not match ground truth "
                                 f"{gt.shape} in {gt_seqs[name]} at scale {SCALE}")
        else:
            lr = _degrade_lr(gt, degradation, gt_seqs[name])
        out.append((name, lr, gt))
    return out


def builtin_sequences(*, degradation="bi", sequences=None):
    """``[(name, lr, gt)]`` uint8 arrays of the built-in validation clips the training pipelines
    validate on (no download), named ``builtin-validation-<i>``."""
    # The clip counts and sizes live with the pipelines, which import TensorFlow: import on use.
    from vsr_latent.data import pipelines

    clips = builtin.builtin_clips(pipelines.BUILTIN_VALIDATION_CLIPS, pipelines.BUILTIN_NUM_FRAMES,
                                  pipelines.BUILTIN_VALIDATION_SIZE, split="validation")
    named = {f"builtin-validation-{i}": c for i, c in enumerate(clips)}
    out = []
    for name in _select(list(named), sequences, "builtin"):
        gt = np.asarray(named[name], dtype=np.uint8)
        out.append((name, _degrade_lr(gt, degradation, name), gt))
    return out


def dataset_sequences(dataset, *, data_root=None, degradation="bi", sequences=None):
    """``[(name, lr, gt)]`` uint8 arrays for a dataset by name: ``vid4`` (or any root with the
    same layout, :func:`vid4_sequences`) or ``builtin`` (:func:`builtin_sequences`)."""
    if dataset == "vid4":
        return vid4_sequences(data_root, degradation=degradation, sequences=sequences)
    if dataset == "builtin":
        return builtin_sequences(degradation=degradation, sequences=sequences)
    raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
