"""``VSRNet``: the paper's network (§4.3, Fig. 1) for every arrangement of attention blocks."""

import dataclasses

import keras
from keras import ops

from vsr_latent.architecture import ModelConfig, VSRNetConfig
from vsr_latent.errors import InputError
from vsr_latent.layers import (
    DepthToSpaceUpscaler,
    LongAttention,
    ResidualConvBlock3D,
    ShortAttention,
)
from vsr_latent.layers.bicubic import bicubic_upsample
from vsr_latent.layers.shapes import fold_time, unfold_time

# Inputs and outputs are on the [0, 255] scale; the network works on [0, 1] inside.
PIXEL_SCALE = 255.0

ARCHITECTURE_FIELDS = tuple(f.name for f in dataclasses.fields(VSRNetConfig))


def _architecture_from_keywords(values):
    """The ``VSRNetConfig`` of a saved network's ``get_config`` fields. Fields it lacks (saved
    before they existed), or saved as None where None is not a value of the field, take their
    defaults."""
    values = dict(values)
    for name in ("leaky_slope", "bicubic_skip", "upscaler_init_scale", "residual_init_scale"):
        if values.get(name, 0) is None:
            del values[name]
    if "blocks" in values:
        values["blocks"] = tuple(values["blocks"])
    return VSRNetConfig(**values)


@keras.saving.register_keras_serializable(package="vsr_latent")
class VSRNet(keras.Model):
    """Video super-resolution with (latent) attention (paper §4.3, Fig. 1).

    1. Feature extractor: ``LeakyReLU(Conv3D_k3)`` stem from RGB to ``filters`` channels, then
       ``num_layers`` residual 3-D conv layers (``ResidualConvBlock3D``).
    2. Attention estimator: the attention blocks of ``blocks`` ("long": ``LongAttention``,
       "short": ``ShortAttention``), each attached to one residual layer with the paper's join
       ``O = A(x) + F(x)`` (eqs. 16-17), spread evenly (see ``VSRNetConfig.blocks``).
    3. Spatial upscaler: linear conv to ``scale**2 * 3`` channels and depth-to-space
       (``DepthToSpaceUpscaler``), plus a bicubic copy of the input when ``bicubic_skip``.

    Input: frames float32 (B, L, H, W, 3) on [0, 255] (divided by 255 inside), any L, H, W >= 1,
    or a dict ``{"frames": x, "key_frames": k}`` with k (B, N, H, W, 3): the key frames run
    through the same layers as a separate stream (3-D convolutions never mix the two) and every
    long-attention block uses ``concat(x, k)`` along time as keys/values. Output: (B, L, 4H, 4W, 3)
    on [0, 255] (multiplied by 255 inside, not clipped).

    ``config`` is a ``VSRNetConfig``; a ``ModelConfig`` also names the network after its registry
    model. Keras rebuilds a saved network from ``get_config``: the fields as keyword arguments.
    """

    def __init__(self, config=None, **kwargs):
        architecture = {k: kwargs.pop(k) for k in ARCHITECTURE_FIELDS if k in kwargs}
        # Files saved while the variational mode was stored state carry it as ``sampling``.
        kwargs.pop("sampling", None)
        if config is None:
            config = _architecture_from_keywords(architecture)
        elif architecture:
            raise TypeError(f"VSRNet got a config and architecture keywords {sorted(architecture)}")
        if not isinstance(config, VSRNetConfig):
            raise TypeError(f"VSRNet needs a VSRNetConfig, got {config!r}")
        if isinstance(config, ModelConfig):
            kwargs.setdefault("name", config.name)
            config = config.architecture()
        super().__init__(**kwargs)
        self.config = config
        cfg = self.config
        self.seq_len = cfg.seq_len
        self.scale = cfg.scale
        self.variational = cfg.variational and bool(cfg.blocks)
        self._positions = dict(cfg.block_positions())

        # Every layer computes in the network's dtype policy (keras-hub passes it down the same
        # way), so a network built as mixed_bfloat16 is mixed_bfloat16 throughout.
        dtype = self.dtype_policy
        self.stem = keras.layers.Conv3D(cfg.filters, 3, padding="same", name="stem", dtype=dtype)
        self.units = [
            ResidualConvBlock3D(cfg.filters, cfg.leaky_slope, init_scale=cfg.residual_init_scale,
                                name=f"residual_{i}", dtype=dtype)
            for i in range(cfg.num_layers)]
        self.attention = []
        for j, kind in enumerate(cfg.blocks):
            if kind == "long":
                block = LongAttention(
                    cfg.filters, variational=cfg.variational,
                    max_attention_elements=cfg.max_attention_elements,
                    leaky_slope=cfg.leaky_slope, name=f"long_attention_{j}", dtype=dtype)
            else:
                block = ShortAttention(
                    cfg.filters, variational=cfg.variational,
                    leaky_slope=cfg.leaky_slope, name=f"short_attention_{j}", dtype=dtype)
            self.attention.append(block)
        # tf.train.Checkpoint follows attributes only, not Keras-tracked lists: without these
        # names a training checkpoint would hold just the stem and the upscaler.
        for i, unit in enumerate(self.units):
            setattr(self, f"residual_{i}", unit)
        for j, block in enumerate(self.attention):
            setattr(self, f"attention_{j}", block)
        self.upscaler = DepthToSpaceUpscaler(
            cfg.scale, 3, init_scale=cfg.upscaler_init_scale, name="upscaler", dtype=dtype)
        long_layers = [i for i, j in self._positions.items() if cfg.blocks[j] == "long"]
        # Key-frame features are only needed up to the last long-attention block.
        self._last_long_layer = max(long_layers) if long_layers else -1

    # ---- build / config ----------------------------------------------------------------------

    def build(self, input_shape=None):
        if self.built:
            return
        self._forward(ops.zeros((1, 1, 4, 4, 3)), training=False)
        self.built = True

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update(self.config.to_dict())
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ---- forward -----------------------------------------------------------------------------

    @staticmethod
    def _split_inputs(inputs):
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"frames", "key_frames"}
            if "frames" not in inputs or unknown:
                raise InputError(None, "model input dict needs 'frames' and optionally "
                                       f"'key_frames', got keys {sorted(inputs)}")
            keys = inputs.get("key_frames")
            return inputs["frames"], keys
        return inputs, None

    def _forward(self, inputs, training=None, sampling=False, collect=False):
        if sampling and not self.variational:
            raise ValueError(f"{self.name} has no variance heads (variational=False): "
                             "sampling=True draws from them")
        frames, key_frames = self._split_inputs(inputs)
        if key_frames is not None and key_frames.shape[1] == 0:
            # No external key frames (known when traced): long attention uses the clip alone.
            key_frames = None
        frames = ops.cast(frames, "float32")
        x = frames / PIXEL_SCALE
        slope = self.config.leaky_slope
        streams = [x]
        if key_frames is not None and self._last_long_layer >= 0:
            streams.append(ops.cast(key_frames, "float32") / PIXEL_SCALE)
        h = [ops.leaky_relu(self.stem(s), negative_slope=slope) for s in streams]
        info = {"z": [], "masks": [], "variance": []}
        for i, unit in enumerate(self.units):
            j = self._positions.get(i)
            if j is None:
                h = [unit(s, training=training) for s in h]
            else:
                block = self.attention[j]
                joined = []
                for k, s in enumerate(h):
                    kwargs = {"training": training, "sampling": sampling,
                                  "return_attention": collect and k == 0}
                    if isinstance(block, LongAttention) and len(h) > 1:
                        kwargs["key_values"] = list(h)
                    a = block(s, **kwargs)
                    if collect and k == 0:
                        a, block_info = a
                        info["z"].append(block_info["z"])
                        if "mask" in block_info:
                            info["masks"].append(block_info["mask"])
                        if "variance" in block_info:
                            info["variance"].append(block_info["variance"])
                    joined.append(unit(s, skip=a, training=training))
                h = joined
            if i >= self._last_long_layer:
                h = h[:1]
        # Under a mixed precision policy the layers compute in float16/bfloat16; the output (and
        # the bicubic skip added to it) stays float32. A no-op under the default float32 policy.
        sr = ops.cast(self.upscaler(h[0], training=training), "float32")
        if self.config.bicubic_skip:
            sr = sr + self._bicubic(x)
        sr = sr * PIXEL_SCALE
        return (sr, info) if collect else sr

    def _bicubic(self, x):
        # Same values as tf.image.resize(method="bicubic") (layers.bicubic), but compilable
        # with XLA (jit_compile=True), which has no ResizeBicubic kernel.
        batch, frames = ops.shape(x)[0], ops.shape(x)[1]
        up = bicubic_upsample(fold_time(x), self.scale)
        return unfold_time(up, batch, frames)

    def call(self, inputs, training=None, sampling=False):
        """The super-resolved frames. ``sampling`` (a Python bool, variational networks only):
        False is the deterministic mean path z = mu (training stage 1, default inference); True
        draws z = mu + eps sigma in every attention block (stage 2, §5.3). The mode is this
        argument alone: nothing in the network stores it."""
        return self._forward(inputs, training=training, sampling=sampling)

    def dual_forward(self, frames, training=True):
        """(sr_mean, sr_sample): the mean path and one sampled path (stage-2 training with
        ``stage2_forward="two_pass"``; the default one-pass stage 2 of §5.3 calls the model once
        with ``sampling=True``).

        For a model without variance heads both are the same tensor.
        """
        mean = self._forward(frames, training=training, sampling=False)
        if not self.variational:
            return mean, mean
        return mean, self._forward(frames, training=training, sampling=True)

    def call_with_attention(self, frames, training=False, sampling=False):
        """(sr, {"z": [...], "masks": [...], "variance": [...]}), lists over attention blocks.

        ``z``: every block's latent attention (long: at ceil(H/2) x ceil(W/2), short: mask logits
        at H x W); ``masks``: sigmoid masks of short blocks; ``variance``: sigma**2 of
        variational blocks.
        """
        return self._forward(frames, training=training, sampling=sampling, collect=True)
