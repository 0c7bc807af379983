"""Measurements behind the tables: validation PSNR (Normal, Remote), Vid4 PSNR, params, speed.

GAP decision (the paper does not say how its validation PSNR is computed):
``VALIDATION_PROTOCOL`` ("standard") and ``VALIDATION_METRIC`` ("psnr_rgb"): Tables 1-3 and
Figure 6 score every real frame of the validation chunks, uncropped, on RGB, SR rounded to 8 bits,
averaged over frames (:func:`frame_mean`). RGB is this package's choice for validation; Table 4
(Vid4) headlines Y instead (the evaluation package's "paper" protocol, ``primary_channel="y"``),
to compare with the Vid4 literature's Y-channel numbers. A clip's last chunk is zero-padded to L
by the pipelines (§6.2) and the outputs of the padding frames are dropped before scoring.

Validation data come from the data package: ``validation_dataset`` (Normal) and ``remote_dataset``
(Remote, with the clips' external key frames) of the dataset root, or of the built-in clips at the
tiny and smoke budgets (the built-in Remote clips join two clips at a scene cut and take key frames
by the Remote selection's scene-change rule).
"""

import time

import numpy as np

from vsr_latent.data.pipelines import real_frames, remote_chunks, validation_chunks
from vsr_latent.data.vid4 import VID4_SEQUENCES
from vsr_latent.data.video_io import to_uint8
from vsr_latent.evaluation import (
    dataset_sequences,
    evaluate_predictor,
    evaluate_predictor_protocols,
    evaluate_sequences,
)
from vsr_latent.serving.loading import load_predictor
from vsr_latent.serving.predictors import upscale_sequence
from vsr_latent.training.graph_memory import released_custom_gradients

VALIDATION_PROTOCOL = "standard"
VALIDATION_METRIC = "psnr_rgb"


def builtin_data(ctx):
    """True when the context's budget trains and validates on the built-in clips."""
    return ctx.budget.data_source == "builtin"


def run_predictor(run):
    """A predictor of a finished run's final weights (``RUN/model.keras``, which training writes
    at its end), with the run's clip length."""
    return load_predictor(str(run.run_dir / "model.keras"), seq_len=run.config.model.seq_len)


class ValidationChunks:
    """The Normal validation clips as ``(name, lr, gt)`` chunks of L frames, streamed: each pass
    decodes the clips again, L frames at a time, so scoring holds one chunk, never a clip or the
    whole split (30 clips of 105 frames are about 20 GB at 1080p). Real frames only: a padded last
    chunk enters as its T < L real frames, and ``upscale_sequence`` pads it back to L (the same
    zero padding) and drops those outputs, so padding is never scored. After a pass, ``count``
    and ``hr_size`` (W, H) describe what was scored."""

    def __init__(self, source, seq_len, degradation, max_clips, max_frames=None):
        self.source, self.seq_len, self.degradation = source, seq_len, degradation
        self.max_clips, self.max_frames = max_clips, max_frames
        self.count, self.hr_size = 0, None

    def __iter__(self):
        chunks = validation_chunks(self.source, seq_len=self.seq_len,
                                   degradation=self.degradation, max_clips=self.max_clips,
                                   max_frames=self.max_frames)
        count = 0
        for name, lr, gt in iter_chunks(chunks()):
            count += 1
            self.hr_size = (gt.shape[2], gt.shape[1])
            yield name, lr, gt
        self.count = count


def iter_chunks(ds):
    """``(name, lr, gt)`` from a validation dataset's ``(lr, hr, mask)`` chunks, one at a time,
    real frames only (see :class:`ValidationChunks`)."""
    for i, (lr, hr, mask) in enumerate(ds):
        yield (f"chunk{i:04d}", to_uint8(real_frames(lr, mask)), to_uint8(real_frames(hr, mask)))


def chunk_data(ds):
    """:func:`iter_chunks` as a list (for chunks already in memory)."""
    return list(iter_chunks(ds))


def validation_data(ctx, degradation, seq_len):
    """The Normal validation clips, one ``(name, lr, gt)`` per chunk of L frames, streamed
    (:class:`ValidationChunks`)."""
    return ValidationChunks(ctx.budget.data_source, seq_len, degradation,
                            ctx.budget.val_max_clips, getattr(ctx.budget, "val_max_frames", None))


class FrameScores:
    """Per-frame scores of ``metric`` gathered chunk by chunk (nothing else is kept)."""

    def __init__(self, metric=VALIDATION_METRIC):
        self.metric, self.values = metric, []

    def add(self, result):
        self.values += [v for seq in result.sequences.values() for v in seq.scores[self.metric]]

    def mean(self):
        return float(np.mean(self.values)) if self.values else float("nan")


def frame_mean(result, metric=VALIDATION_METRIC):
    """Mean of ``metric`` over every scored frame of an ``EvaluationResult``: chunks weigh by
    their real frames (a padded 2-frame last chunk counts 2 frames, not one chunk)."""
    scores = FrameScores(metric)
    scores.add(result)
    return scores.mean()


def score_validation(predictor, data):
    """Validation PSNR of a predictor on ``(name, lr, gt)`` chunks (see :class:`ValidationChunks`),
    one chunk upscaled and scored at a time."""
    scores = FrameScores()
    for chunk in data:
        scores.add(evaluate_predictor(predictor, [chunk], VALIDATION_PROTOCOL))
    return scores.mean()


@released_custom_gradients()
def validation_psnr(ctx, run, data=None):
    """PSNR (``VALIDATION_METRIC`` under ``VALIDATION_PROTOCOL``) of a finished run on the Normal
    validation data (deterministic path)."""
    cfg = run.config
    if data is None:
        data = validation_data(ctx, cfg.data.degradation, cfg.model.seq_len)
    return score_validation(run_predictor(run), data)


@released_custom_gradients()
def remote_psnr(ctx, run):
    """PSNR of a finished run on the Remote validation clips, each L-frame chunk upscaled with
    its clip's external key frames (models are not retrained, §6.2); one chunk in memory at a
    time."""
    cfg = run.config
    predictor = run_predictor(run)
    scores = FrameScores()
    chunks = remote_chunks(ctx.budget.data_source, seq_len=cfg.model.seq_len,
                           degradation=cfg.data.degradation, max_clips=ctx.budget.val_max_clips,
                           max_frames=ctx.budget.val_max_frames)
    for i, (inputs, hr, mask) in enumerate(chunks()):
        # The padded chunk runs at full L (the key frames are per clip); padding outputs dropped.
        frames = np.asarray(inputs["frames"])[0]
        keys = np.asarray(inputs["key_frames"])[0]
        sr = predictor(frames, key_frames=keys)
        scores.add(evaluate_sequences([(f"chunk{i:04d}", to_uint8(real_frames(sr[None], mask)),
                                        to_uint8(real_frames(hr, mask)))], VALIDATION_PROTOCOL))
    return scores.mean()


# ---- Vid4 (Tables 4, 5) ---------------------------------------------------------------------


def vid4_data(ctx, degradation="bi", whole=False):
    """``[(name, lr, gt)]`` of Vid4 (calendar, city, foliage, walk); at the tiny and smoke budgets
    each sequence cut to its first frames and a centre crop (``Budget.vid4_*``) unless
    ``whole``."""
    data = dataset_sequences("vid4", data_root=ctx.vid4_root, degradation=degradation,
                             sequences=list(VID4_SEQUENCES))
    return data if whole else cut_vid4(ctx.budget, data)


def cut_vid4(s, data):
    """Vid4's ``(name, lr, gt)`` as budget ``s`` cuts it (first frames, centre crop)."""
    if s.vid4_max_frames is None and s.vid4_crop is None:
        return data
    out = []
    for name, lr, gt in data:
        if s.vid4_max_frames is not None:
            lr, gt = lr[:s.vid4_max_frames], gt[:s.vid4_max_frames]
        if s.vid4_crop is not None:
            ch, cw = min(s.vid4_crop[0], lr.shape[1]), min(s.vid4_crop[1], lr.shape[2])
            y0, x0 = (lr.shape[1] - ch) // 2, (lr.shape[2] - cw) // 2
            lr = lr[:, y0:y0 + ch, x0:x0 + cw]
            gt = gt[:, 4 * y0:4 * (y0 + ch), 4 * x0:4 * (x0 + cw)]
        out.append((name, np.ascontiguousarray(lr), np.ascontiguousarray(gt)))
    return out


def describe_vid4(ctx, data, degradation="bi", whole=False):
    sizes = ", ".join(f"{n} {lr.shape[0]} frames {lr.shape[2]}x{lr.shape[1]} LR" for n, lr, _ in data)
    b = ctx.budget
    parts = [] if whole else (
        ([f"first {b.vid4_max_frames} frames"] if b.vid4_max_frames is not None else [])
        + ([f"centre {b.vid4_crop[1]}x{b.vid4_crop[0]} LR crop"] if b.vid4_crop else []))
    cut = f" ({b.name} budget: {', '.join(parts)} of each sequence)" if parts else ""
    lr = "MATLAB-style bicubic (BI)" if degradation == "bi" else repr(degradation)
    return f"Vid4 from `{ctx.vid4_root}`: {sizes}{cut}; LR by {lr}"


def vid4_scores(predictor, data):
    """``{"paper": EvaluationResult, "standard": EvaluationResult}`` of a predictor on Vid4."""
    # Upscaled once, scored under both protocols.
    return evaluate_predictor_protocols(predictor, data, ("paper", "standard"))


def seconds_per_frame(predictor, data, repeats=1):
    """Mean wall seconds per output frame of ``upscale_sequence`` over the sequences of ``data``,
    after one untimed warm-up chunk (tracing is not counted)."""
    first = data[0][1][:predictor.seq_len].astype(np.float32)
    upscale_sequence(predictor, first)
    frames, total = 0, 0.0
    for _ in range(max(1, repeats)):
        for _, lr, _ in data:
            x = lr.astype(np.float32)
            t0 = time.perf_counter()
            upscale_sequence(predictor, x)
            total += time.perf_counter() - t0
            frames += x.shape[0]
    return total / frames
