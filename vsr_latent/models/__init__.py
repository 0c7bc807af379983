"""The network: ``VSRNet`` and ``build_model(name)`` for every model the paper names.

The architectures and the registry of names are Keras-free data in `vsr_latent.architecture`;
this package re-exports them beside the network that builds them.
"""

from vsr_latent.architecture import (
    BICUBIC_SKIP,
    BLOCK_KINDS,
    MODEL_CONFIGS,
    MODEL_NAMES,
    ModelConfig,
    VSRNetConfig,
    model_config,
    registry_changes,
)
from vsr_latent.models.build import build_model, count_params
from vsr_latent.models.vsr_net import PIXEL_SCALE, VSRNet

__all__ = [
    "BICUBIC_SKIP",
    "BLOCK_KINDS",
    "MODEL_CONFIGS",
    "MODEL_NAMES",
    "PIXEL_SCALE",
    "ModelConfig",
    "VSRNet",
    "VSRNetConfig",
    "build_model",
    "count_params",
    "model_config",
    "registry_changes",
]
