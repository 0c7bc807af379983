"""Pictures a person reads: the training summaries' LR | SR | HR panels and attention maps
(`vsr_latent.training.summaries` writes them to TensorBoard) and the colour scales of the
uncertainty video (`vsr_latent.serving.video`). NumPy arrays in, uint8 RGB out; no TensorFlow.

No picture is stretched to its own min/max: every colour scale is fixed and its range is written
on the picture.

- :mod:`.colours`: one look-up table per Matplotlib colormap (`lookup_table`), values to colours
  on a fixed scale (`colormap`), the training pictures' scales and colour bars;
- :mod:`.canvas`: pixel operations and the labelled grid every picture is laid out on, returning
  a `Picture`: the uint8 RGB image and the boxes (top, left, height, width) of its tiles;
- :mod:`.panels`: the pictures of one training clip:

  ``lr_sr_hr_panel``: a labelled grid, columns "LR (x4 nearest)" | "SR" | "HR" | "|SR - HR|",
  rows the frames t of the clip (at most `PANEL_FRAMES`: first, middle, last), tiles separated by
  2 px of grey. LR is the input upscaled x4 by repeating pixels; SR (rounded, clipped to
  [0, 255]) and HR are shown pixel for pixel; the error is the per-pixel mean over RGB of
  |SR - HR| in levels of 255 on the fixed scale `ERROR_RANGE` (0..32, "inferno": black = 0,
  brighter = worse, saturating at 32), with a colour bar in the column's header.

  The attention pictures: a map upsampled (nearest) to the LR frame, alpha-blended
  (`OVERLAY_ALPHA`) over a grey version of the LR frame and enlarged x`ATTENTION_ZOOM`
  (nearest), with a title and a colour bar stating the range.
  ``long_attention_picture``: cosine similarity (fixed scale -1..1) of a long-attention block's
  latent attention z at every position to z at the query, the centre position of the middle
  frame; shown on the middle frame and on every frame holding one of the `TOP_KEYS` most similar
  positions (the query itself excluded, the paper's Fig. 7); the query's latent cell is outlined
  white, the top keys' cells red. The latent map lives at ceil(H/2) x ceil(W/2) of the H x W LR
  frame; its cells map to LR pixels by the factor between the two sizes.
  ``short_mask_picture``: a short-attention block's mask M = sigmoid(z) (mean over channels,
  fixed scale 0..1, Fig. 8) on the middle frame.
  ``variance_picture``: a variational block's sigma^2 (mean over channels) on the middle frame,
  on the fixed log scale `VARIANCE_RANGE` (1e-6..1e-1).
"""

from vsr_latent.pictures.canvas import (
    ATTENTION_ZOOM,
    BACKGROUND,
    KEY_MARKER,
    OVERLAY_ALPHA,
    QUERY_MARKER,
    SEPARATOR,
    SEPARATOR_GREY,
    Picture,
    cell_box,
    grey,
    grid,
    overlay,
    picture_to_uint8,
    upsample_nearest,
    zoom_nearest,
)
from vsr_latent.pictures.colours import (
    COLORMAP,
    ERROR_COLORMAP,
    ERROR_RANGE,
    MASK_RANGE,
    SIMILARITY_RANGE,
    VARIANCE_RANGE,
    colormap,
    error_colors,
    lookup_table,
    mask_colors,
    similarity_colors,
    variance_colors,
)
from vsr_latent.pictures.panels import (
    PANEL_FRAMES,
    TOP_KEYS,
    cosine_to_query,
    long_attention_picture,
    lr_sr_hr_panel,
    panel_frames,
    short_mask_picture,
    top_keys,
    variance_picture,
)

__all__ = [
    "ATTENTION_ZOOM", "BACKGROUND", "COLORMAP", "ERROR_COLORMAP", "ERROR_RANGE", "KEY_MARKER",
    "MASK_RANGE", "OVERLAY_ALPHA", "PANEL_FRAMES", "QUERY_MARKER", "SEPARATOR", "SEPARATOR_GREY",
    "SIMILARITY_RANGE", "TOP_KEYS", "VARIANCE_RANGE", "Picture", "cell_box", "colormap",
    "cosine_to_query", "error_colors", "grey", "grid", "long_attention_picture",
    "lookup_table", "lr_sr_hr_panel", "mask_colors", "overlay", "panel_frames",
    "picture_to_uint8", "short_mask_picture", "similarity_colors", "top_keys", "upsample_nearest",
    "variance_colors", "variance_picture", "zoom_nearest",
]
