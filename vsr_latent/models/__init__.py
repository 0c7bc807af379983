"""The model registry and the network class: ``build_model(name)`` for every model the paper names."""

from vsr_latent.models.config import (
    BICUBIC_SKIP,
    BLOCK_KINDS,
    ModelConfig,
    VSRNetConfig,
)
from vsr_latent.models.registry import (
    MODEL_CONFIGS,
    MODEL_NAMES,
    build_model,
    count_params,
    model_config,
    registry_changes,
)
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
