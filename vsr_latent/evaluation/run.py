"""The two evaluations a user runs: folders of already-upscaled frames against ground-truth
folders (so other methods' outputs are scored by the same code), and a predictor on a dataset."""

import numpy as np

from vsr_latent.data.video_io import to_uint8
from vsr_latent.evaluation.datasets import dataset_sequences, folder_pairs
from vsr_latent.evaluation.protocols import (
    DEFAULT_PROTOCOL,
    evaluate_sequences,
    get_protocol,
    progress_bar,
)
from vsr_latent.evaluation.results import EvaluationResult


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
    # Imported on use: scoring folders of frames needs none of the model-serving code.
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
    bar = progress_bar(total, progress)
    try:
        for name, lr, gt in data:
            sr = upscale_sequence(predictor, lr.astype(np.float32), samples=samples,
                                  on_chunk=bar.update)
            if samples > 1:
                sr = sr[0]
            part = evaluate_sequences([(name, to_uint8(sr), gt)], protocol, bar=bar)
            result.sequences.update(part.sequences)
    finally:
        bar.close()
    return result
