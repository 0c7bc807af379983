"""Typed experiment configs: the dataclasses and the settings the paper leaves open.

The paper leaves several training settings open (SPEC "GAP: K, λ, total steps, LR patch size,
augmentation"). Each is decided ONCE here, as a named module-level default, and every config of
the experiments uses these names:

- ``DEFAULT_TRAIN_STEPS`` (200 000): total steps of a model trained with L_re only (Tables 1, 2,
  Fig. 6, the non-variational models of Table 3) and the stage-1 length K of "ours".
- ``DEFAULT_STAGE1_STEPS`` K (200 000): stage 1 (variance heads off, L_re) of a variational model;
  equal to ``DEFAULT_TRAIN_STEPS`` so that Table 3's VLatn10_7/VSatn10_7 continue from exactly the
  Latn10_7/Satn10_7 runs of the same table (Algorithm 1 pre-training = those runs).
- ``DEFAULT_STAGE2_STEPS`` (50 000): stage 2 (variance heads on, L_re + λ·L_vae); the paper says
  "until the loss converges".
- ``DEFAULT_VAE_WEIGHT`` λ (1.0): equal weight of L_vae and L_re.
- ``DEFAULT_STAGE2_FORWARD`` ("one_pass"): how a stage-2 step computes L_re and L_vae
  (``ExperimentConfig.stage2_forward``, ``STAGE2_FORWARDS``). §5.3 reads: "采样是在计算 L_re 的同时
  进行的。在训练的第二阶段, L_re 和 L_vae 同时被计算。由于整个训练过程是端到端的, 注意力功能块后面的部分
  只需要传播一次" (the attention is sampled while L_re is computed; in the second stage of training,
  L_re and L_vae are computed at the same time; since the whole training is end to end, the part
  after the attention blocks only needs to be propagated once). "one_pass" is that reading: one
  forward pass with z = μ + εσ in every attention block, and L_re (eq. 22) and L_vae (eq. 23) both
  computed on its output, so the two terms are the same number and a stage-2 step trains
  (1 + λ)·L on the sampled path at the cost of a stage-1 step; ``psnr/train`` is then the sampled
  path's. "two_pass" (this package's earlier reading, `VSRNet.dual_forward`) runs the network
  twice with shared weights, L_re on the mean path (z = μ) and L_vae on one sampled path, at
  about twice a stage-1 step's cost; the cpu budget keeps it (``CPU_STAGE2_FORWARD``) because
  the shipped ``ours_cpu`` was trained with it, and run folders written before the setting
  existed read as "two_pass" (`vsr_latent.configs.config_json`).
- ``DEFAULT_LR_PATCH`` (32): LR crop side, i.e. 128×128 HR crops (the paper gives neither).
- ``DEFAULT_BATCH_SIZE`` (16, global over all replicas): the paper uses "the largest that fits" on
  two 1080 Ti; 16 clips of 7×32×32 fit comfortably on any current GPU.
- ``DEFAULT_AUGMENTATION`` (("hflip", "reverse")): a random horizontal flip and a random time
  reversal of the whole sample, drawn per sample by the data pipeline (its default too; the
  pipeline checks its names with the configs' `check_augmentation`); the paper names no
  augmentation, ``()`` (on the command line ``--set data.augmentation=none``) trains on plain
  crops. ``AUGMENTATIONS`` also
  offers "vflip" and "transpose" (square crops), opt-in: with all four a sample is one of the 8
  symmetries of the square, forwards or backwards in time.
- ``PAPER_DEGRADATION`` ("scipy": ``scipy.misc.imresize(x, 1/4, 'bicubic')`` as the paper's code
  of its time did it, i.e. Pillow's antialiased bicubic on uint8 frames, bit-exact; see
  `vsr_latent.data.degrade`) for the ablations (§7: preprocessing done with SciPy) and
  ``VID4_DEGRADATION`` ("bi", MATLAB-compatible bicubic) for "ours", which Table 4 evaluates on
  Vid4 BIx4.
- ``DEFAULT_DEGRADE_CONTEXT`` (False): the paper degrades each training crop alone (§7: "each
  crop bicubic-downsampled"), so its outer LR pixels (2 at x4, `degrade.context_margin`) are
  computed from the degradation's border padding, not from the frame around the crop, unlike
  every pixel of a degraded test frame but its own border; ``data.degrade_context=True``
  degrades the crop with the frame around it, so training LR patches are crops of degraded
  frames (the validation crops follow the same setting).
- ``DEFAULT_PRECISION`` ("float32"): the paper trains in float32; ``"mixed_bfloat16"`` (bfloat16
  compute, float32 weights and losses, no loss scaling needed) is an option for CPUs with native
  bfloat16 and for GPUs; ``"mixed_float16"`` (float16 compute, float32 weights and losses, Keras'
  dynamic loss scaling, overflowing steps skipped) for GPUs without bfloat16 (the paper's 1080 Ti,
  V100, T4) and for tensor cores.
- ``DEFAULT_JIT_COMPILE`` (False): the training step's forward and backward pass run without XLA;
  ``jit_compile=True`` compiles them (measured slower on the 2-core CPU this package is developed
  on; try it on a GPU with ``vsr-latent benchmark --train``).
- ``DEFAULT_DETERMINISTIC`` (False): TensorFlow's op determinism stays off. On the CPU two runs
  of one config and seed already end with bitwise-equal weights without it (on one replica and
  on two), and a run resumed from a checkpoint ends equal to the uninterrupted one; what differs
  between machines is the kernels a CPU's instruction set selects (measured in
  docs/reproducibility.md), which op determinism does not change. On GPUs some kernels (cuDNN's
  fastest convolution algorithms, atomic additions) reorder sums from run to run;
  ``deterministic=True`` makes TensorFlow pick deterministic ones and raise for any op that has
  none (`vsr_latent.training.determinism`; the GPU readiness test lists the step's ops without a
  deterministic GPU kernel), at a cost in speed.
- ``DEFAULT_DATA_SERVICE`` (None): the input pipeline runs in the training process;
  ``data_service="grpc://HOST:PORT"`` names a tf.data service dispatcher whose workers (other
  machines' CPUs) run it, for GPUs one host's cores cannot feed.
- ``DEFAULT_RECONSTRUCTION_LOSS`` ("l2"): L_re and L_vae as the paper writes them, the mean
  squared error on [0, 1] (`vsr_latent.training.losses`); ``"charbonnier"`` (smooth L1, as
  EDVR and BasicVSR train) is an option.
- ``DEFAULT_LR_SCHEDULE`` ("constant") with no warm-up: the paper gives one learning rate and no
  schedule; ``"cosine"`` decays from ``learning_rate`` to ``min_learning_rate`` over the run after
  ``warmup_steps`` of linear warm-up (the cpu budget uses it).
- ``DEFAULT_VALIDATE_EVERY`` (5 000) steps, on ``DEFAULT_VAL_CLIPS`` (4) validation clips, the
  first L frames of each, a centre crop of ``DEFAULT_VAL_LR_CROP`` (64) LR pixels: a cheap,
  fixed validation PSNR (RGB, mean path) logged to TensorBoard as ``psnr/validation``; the
  tables' validation numbers are computed afterwards on whole clips.
- ``DEFAULT_CROPS_PER_WINDOW`` (None: the input pipeline's per-source default,
  `vsr_latent.data.pipelines.default_crops_per_window`: 1 sample a window from raw roots and the
  built-in clips, which read crop-first; up to 8 consecutive samples a decoded window from roots
  of PNG/JPEG frames, whose whole frames cost far more to decode than to crop);
  ``data.crops_per_window=K`` sets it (K must divide each input pipeline's share of the batch).
- ``DEFAULT_TRAIN_SOURCE`` ("builtin"): the paper's "Normal" set (Harmonic, CDVL, SJTU 4K) cannot
  be downloaded here; point ``data.source`` at a dataset root made by ``data_tools`` for real runs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field

from vsr_latent.architecture import ModelConfig
from vsr_latent.errors import ConfigError
from vsr_latent.precision import PRECISIONS

# Adam and clipping: given by the paper (§7).
LEARNING_RATE = 1e-4
BETA_1 = 0.9
BETA_2 = 0.999
GLOBAL_CLIPNORM = 3.0
# Keras' default; the paper does not state epsilon.
ADAM_EPSILON = 1e-7

# GAP decisions (see the module docstring).
DEFAULT_TRAIN_STEPS = 200_000
DEFAULT_STAGE1_STEPS = DEFAULT_TRAIN_STEPS
DEFAULT_STAGE2_STEPS = 50_000
DEFAULT_VAE_WEIGHT = 1.0
DEFAULT_STAGE2_FORWARD = "one_pass"
STAGE2_FORWARDS = ("one_pass", "two_pass")
#: Forward passes of the network in one stage-2 training step, per ``stage2_forward`` (the FLOP
#: and time projections scale stage 2 by it; stage 1 is always one).
STAGE2_FORWARD_PASSES = {"one_pass": 1, "two_pass": 2}
DEFAULT_LR_PATCH = 32
DEFAULT_BATCH_SIZE = 16
DEFAULT_AUGMENTATION = ("hflip", "reverse")
AUGMENTATIONS = ("hflip", "reverse", "vflip", "transpose")
PAPER_DEGRADATION = "scipy"
VID4_DEGRADATION = "bi"
DEFAULT_TRAIN_SOURCE = "builtin"
DEFAULT_PRECISION = "float32"
DEFAULT_JIT_COMPILE = False
DEFAULT_DETERMINISTIC = False
DEFAULT_DATA_SERVICE = None
DEFAULT_RECONSTRUCTION_LOSS = "l2"
RECONSTRUCTION_LOSS_NAMES = ("l2", "charbonnier")
DEFAULT_LR_SCHEDULE = "constant"
LR_SCHEDULES = ("constant", "cosine")
DEFAULT_VALIDATE_EVERY = 5_000
DEFAULT_VAL_CLIPS = 4
DEFAULT_VAL_LR_CROP = 64
DEFAULT_DEGRADE_CONTEXT = False
DEFAULT_CROPS_PER_WINDOW = None

DEFAULT_CHECKPOINT_EVERY = 1_000
DEFAULT_KEEP_CHECKPOINTS = 3
DEFAULT_LOG_EVERY = 100
DEFAULT_IMAGE_EVERY = 5_000


def _raise_problems(owner, problems):
    if problems:
        raise ConfigError(f"{owner}: " + "; ".join(problems) if owner else "; ".join(problems))


def augmentation_problems(augmentation, lr_size=None, field="data.augmentation"):
    """What is wrong with ``augmentation`` (names of `AUGMENTATIONS`) for LR crops of ``lr_size``
    (H, W; None: square, as a config's ``data.lr_patch``): the one check of configs and the
    training pipeline, naming ``field``."""
    problems = []
    unknown = [a for a in augmentation if a not in AUGMENTATIONS]
    if unknown:
        problems.append(f"{field}: unknown {', '.join(map(repr, unknown))}; known: "
                        f"{', '.join(AUGMENTATIONS)} (or none)")
    if "transpose" in augmentation and lr_size is not None and lr_size[0] != lr_size[1]:
        problems.append(f"{field}: 'transpose' needs square crops, got LR size "
                        f"{tuple(lr_size)}")
    return problems


def check_augmentation(augmentation, lr_size=None, field="data.augmentation"):
    """``augmentation`` as a tuple; ConfigError when `augmentation_problems` finds any."""
    augmentation = tuple(augmentation)
    _raise_problems("", augmentation_problems(augmentation, lr_size, field))
    return augmentation


@dataclass(frozen=True)
class DataConfig:
    """Training data: what `vsr_latent.data.pipelines.train_dataset` gets. Checked when made."""

    source: str = DEFAULT_TRAIN_SOURCE
    lr_patch: int = DEFAULT_LR_PATCH
    batch_size: int = DEFAULT_BATCH_SIZE
    degradation: str = PAPER_DEGRADATION
    augmentation: tuple = DEFAULT_AUGMENTATION
    seed: int = 0
    val_clips: int = DEFAULT_VAL_CLIPS
    val_lr_crop: int = DEFAULT_VAL_LR_CROP
    degrade_context: bool = DEFAULT_DEGRADE_CONTEXT
    crops_per_window: int | None = DEFAULT_CROPS_PER_WINDOW

    def __post_init__(self):
        if isinstance(self.augmentation, list):  # from JSON
            object.__setattr__(self, "augmentation", tuple(self.augmentation))
        check_field_types(self, "data.")
        problems = augmentation_problems(self.augmentation)
        for key in ("batch_size", "lr_patch", "val_lr_crop"):
            if getattr(self, key) < 1:
                problems.append(f"data.{key} must be >= 1, got {getattr(self, key)}")
        if self.val_clips < 0:
            problems.append(f"data.val_clips must be >= 0, got {self.val_clips}")
        if self.crops_per_window is not None and self.crops_per_window < 1:
            problems.append(f"data.crops_per_window must be >= 1 (or null for the pipeline's "
                            f"default), got {self.crops_per_window}")
        _raise_problems("", problems)


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam with gradient clipping by global norm (§7); an optional warm-up and cosine decay.
    Checked when made (the warm-up against the run's length by `ExperimentConfig`)."""

    learning_rate: float = LEARNING_RATE
    beta_1: float = BETA_1
    beta_2: float = BETA_2
    epsilon: float = ADAM_EPSILON
    global_clipnorm: float = GLOBAL_CLIPNORM
    schedule: str = DEFAULT_LR_SCHEDULE
    warmup_steps: int = 0
    min_learning_rate: float = 0.0

    def __post_init__(self):
        check_field_types(self, "optimizer.")
        problems = []
        if self.schedule not in LR_SCHEDULES:
            problems.append(f"optimizer.schedule must be one of {', '.join(LR_SCHEDULES)}, "
                            f"got {self.schedule!r}")
        if self.warmup_steps < 0:
            problems.append(f"optimizer.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.learning_rate <= 0:
            problems.append("optimizer.learning_rate must be > 0")
        elif not 0 <= self.min_learning_rate <= self.learning_rate:
            problems.append("optimizer.min_learning_rate must be between 0 and learning_rate")
        if self.global_clipnorm <= 0:
            problems.append("optimizer.global_clipnorm must be > 0")
        _raise_problems("", problems)


@dataclass(frozen=True)
class ExperimentConfig:
    """One training run: the model, its data, the optimiser and Algorithm 1's two stages.

    ``model`` is the registry model with its architecture (its ``seq_len`` is the run's L).
    ``stage1_steps`` (K) train on L_re with the variance heads off; ``stage2_steps`` then train on
    L_re + ``vae_weight``·L_vae with them on (variational models only), both losses on one sampled
    pass (``stage2_forward="one_pass"``, §5.3) or L_re on the mean path and L_vae on a second,
    sampled pass (``"two_pass"``); see ``DEFAULT_STAGE2_FORWARD``. ``init_from`` names a
    finished run folder (or ``.keras`` file) whose weights start this run: Table 3's V models start
    their stage 2 from the Latn10_7 / Satn10_7 runs. ``seed`` seeds the weight initialisation
    and the stage-2 noise (``data.seed`` the samples), so a run is repeatable (``deterministic``
    adds TensorFlow's op determinism, for GPUs: ``DEFAULT_DETERMINISTIC``). ``budget`` names
    the budget applied (`vsr_latent.configs.budgets`).

    Frozen and checked when made, as the model config is: a config that exists is one a run can
    use (``dataclasses.replace`` and `vsr_latent.configs.apply_overrides` make checked copies).
    """

    name: str
    model: ModelConfig
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    stage1_steps: int = DEFAULT_TRAIN_STEPS
    stage2_steps: int = 0
    vae_weight: float = DEFAULT_VAE_WEIGHT
    stage2_forward: str = DEFAULT_STAGE2_FORWARD
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS
    log_every: int = DEFAULT_LOG_EVERY
    image_every: int = DEFAULT_IMAGE_EVERY
    validate_every: int = DEFAULT_VALIDATE_EVERY
    precision: str = DEFAULT_PRECISION
    jit_compile: bool = DEFAULT_JIT_COMPILE
    deterministic: bool = DEFAULT_DETERMINISTIC
    data_service: str | None = DEFAULT_DATA_SERVICE
    reconstruction_loss: str = DEFAULT_RECONSTRUCTION_LOSS
    init_from: str | None = None
    seed: int = 0
    budget: str = "full"

    def __post_init__(self):
        self.validate()

    @property
    def total_steps(self):
        return self.stage1_steps + self.stage2_steps

    def validate(self):
        """Returns the config; ConfigError for settings no run can use (run when it is made)."""
        from vsr_latent.models import MODEL_NAMES

        problems = []
        if not isinstance(self.model, ModelConfig):
            problems.append(f"model must be a ModelConfig, got {self.model!r}")
        elif self.model.name not in MODEL_NAMES:
            problems.append(f"model.name: unknown model {self.model.name!r}; known models: "
                            f"{', '.join(MODEL_NAMES)}")
        for key, part in (("data", DataConfig), ("optimizer", OptimizerConfig)):
            if not isinstance(getattr(self, key), part):
                problems.append(f"{key} must be a {part.__name__}, got {getattr(self, key)!r}")
        _raise_problems(f"config {self.name!r}", problems)
        check_field_types(self)
        if self.stage1_steps < 0 or self.stage2_steps < 0:
            problems.append("stage1_steps and stage2_steps must be >= 0")
        if self.total_steps < 1:
            problems.append("stage1_steps + stage2_steps must be >= 1")
        if self.stage2_forward not in STAGE2_FORWARDS:
            problems.append(f"stage2_forward must be one of {', '.join(STAGE2_FORWARDS)}, got "
                            f"{self.stage2_forward!r}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got "
                            f"{self.precision!r}")
        if self.reconstruction_loss not in RECONSTRUCTION_LOSS_NAMES:
            problems.append(f"reconstruction_loss must be one of "
                            f"{', '.join(RECONSTRUCTION_LOSS_NAMES)}, got "
                            f"{self.reconstruction_loss!r}")
        opt = self.optimizer
        if opt.schedule == "cosine" and opt.warmup_steps >= self.total_steps:
            problems.append(f"optimizer.warmup_steps ({opt.warmup_steps}) must be fewer than the "
                            f"run's {self.total_steps} steps")
        for key in ("checkpoint_every", "log_every", "image_every", "keep_checkpoints",
                    "validate_every"):
            if getattr(self, key) < 1:
                problems.append(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.data_service is not None and not self.data_service.startswith(
                ("grpc://", "grpc+loas://")):
            problems.append(f"data_service must be a dispatcher address grpc://HOST:PORT, got "
                            f"{self.data_service!r}")
        _raise_problems(f"config {self.name!r}", problems)
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def value_has_type(value, hint):
    """True when ``value`` (e.g. from JSON) is a value of the field type ``hint``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(value_has_type(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is tuple:
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return isinstance(value, hint)


def check_field_types(obj, prefix=""):
    """ConfigError naming the first field (``prefix`` + name) whose value has the wrong type;
    fields holding configs are left to those configs."""
    for name, hint in type_hints(type(obj)).items():
        value = getattr(obj, name)
        if dataclasses.is_dataclass(hint):
            continue
        if not value_has_type(value, hint):
            raise ConfigError(f"{prefix}{name} must be {getattr(hint, '__name__', hint)}, "
                              f"got {value!r}")


@functools.cache
def type_hints(cls):
    """The field types of a config dataclass."""
    return typing.get_type_hints(cls)
