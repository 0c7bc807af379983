"""Colour scales of the package's pictures: one look-up table per Matplotlib colormap, and fixed
scales (a value maps to the same colour in every picture, never stretched to the picture's own
min/max) for the training summaries' error, similarity, mask and variance maps and the uncertainty
video's heat map."""

import functools

import numpy as np

# Fixed colour scales of the training pictures.
ERROR_RANGE = (0.0, 32.0)  # |SR - HR|, levels of 255
ERROR_COLORMAP = "inferno"
SIMILARITY_RANGE = (-1.0, 1.0)  # cosine similarity
MASK_RANGE = (0.0, 1.0)  # sigmoid mask
VARIANCE_RANGE = (1e-6, 1e-1)  # sigma^2, log scale
COLORMAP = "viridis"  # attention maps: no white, no red, so the markers stand out

BAR_HEIGHT = 6


@functools.lru_cache(maxsize=None)
def lookup_table(name):
    """The 256 colours (uint8 RGB, (256, 3)) of the Matplotlib colormap ``name``, bottom to top."""
    # Imported on first use: the command line's start (``vsr-latent --help`` imports the video
    # module, which colours through here) does not pay for Matplotlib.
    import matplotlib

    rgb = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return (rgb * 255.0 + 0.5).astype(np.uint8)

def colormap(values, lo, hi, name=COLORMAP):
    """Values (...) -> uint8 RGB (..., 3) on the FIXED scale lo..hi (clipped; NaN -> lo)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=lo)
    scaled = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    return lookup_table(name)[np.rint(scaled * 255.0).astype(np.intp)]


def error_colors(error):
    """|SR - HR| in levels of 255 -> RGB on the fixed `ERROR_RANGE`."""
    return colormap(error, *ERROR_RANGE, name=ERROR_COLORMAP)


def similarity_colors(sim):
    return colormap(sim, *SIMILARITY_RANGE)


def mask_colors(mask):
    return colormap(mask, *MASK_RANGE)


def variance_colors(variance):
    """sigma^2 -> RGB on the fixed log scale `VARIANCE_RANGE`."""
    lo, hi = np.log10(VARIANCE_RANGE[0]), np.log10(VARIANCE_RANGE[1])
    variance = np.nan_to_num(np.asarray(variance, dtype=np.float64), nan=0.0)
    return colormap(np.log10(np.maximum(variance, 1e-30)), lo, hi)


def colour_bar(width, colours_of, lo, hi, height=BAR_HEIGHT):
    """A horizontal colour bar (height, width, 3) from lo (left) to hi (right)."""
    row = colours_of(np.linspace(lo, hi, max(int(width), 1)))
    return np.repeat(row[None], height, axis=0)
