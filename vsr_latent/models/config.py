"""Typed model configs: ``VSRNetConfig`` (the architecture of a ``VSRNet``; every registry entry
is one) and ``ModelConfig`` (a registry model by name with its architecture: what an experiment
config trains)."""

import dataclasses
import numbers

from vsr_latent.errors import ConfigError
from vsr_latent.layers import ATTENTION_BUDGET_ELEMENTS, LEAKY_SLOPE, RESIDUAL_INIT_SCALE
from vsr_latent.layers.upscaler import UPSCALER_INIT_SCALE
from vsr_latent.scale import SCALE

BLOCK_KINDS = ("long", "short")

# GAP (SPEC §Network, eqs. 18-21): a bicubic-upsampled copy of the input is added to the
# upscaler's output, so the network learns the residual detail.
BICUBIC_SKIP = True


@dataclasses.dataclass(frozen=True)
class VSRNetConfig:
    """Architecture of a ``VSRNet``.

    Attributes:
        blocks: kinds of the attention blocks, in order ("long" / "short"); block ``j`` of ``k``
            is attached to residual layer ``(j + 1) * num_layers // k - 1`` (evenly spread, the
            last on the last layer).
        num_layers: residual 3-D conv layers of the feature extractor.
        filters: feature channels everywhere at LR resolution.
        variational: attention blocks get mean/variance heads (§4.3 Fig. 5).
        seq_len: nominal clip length L used for training and evaluation chunking.
        scale: upscaling factor (4).
        leaky_slope: LeakyReLU slope (GAP).
        bicubic_skip: add a bicubic copy of the input to the output (GAP).
        max_attention_elements: long-attention chunking budget (None: unchunked).
        upscaler_init_scale: variance scale of the upscaler's initial kernel (small: a fresh model
            starts within a few levels of its bicubic skip; 1.0: Glorot).
        residual_init_scale: variance scale of each residual layer's initial kernel (1.0:
            Glorot; smaller: a fresh network starts closer to its stem, as BasicSR's do).
    """

    blocks: tuple = ()
    num_layers: int = 16
    filters: int = 64
    variational: bool = False
    seq_len: int = 7
    scale: int = SCALE
    leaky_slope: float = LEAKY_SLOPE
    bicubic_skip: bool = BICUBIC_SKIP
    max_attention_elements: int | None = ATTENTION_BUDGET_ELEMENTS
    upscaler_init_scale: float = UPSCALER_INIT_SCALE
    residual_init_scale: float = RESIDUAL_INIT_SCALE

    def __post_init__(self):
        # Overrides come from the command line / config.json too: check types before comparing.
        if not isinstance(self.blocks, (list, tuple)):
            raise ConfigError(f"blocks must be a list of 'long' / 'short', got {self.blocks!r}")
        for name in ("num_layers", "filters", "seq_len", "scale", "max_attention_elements"):
            value = getattr(self, name)
            if name == "max_attention_elements" and value is None:
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
        for name in ("leaky_slope", "upscaler_init_scale", "residual_init_scale"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise ConfigError(f"{name} must be a number, got {value!r}")
        object.__setattr__(self, "blocks", tuple(str(b) for b in self.blocks))
        bad = [b for b in self.blocks if b not in BLOCK_KINDS]
        if bad:
            raise ConfigError(f"unknown attention block kind(s) {bad}; known: {list(BLOCK_KINDS)}")
        if self.num_layers < 1 or self.filters < 1 or self.seq_len < 1 or self.scale < 1:
            raise ConfigError(
                f"num_layers, filters, seq_len and scale must be >= 1, got {self.num_layers}, "
                f"{self.filters}, {self.seq_len}, {self.scale}")
        if len(self.blocks) > self.num_layers:
            raise ConfigError(
                f"{len(self.blocks)} attention blocks need at least as many residual layers "
                f"(num_layers={self.num_layers})")

    def block_positions(self):
        """Residual layer index -> attention block index."""
        k = len(self.blocks)
        return {(j + 1) * self.num_layers // k - 1: j for j in range(k)}

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["blocks"] = list(self.blocks)
        return d

    def replace(self, **overrides):
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown model setting(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)


@dataclasses.dataclass(frozen=True)
class ModelConfig(VSRNetConfig):
    """A model of the registry by ``name`` with its architecture (``ExperimentConfig.model``).

    The architecture fields start as the registry's (``models.model_config(name)``) and may be
    changed (``--set model.filters=8``); ``name`` stays the registry name the model came from and
    names the built network.
    """

    name: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name must be a registry model name, got {self.name!r}")
        super().__post_init__()

    @classmethod
    def named(cls, name, architecture):
        """``architecture`` (a ``VSRNetConfig``) under the registry name ``name``."""
        return cls(name=name, **_architecture_fields(architecture))

    def architecture(self):
        """The plain ``VSRNetConfig`` (without the name)."""
        return VSRNetConfig(**_architecture_fields(self))


def _architecture_fields(config):
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(VSRNetConfig)}
