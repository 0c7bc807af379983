"""TensorBoard summaries of a training run: scalars, LR | SR | HR images, attention pictures.

Everything goes to real event files under ``RUN/logs/train`` through `tf.summary`:

- scalars ``loss/total``, ``loss/re``, ``loss/vae`` (stage 2), ``psnr/train`` (dB, the training
  batch, RGB), ``optimizer/learning_rate``, ``optimizer/grad_norm`` (global norm before clipping),
  ``perf/steps_per_sec``, ``train/stage``;
- images ``images/lr_sr_hr``: for the first clip of the batch, each frame as LR (nearest-neighbour
  upscaled) | SR | HR side by side, frames stacked vertically;
- attention pictures from ``model.call_with_attention`` on that clip, colour-mapped:
  ``attention/long_corr_<i>``: for the centre query position of the middle frame, the cosine
  similarity of the block's latent attention z to z at every position of every frame, with the
  3 strongest positions marked white (the paper's Fig. 7 shows the 3 most correlated regions);
  ``attention/short_mask_<i>``: the short block's mask M (mean over channels, Fig. 8);
  ``attention/variance_<i>``: σ² of a variational block (mean over channels).
"""

import warnings

import numpy as np
import tensorflow as tf

TOP_KEYS = 3
COLORMAP = "viridis"


def _colormap(values):
    """Colour-maps (..., H, W) values, scaled to their own min/max, to uint8 RGB (..., H, W, 3)."""
    import matplotlib

    values = np.asarray(values, dtype=np.float64)
    lo, hi = np.nanmin(values), np.nanmax(values)
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    rgb = matplotlib.colormaps[COLORMAP](scaled)[..., :3]
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def _tile_frames(frames_rgb):
    """(L, H, W, 3) -> (L*H, W, 3): frames stacked vertically."""
    return np.concatenate(list(frames_rgb), axis=0)


def lr_sr_hr_panel(lr, sr, hr, scale):
    """(L, h, w, 3) LR, (L, sh, sw, 3) SR and HR -> uint8 (L*sh, 3*sw, 3) LR-nearest | SR | HR."""
    lr_up = np.repeat(np.repeat(np.asarray(lr), scale, axis=-3), scale, axis=-2)
    rows = np.concatenate([lr_up, np.asarray(sr), np.asarray(hr)], axis=-2)
    return _tile_frames(np.clip(np.rint(rows), 0, 255).astype(np.uint8))


def long_attention_picture(z):
    """z (L, H, W, C) -> uint8 (L*H, W, 3): similarity to the centre query, top 3 marked white."""
    z = np.asarray(z, dtype=np.float64)
    frames, h, w, c = z.shape
    flat = z.reshape(-1, c)
    flat = flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
    query = flat[((frames // 2) * h + h // 2) * w + w // 2]
    sim = (flat @ query).reshape(frames, h, w)
    rgb = _colormap(sim)
    order = np.argsort(sim.reshape(-1))[::-1]
    for idx in order[:TOP_KEYS]:
        t, rest = divmod(int(idx), h * w)
        rgb[t, rest // w, rest % w] = 255
    return _tile_frames(rgb)


def map_picture(x):
    """(L, H, W, C) -> uint8 (L*H, W, 3): the mean over channels, colour-mapped."""
    return _tile_frames(_colormap(np.asarray(x, dtype=np.float64).mean(axis=-1)))


def tensorboard_available():
    """tf.summary's scalar/image ops live in the ``tensorboard`` package (a dependency)."""
    try:
        import tensorboard.summary.v2  # noqa: F401
    except ImportError:
        return False
    return True


class TrainingSummaries:
    """Writes a run's TensorBoard summaries (only the chief writes).

    Without the ``tensorboard`` package installed, training goes on and writes no summaries (a
    warning says so) rather than failing mid-run.
    """

    def __init__(self, logdir):
        self.enabled = tensorboard_available()
        if not self.enabled:
            warnings.warn(
                "the tensorboard package is not installed: this run writes no TensorBoard "
                "summaries (pip install tensorboard)",
                stacklevel=2,
            )
            self.writer = None
            return
        self.writer = tf.summary.create_file_writer(str(logdir))

    def scalars(self, step, values):
        if not self.enabled:
            return
        with self.writer.as_default(step=int(step)):
            for tag, value in values.items():
                tf.summary.scalar(tag, float(value))

    def images(self, step, model, lr, hr):
        """The LR | SR | HR panel and the attention pictures for the first clip of a batch."""
        if not self.enabled:
            return {}
        lr = tf.convert_to_tensor(lr)[:1]
        sr, info = model.call_with_attention(lr, training=False)
        panel = lr_sr_hr_panel(lr[0].numpy(), sr[0].numpy(), np.asarray(hr)[0], model.scale)
        pictures = {"images/lr_sr_hr": panel}
        short_masks = iter(info.get("masks", []))
        variances = iter(info.get("variance", []))
        for i, block in enumerate(getattr(model, "attention", [])):
            kind = type(block).__name__.lower()
            z = info["z"][i] if i < len(info.get("z", [])) else None
            if "long" in kind and z is not None:
                pictures[f"attention/long_corr_{i}"] = long_attention_picture(z[0].numpy())
            elif "short" in kind:
                mask = next(short_masks, None)
                if mask is not None:
                    pictures[f"attention/short_mask_{i}"] = map_picture(mask[0].numpy())
            if getattr(block, "variational", False):
                var = next(variances, None)
                if var is not None:
                    pictures[f"attention/variance_{i}"] = map_picture(var[0].numpy())
        with self.writer.as_default(step=int(step)):
            for tag, image in pictures.items():
                tf.summary.image(tag, image[None], max_outputs=1)
        return pictures

    def flush(self):
        if self.writer is not None:
            self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
