"""The two evaluations a user runs: folders of already-upscaled frames against ground-truth
folders (so other methods' outputs are scored by the same code), and a predictor on a dataset."""

import dataclasses
import time

import numpy as np

from vsr_latent.data.degrade import check_method
from vsr_latent.data.video_io import to_uint8
from vsr_latent.errors import ConfigError
from vsr_latent.evaluation.datasets import dataset_sequences, folder_pairs
from vsr_latent.evaluation.protocols import (
    DEFAULT_PROTOCOL,
    evaluate_sequences,
    get_protocol,
    progress_bar,
)
from vsr_latent.evaluation.results import EvaluationResult
from vsr_latent.serving import predictors
from vsr_latent.serving.loading import load_predictor


def evaluate_folders(sr_dir, gt_dir, protocol=DEFAULT_PROTOCOL, *, sequences=None,
                     progress=False):
    """Score folders of already-upscaled frames against ground-truth folders.

    ``sr_dir`` and ``gt_dir`` are each one sequence folder of frames or a folder of sequence
    sub-folders; frames pair up in file-name order (see
    :func:`~vsr_latent.evaluation.datasets.folder_pairs`).
    """
    return evaluate_sequences(folder_pairs(sr_dir, gt_dir, sequences), protocol,
                              progress=progress)


def evaluate_predictor(predictor, dataset="vid4", protocol=DEFAULT_PROTOCOL, *, data_root=None,
                       degradation="bi", sequences=None, samples=1, progress=False):
    """Upscale every sequence of a dataset with ``predictor`` (chunks of its ``seq_len``, see
    ``upscale_sequence``) and score it.

    ``dataset`` is a name (see :func:`~vsr_latent.evaluation.datasets.dataset_sequences`) or its
    result, ``[(name, lr, gt)]``. With ``samples > 1`` the mean of that many sampled draws is
    scored.
    """
    protocol = get_protocol(protocol)
    return evaluate_predictor_protocols(
        predictor, dataset, (protocol,), data_root=data_root, degradation=degradation,
        sequences=sequences, samples=samples, progress=progress)[protocol.name]


def evaluate_predictor_protocols(predictor, dataset, protocols, *, data_root=None,
                                 degradation="bi", sequences=None, samples=1, progress=False):
    """:func:`evaluate_predictor` under several protocols at once: each sequence is upscaled
    once and scored under every protocol; returns ``{protocol name: EvaluationResult}``, each
    with the upscaling's ``seconds_per_frame`` (the same for every protocol)."""
    protocols = [get_protocol(p) for p in protocols]
    if isinstance(dataset, str):
        data = dataset_sequences(dataset, data_root=data_root, degradation=degradation,
                                 sequences=sequences)
    else:
        data = list(dataset)
    results = {p.name: EvaluationResult(p) for p in protocols}
    seconds, frames = 0.0, 0
    # One bar over frames: each frame counts once when upscaled and once per protocol scored.
    total = sum(len(lr) + sum(len(p.frame_indices(len(gt), where=name)) for p in protocols)
                for name, lr, gt in data)
    bar = progress_bar(total, progress)
    try:
        for name, lr, gt in data:
            start = time.perf_counter()
            sr = predictors.upscale_sequence(predictor, lr.astype(np.float32), samples=samples,
                                             on_chunk=bar.update)
            seconds += time.perf_counter() - start
            frames += len(lr)
            if samples > 1:
                sr = sr[0]
            sr = to_uint8(sr)
            for p in protocols:
                part = evaluate_sequences([(name, sr, gt)], p, bar=bar)
                results[p.name].sequences.update(part.sequences)
    finally:
        bar.close()
    for result in results.values():
        result.seconds_per_frame = seconds / max(frames, 1)
    return results


@dataclasses.dataclass(frozen=True)
class EvaluateOptions:
    """What ``vsr-latent evaluate`` scores: a model on a dataset, or SR folders against GT
    folders. Checked when made: one ConfigError per problem, before data or a model is read,
    naming these fields (the command line names its flags)."""

    model: str | None = None
    dataset: str = "vid4"
    data_root: str | None = None
    degradation: str = "bi"
    sr_dir: str | None = None
    gt_dir: str | None = None
    protocol: str = DEFAULT_PROTOCOL
    sequences: list | None = None
    seq_len: int | None = None
    precision: str = "float32"
    samples: int = 1
    progress: bool = False

    def __post_init__(self):
        get_protocol(self.protocol)
        if self.model and (self.sr_dir or self.gt_dir):
            raise ConfigError("give either model (with dataset) or sr_dir and gt_dir, not both",
                              fields=("model", "dataset", "sr_dir", "gt_dir"))
        if (self.sr_dir or self.gt_dir) and not (self.sr_dir and self.gt_dir):
            raise ConfigError("sr_dir and gt_dir go together", fields=("sr_dir", "gt_dir"))
        if not (self.model or self.sr_dir):
            raise ConfigError("nothing to evaluate: give model SPEC or sr_dir DIR and gt_dir DIR",
                              fields=("model", "sr_dir", "gt_dir"))
        if self.model:
            check_method(self.degradation)
            predictors.check_sample_count(self.samples)


def evaluate(options):
    """``(EvaluationResult, title)`` for :class:`EvaluateOptions`. The dataset is read before the
    model is loaded, so a bad folder fails fast."""
    if options.sr_dir:
        result = evaluate_folders(options.sr_dir, options.gt_dir, options.protocol,
                                  sequences=options.sequences, progress=options.progress)
        return result, f"{options.sr_dir} vs {options.gt_dir}"
    data = dataset_sequences(options.dataset, data_root=options.data_root,
                             degradation=options.degradation, sequences=options.sequences)
    predictor = load_predictor(options.model, seq_len=options.seq_len, precision=options.precision)
    result = evaluate_predictor(predictor, data, options.protocol, samples=options.samples,
                                progress=options.progress)
    return result, f"{options.model} on {options.dataset}"
