"""Vid4 (Liu & Sun, CVPR 2011) helpers: the paper's test set (Table 4).

Layout (made by ``python -m data_tools.prepare_vid4``): ``ROOT/GT/<seq>/%08d.png`` and the
low-resolution inputs ``ROOT/BIx4/<seq>`` (MATLAB bicubic) and ``ROOT/BDx4/<seq>`` (Gaussian blur
sigma 1.6 + subsampling).
"""

from pathlib import Path

import numpy as np

from vsr_latent.data.video_io import FolderSource

VID4_SEQUENCES = ("calendar", "city", "foliage", "walk")
GT_FOLDER = "GT"
#: The x4 low-resolution inputs' folder by degradation (the Vid4 distributions' names).
LR_FOLDERS = {"bi": "BIx4", "bd": "BDx4"}


def read_frame_folder(path):
    """All frames of a folder (natural order) as uint8 (T, H, W, 3); InputError on bad input."""
    with FolderSource(Path(path)) as src:
        return np.stack(list(src))


def load_sequence(gt_dir):
    """One Vid4 sequence folder (e.g. ``Vid4/GT/calendar``) as uint8 (T, H, W, 3)."""
    return read_frame_folder(gt_dir)
