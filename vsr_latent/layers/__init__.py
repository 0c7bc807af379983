"""Keras layers of the network (all serializable under the package name ``vsr_latent``)."""

from vsr_latent.architecture import (
    ATTENTION_BUDGET_ELEMENTS,
    LEAKY_SLOPE,
    RESIDUAL_INIT_SCALE,
)
from vsr_latent.layers.long_attention import LongAttention, softmax_attention
from vsr_latent.layers.residual import ResidualConvBlock3D
from vsr_latent.layers.short_attention import ShortAttention
from vsr_latent.layers.upscaler import DepthToSpaceUpscaler
from vsr_latent.layers.variational import SIGMA_BIAS_INIT, VariationalHead

__all__ = [
    "ATTENTION_BUDGET_ELEMENTS",
    "DepthToSpaceUpscaler",
    "LEAKY_SLOPE",
    "LongAttention",
    "RESIDUAL_INIT_SCALE",
    "ResidualConvBlock3D",
    "SIGMA_BIAS_INIT",
    "ShortAttention",
    "VariationalHead",
    "softmax_attention",
]
