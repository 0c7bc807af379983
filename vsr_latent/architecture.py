"""The network's architecture as plain data, without Keras: the defaults the layers share with
the model config, ``VSRNetConfig`` (the architecture of a ``VSRNet``), ``ModelConfig`` (a registry
model by name with its architecture: what an experiment config trains) and the registry of every
model the paper names.

Configs, run folders and the command line read architectures without building a network, so this
module sits below the layers (which take their defaults from it) and imports no Keras.

The registry: every model the paper names, by lower-case name, as a ``VSRNetConfig``.
Widths are chosen so the parameter budgets of the paper hold (trainable parameters):
``res16``, ``satn10``, ``latn10`` 1.7 M +- 20 k (§6.1); ``ours`` 4,108,739 within 1 % (Table 5).
The ``lsatn_*`` and ``v*`` models have no stated budget: ``lsatn_*`` use the width that puts
each of them near 1.7 M too (a fair Table-2 comparison); ``vlatn10``/``vsatn10`` keep the width
of ``latn10``/``satn10`` (stage 2 starts from those weights, §6.3) plus the variance heads.

Arrangements of five blocks (GAP where the paper only says "before"/"middle"):
``lsatn_x`` l s l s l; ``lsatn_s`` s s s l l; ``lsatn_l`` l l l s s; ``lsatn_sl`` l l s l l;
``lsatn_ls`` s s l s s.

``ours``: Table 2's best arrangement as printed (``lsatn_ls``, 30.03 dB; the text names
LSatn_sl) with variational attention, L = 7, 10 residual layers (as Table 2's models) and
the width raised to 72 filters, the only width with 10 layers inside 1 % of 4,108,739:
4,120,212 parameters (+0.28 %, checked in ``tests/test_models.py``).

Trainable parameters at these widths: res16 1,692,554; satn10 1,698,360; latn10 1,713,378;
lsatn_x 1,721,482; lsatn_s 1,720,239; lsatn_l 1,721,482; lsatn_sl 1,681,667;
lsatn_ls 1,687,075; ours 4,120,212.
"""

import dataclasses
import numbers

from vsr_latent.errors import ConfigError
from vsr_latent.scale import SCALE

# GAP (SPEC §Network, Fig. 4 lost): negative slope of every LeakyReLU in the network.
LEAKY_SLOPE = 0.2

# GAP (SPEC §Network: no initialisation is given): variance scale of each residual convolution's
# initial kernel (fan_avg, uniform); 1.0 is Keras' Glorot uniform. BasicSR's residual networks
# (EDSR, RRDBNet, BasicVSR) shrink their residual branches' initial weights tenfold instead, so
# that a fresh deep network starts close to its shallow skip path; the cpu budget's
# CPU_RESIDUAL_INIT_SCALE (0.01) is that shrink.
RESIDUAL_INIT_SCALE = 1.0

# Largest attention matrix (batch x queries x keys, float elements) computed at once; above it the
# queries are processed in chunks (2**24 floats = 64 MiB). None or 0 turns chunking off.
ATTENTION_BUDGET_ELEMENTS = 2**24

# Why: the residual extractor has no normalisation, so features grow with depth; with a standard
# (Glorot, scale 1) final convolution a fresh full-size model's output is thousands of levels
# away from its bicubic skip and training starts near 5 dB. A small scale (variance scaling,
# fan-avg) starts every model within a few levels of bicubic (EDSR-style residual scaling)
# while keeping every path's contribution non-zero.
UPSCALER_INIT_SCALE = 1e-6

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


L, S = "long", "short"

MODEL_CONFIGS = {
    "res16": VSRNetConfig(blocks=(), num_layers=16, filters=61, seq_len=4),
    "satn10": VSRNetConfig(blocks=(S,) * 5, num_layers=10, filters=44, seq_len=4),
    "latn10": VSRNetConfig(blocks=(L,) * 5, num_layers=10, filters=60, seq_len=4),
    "lsatn_x": VSRNetConfig(blocks=(L, S, L, S, L), num_layers=10, filters=52, seq_len=7),
    "lsatn_s": VSRNetConfig(blocks=(S, S, S, L, L), num_layers=10, filters=49, seq_len=7),
    "lsatn_l": VSRNetConfig(blocks=(L, L, L, S, S), num_layers=10, filters=52, seq_len=7),
    "lsatn_sl": VSRNetConfig(blocks=(L, L, S, L, L), num_layers=10, filters=55, seq_len=7),
    "lsatn_ls": VSRNetConfig(blocks=(S, S, L, S, S), num_layers=10, filters=46, seq_len=7),
    "vlatn10": VSRNetConfig(blocks=(L,) * 5, num_layers=10, filters=60, seq_len=7,
                            variational=True),
    "vsatn10": VSRNetConfig(blocks=(S,) * 5, num_layers=10, filters=44, seq_len=7,
                            variational=True),
    "ours": VSRNetConfig(blocks=(S, S, L, S, S), num_layers=10, filters=72, seq_len=7,
                         variational=True),
}

MODEL_NAMES = tuple(MODEL_CONFIGS)


def model_config(name, seq_len=None, **overrides):
    """The ``ModelConfig`` of registry model ``name`` with ``seq_len`` and architecture overrides
    (``VSRNetConfig`` fields) applied."""
    key = str(name).lower()
    if key not in MODEL_CONFIGS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}")
    if seq_len is not None:
        overrides["seq_len"] = int(seq_len)
    return ModelConfig.named(key, MODEL_CONFIGS[key]).replace(**overrides)


def registry_changes(model):
    """The architecture fields of ``model`` (a ``ModelConfig``) that differ from its registry
    entry, e.g. ``{"filters": 8}`` for a narrow network."""
    registry = model_config(model.name).architecture().to_dict()
    return {name: value for name, value in model.architecture().to_dict().items()
            if value != registry[name]}
