"""Scoring super-resolved sequences against ground truth under a named protocol.

Protocols (:data:`PROTOCOLS`, one :class:`Protocol` each):

- ``paper``: the paper's Table 4 protocol — the first frame and the last two of each sequence are
  dropped and 8 pixels are cropped at every border; PSNR/SSIM reported on RGB and on Y.
- ``standard``: what BasicSR / mmagic report for Vid4 — every frame, no crop, Y channel.

Each scored frame gets all four :data:`~vsr_latent.metrics.METRICS`;
``Protocol.primary_channel`` names the one a protocol headlines.

Super-resolved frames are clipped to [0, 255] and rounded to uint8 before scoring
(:func:`~vsr_latent.data.video_io.to_uint8`, ``QUANTIZE_SR``), as the literature does: its
numbers are computed on saved 8-bit images.
"""

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from vsr_latent import metrics
from vsr_latent.data.video_io import to_uint8
from vsr_latent.errors import ConfigError, InputError
from vsr_latent.evaluation.results import EvaluationResult, SequenceResult

# Scores are computed on 8-bit frames, as saved images would be (the literature's practice).
QUANTIZE_SR = True


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
        return metrics.frame_scores(sr, gt, crop_border=self.crop_border)


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


def progress_bar(total, enabled, desc="evaluate"):
    """A tqdm bar over ``total`` frames (silent unless ``enabled``)."""
    return tqdm(total=total, unit="frame", desc=desc, disable=not enabled, leave=False)


def _label(frames, name, i):
    files = getattr(frames, "files", None)
    return str(files[i]) if files is not None else f"{name} frame {i}"


def evaluate_sequences(sequences, protocol=DEFAULT_PROTOCOL, *, progress=False, quantize=QUANTIZE_SR,
                       bar=None):
    """Score ``(name, sr, gt)`` triples; ``sr`` / ``gt`` are (T, H, W, 3) arrays on [0, 255] or
    frame folders (:class:`~vsr_latent.data.video_io.FolderSource`, anything with ``len`` and
    integer indexing).

    SR frames are clipped and rounded to uint8 first (``quantize``). Frame count or frame size
    mismatches raise ``InputError`` naming both sides. ``bar``: a progress bar of the caller's
    to advance one step per frame scored (left open), instead of one of this call's own.
    """
    protocol = get_protocol(protocol)
    sequences = list(sequences)
    plan = []
    for name, sr, gt in sequences:
        where = getattr(gt, "path", None)
        if len(sr) != len(gt):
            raise InputError(getattr(sr, "path", None) or name,
                             f"{len(sr)} SR frame(s) but {len(gt)} ground-truth frame(s) in "
                             f"{where or name}")
        plan.append((name, sr, gt, protocol.frame_indices(len(gt), where=where or name)))
    result = EvaluationResult(protocol)
    own_bar = bar is None
    if own_bar:
        bar = progress_bar(sum(len(idx) for *_, idx in plan), progress)
    try:
        for name, sr, gt, indices in plan:
            seq = result.sequences[name] = SequenceResult(name)
            gt_files = getattr(gt, "files", None)
            for i in indices:
                s, g = np.asarray(sr[i]), np.asarray(gt[i])
                if s.shape != g.shape:
                    raise InputError(_label(sr, name, i),
                                     f"SR frame {s.shape} differs in size from ground truth "
                                     f"{g.shape} ({_label(gt, name, i)})")
                if quantize:
                    s = to_uint8(s)
                seq.add(i, protocol.score(s, g), gt_files[i].name if gt_files else None)
                bar.update(1)
    finally:
        if own_bar:
            bar.close()
    return result
