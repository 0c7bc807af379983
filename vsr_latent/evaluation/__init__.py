"""Scoring super-resolved video against ground truth: PSNR and SSIM, on RGB and on Y, under a
named protocol (``paper``: the paper's Table 4; ``standard``: BasicSR / mmagic's Vid4 numbers).

- :mod:`.protocols`: the protocols and the scoring of in-memory or folder sequences;
- :mod:`.datasets`: the sequences to score (frame folders, Vid4, the built-in clips);
- :mod:`.results`: per-frame, per-sequence and average scores and their tables;
- :mod:`.run`: :func:`evaluate_folders` and :func:`evaluate_predictor`, what a user runs, and
  :func:`evaluate` with its checked :class:`EvaluateOptions` (``vsr-latent evaluate``).
"""

from vsr_latent.evaluation.datasets import DATASETS, dataset_sequences, sequence_folders
from vsr_latent.evaluation.protocols import (
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    QUANTIZE_SR,
    Protocol,
    evaluate_sequences,
    get_protocol,
)
from vsr_latent.evaluation.results import EvaluationResult, SequenceResult
from vsr_latent.evaluation.run import (
    EvaluateOptions,
    evaluate,
    evaluate_folders,
    evaluate_predictor,
    evaluate_predictor_protocols,
)
from vsr_latent.metrics import METRICS

__all__ = [
    "DATASETS", "DEFAULT_PROTOCOL", "METRICS", "PROTOCOLS", "QUANTIZE_SR", "EvaluateOptions",
    "EvaluationResult", "evaluate",
    "Protocol", "SequenceResult", "dataset_sequences", "evaluate_folders", "evaluate_predictor",
    "evaluate_predictor_protocols", "evaluate_sequences", "get_protocol", "sequence_folders",
]
