"""Budgets: how much compute a run gets (steps, data, batch, schedule, ...), each defined once.

A budget is a named set of config overrides, the ``key=value`` settings of ``vsr-latent train
--set``, applied by the same `vsr_latent.configs.apply_overrides` before the user's own, so a
budget's settings are checked where every config is, when it is made. :func:`apply_budget`
(``get_config(name, budget=...)``) applies one, the same way for ``vsr-latent train --budget``
and ``python -m vsr_latent.paper --budget``; what the paper runner scores and times at each
budget is the runner's (`vsr_latent.paper.reproduction_budget`).

- ``full``: the configs' own settings (the paper's where it gives them), meant for GPUs.
- ``tiny``: a few steps of a narrow network on the built-in clips: checks the whole training path
  in seconds (the tests' budget).
- ``smoke``: narrow networks trained for minutes on the built-in clips, so every table and
  figure runs end to end on 2 CPU cores in under 10 minutes (``vsr-latent
  quickstart``); learning rate 1e-3, since the paper's 1e-4 barely moves a model in 150 steps.
- ``rehearsal``: the full budget's models, global batch (16), LR patch, L, degradations,
  validation and evaluation protocol and frame sizes on a dataset root of real HD footage
  (``--data_root``), with the step counts (``REHEARSAL_STEPS``) and the frames scored per
  validation clip and per Vid4 sequence cut (``REHEARSAL_VAL_FRAMES`` of
  `vsr_latent.paper.reproduction_budget`), so that every table runs
  the paper-scale path on a CPU (two replicas with ``VSR_LATENT_CPU_REPLICAS=2``); each table
  records peak memory, phase times and a projected full-budget wall time
  (`vsr_latent.paper.projection`). Its PSNRs say nothing about the method.
- ``cpu``: the registry's full-size models trained for real on a 2-core CPU in about two hours
  (2.1 h for ``ours``) on a dataset root made from ``../shared/data/train_clips``
  (``CPU_DATA_COMMAND``), with a warm-up + cosine learning rate, the Charbonnier loss
  (``CPU_RECONSTRUCTION_LOSS``) and gradients clipped to a global norm of 1.5
  (``CPU_GLOBAL_CLIPNORM``); chosen by measurement (see
  docs/cpu_scale.md). It made the shipped ``ours_cpu`` model. Measured for ``ours`` in float32,
  L = 7: 0.78 steps/s at batch 4 with 32x32 LR patches, 0.69 at batch 8 with 24x24 (more pixels
  a step, but every output pixel of a 24x24 patch sees its zero-padded border); stage-2 steps
  cost about twice a stage-1 step (two forward passes: the budget keeps the two-pass stage 2,
  ``CPU_STAGE2_FORWARD``, that trained ``ours_cpu``). mixed_bfloat16 was only 1.07x faster
  than float32 in training on this AVX512-BF16 CPU without AMX, so it trains in float32. Vid4 is
  never used for training.

Every budget but ``full`` sets the step counts and clears ``init_from``: a stage-2 config runs
its own short stage 1 instead of needing a finished paper-scale run.
"""

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

from vsr_latent.configs.overrides import OverrideError, apply_overrides, override_item
from vsr_latent.errors import ConfigError

CPU_DATA_ROOT = "data/cpu_root"
# make_dataset's settings for the cpu budget's root: one place for the command, the code that
# makes a missing root and the model card.
CPU_DATA_CLIP_LEN = 40
CPU_DATA_MAX_SIZE = "640x360"
CPU_DATA_ARGS = ("--clip_len", str(CPU_DATA_CLIP_LEN), "--max_size", CPU_DATA_MAX_SIZE)


def cpu_data_command(clip_len=CPU_DATA_CLIP_LEN, max_size=CPU_DATA_MAX_SIZE):
    """The make_dataset command for a cpu root of ``clip_len``-frame clips with frames reduced to
    fit ``max_size`` ("WxH"; None keeps them)."""
    size = f" --max_size {max_size}" if max_size else ""
    return ("python -m data_tools.make_dataset ../shared/data/train_clips "
            f"{CPU_DATA_ROOT} --clip_len {clip_len}{size}")


CPU_DATA_COMMAND = cpu_data_command()

# Charbonnier (smooth L1) instead of the paper's L2: on the same model, data and steps it ended
# higher on the validation crops (docs/cpu_scale.md). The paper's L2 stays the default elsewhere.
CPU_RECONSTRUCTION_LOSS = "charbonnier"
# The paper's clipping norm of 3 never acted at this scale on L2 (gradient norms 0.005-0.05), and
# a loss spike at the peak learning rate set two runs back by 0.2-0.4 dB before clipping could act;
# at 0.1 a spike's step was held to a normal size. Charbonnier's gradient norms are 10-33 times
# L2's on the same batches (median about 14), so the clip scales with them: 1.5 (docs/cpu_scale.md).
CPU_GLOBAL_CLIPNORM = 1.5
# Each residual layer's initial kernel at a hundredth of Glorot's variance (a tenth of its spread,
# as BasicSR initialises its residual networks), so a fresh network starts close to its stem and
# bicubic skip: the same recipe learned faster from step 1,250 on and ended higher on the
# validation crops (docs/cpu_scale.md). RESIDUAL_INIT_SCALE (Glorot) stays the default elsewhere.
CPU_RESIDUAL_INIT_SCALE = 0.01
# Stage 2 in two passes (L_re on the mean path, L_vae on a sampled one), not the one sampled pass
# of §5.3 that the configs default to (base.DEFAULT_STAGE2_FORWARD): the shipped ours_cpu was
# trained so, and a remake with this budget must train what its model card says.
CPU_STAGE2_FORWARD = "two_pass"


def cpu_root_difference(settings):
    """What differs between a root's make_dataset ``settings`` (``{"clip_len", "max_size"}``, see
    ``vsr_latent.data.dataset_root.root_settings``) and the cpu budget's: a sentence, or None when
    they agree. A root made with other settings trains a different model than the shipped one's."""
    want = {"clip_len": CPU_DATA_CLIP_LEN, "max_size": CPU_DATA_MAX_SIZE}
    diff = [f"{k} {settings.get(k)} (the cpu budget's: {v})" for k, v in want.items()
            if settings.get(k) != v]
    if not diff:
        return None
    return (f"made with {', '.join(diff)}; remake it with `{CPU_DATA_COMMAND}` to train what the "
            "cpu budget describes")


@dataclass(frozen=True)
class Budget:
    """A named set of config overrides: ``settings`` maps dotted config keys (as ``--set`` takes
    them: ``data.batch_size``, ``model.filters``, ``optimizer.learning_rate``) to values.

    Steps depend on the config, so they are given apart: a config with a stage 2 trains
    ``stage1_steps`` + ``stage2_steps``, one without trains ``single_stage_steps`` in stage 1, and
    a budget that sets steps clears ``init_from`` (a stage-2 config runs its own short stage 1
    instead of needing a finished paper-scale run). None keeps the config's own steps.
    """

    name: str
    summary: str
    settings: Mapping = field(default_factory=dict)
    stage1_steps: int | None = None
    stage2_steps: int | None = None
    single_stage_steps: int | None = None

    def __post_init__(self):
        # Read-only, as the rest of a budget: BUDGETS are shared by every caller.
        object.__setattr__(self, "settings", types.MappingProxyType(dict(self.settings)))

    @property
    def data_source(self):
        """The training data this budget sets (``data.source``), or None."""
        return self.settings.get("data.source")

    def with_steps(self, steps):
        """This budget with ``steps`` per model (stage 2 of a variational model: half, at least
        one)."""
        steps = int(steps)
        return dataclasses.replace(self, stage1_steps=steps, stage2_steps=max(1, steps // 2),
                                   single_stage_steps=steps)

    def with_settings(self, **settings):
        """This budget with more ``settings`` (dotted keys: pass them as ``**{"data.source":
        root}``)."""
        return dataclasses.replace(self, settings={**self.settings, **settings})

    def overrides(self, config):
        """The ``key=value`` items this budget applies to ``config`` (an ExperimentConfig)."""
        items = [override_item(k, v) for k, v in self.settings.items()]
        if self.stage1_steps is not None:
            if config.stage2_steps > 0:
                items += [f"stage1_steps={self.stage1_steps}",
                          f"stage2_steps={self.stage2_steps}"]
            else:
                items.append(f"stage1_steps={self.single_stage_steps}")
            items.append("init_from=none")
        return items + [f"budget={self.name}"]

    def describe(self):
        """One line: what the budget is and every setting it changes."""
        s = dict(self.settings)
        parts = []
        if self.stage1_steps is not None:
            parts.append(f"stage 1: {self.stage1_steps} steps, stage 2: {self.stage2_steps} steps "
                         f"(models without stage 2: {self.single_stage_steps} in stage 1)")
        for key, label in (("data.source", "data"), ("data.batch_size", "batch"),
                           ("data.lr_patch", "LR patch"), ("data.val_clips", "validation clips")):
            if key in s:
                parts.append(f"{label} {s.pop(key)}")
        if "data.augmentation" in s:
            parts.append("augmentation " + ("+".join(s.pop("data.augmentation")) or "none"))
        if "optimizer.learning_rate" in s:
            cosine = s.get("optimizer.schedule") == "cosine"
            parts.append(f"Adam {s.pop('optimizer.learning_rate'):g}" + (
                f" with {s.pop('optimizer.warmup_steps', 0)} warm-up steps and "
                f"{s.pop('optimizer.schedule')} decay to "
                f"{s.pop('optimizer.min_learning_rate', 0.0):g}" if cosine else ""))
        if "optimizer.global_clipnorm" in s:
            parts.append(f"gradients clipped to global norm {s.pop('optimizer.global_clipnorm'):g}")
        if "reconstruction_loss" in s:
            parts.append(f"{s.pop('reconstruction_loss')} loss")
        if "stage2_forward" in s:
            parts.append(f"stage 2 {s.pop('stage2_forward').replace('_', '-')}")
        if "precision" in s:
            parts.append(s.pop("precision"))
        model = {k[len("model."):]: s.pop(k) for k in list(s) if k.startswith("model.")}
        if model:
            parts.append("model " + ", ".join(f"{k}={v}" for k, v in model.items()))
        for key, label in (("log_every", "log"), ("checkpoint_every", "checkpoint"),
                           ("image_every", "images"), ("validate_every", "validate")):
            if key in s:
                parts.append(f"{label} every {s.pop(key)} steps")
        parts += [f"{k}={v}" for k, v in s.items()]  # any other setting, as --set writes it
        return f"{self.name}: {self.summary}" + (f"; {', '.join(parts)}" if parts else "")


#: The rehearsal's steps per model (stage 2: half, at least one): a traced first step and two
#: steady ones to time (the frames it scores: `vsr_latent.paper.reproduction_budget`). Measured
#: on 2 cores (docs/full_scale.md): Table 1 and Figure 6, 19 full-size models, in 45 min, three
#: quarters of it scoring 1080p frames; `all` about 1.5 h.
REHEARSAL_STEPS = 3

#: The smoke budget's steps (stage 2: more), with one validation clip scored
#: (`vsr_latent.paper.reproduction_budget`): the quickstart's 30-odd models (4-5 s of tracing
#: each) and the shipped model's real rows on whole Vid4 (2-3 min) in under 10 minutes on 2 cores
#: (150 + 50 steps and 2 clips took 11.2 min, README).
SMOKE_STEPS = 100
SMOKE_STAGE2_STEPS = 35

BUDGETS = {b.name: b for b in (
    Budget("full", "the configs' own settings (the paper's where it gives them)"),
    Budget("tiny", "a few steps of a narrow network on the built-in clips (checks the training "
                   "path in seconds)",
           stage1_steps=3, stage2_steps=3, single_stage_steps=6, settings={
               "data.source": "builtin", "data.lr_patch": 8, "data.batch_size": 2,
               "model.filters": 8, "checkpoint_every": 2, "log_every": 1, "image_every": 6}),
    Budget("smoke", "narrow networks trained for minutes on the built-in clips, on a CPU; not "
                    "comparable to the paper",
           stage1_steps=SMOKE_STEPS, stage2_steps=SMOKE_STAGE2_STEPS,
           single_stage_steps=SMOKE_STEPS, settings={
               "data.source": "builtin", "data.lr_patch": 16, "data.batch_size": 2,
               "optimizer.learning_rate": 1e-3, "model.filters": 8, "log_every": 10,
               "checkpoint_every": 1000, "image_every": 100_000}),
    Budget("rehearsal", "the full budget's models, batch, patch, L and protocol on real HD "
                        "footage (--data_root), steps and frames scored cut: rehearses the "
                        "paper's scale",
           stage1_steps=REHEARSAL_STEPS, stage2_steps=max(1, REHEARSAL_STEPS // 2),
           single_stage_steps=REHEARSAL_STEPS, settings={
               "log_every": 1, "checkpoint_every": REHEARSAL_STEPS, "image_every": 100_000,
               "validate_every": 100_000}),
    Budget("cpu", "full-size models trained for real on a 2-core CPU (about two hours each)",
           stage1_steps=5_400, stage2_steps=150, single_stage_steps=5_550, settings={
               "data.source": CPU_DATA_ROOT, "data.lr_patch": 32, "data.batch_size": 4,
               "data.val_clips": 8, "optimizer.learning_rate": 4e-4,
               "optimizer.schedule": "cosine", "optimizer.warmup_steps": 150,
               "optimizer.min_learning_rate": 4e-6,
               "optimizer.global_clipnorm": CPU_GLOBAL_CLIPNORM,
               "reconstruction_loss": CPU_RECONSTRUCTION_LOSS,
               "stage2_forward": CPU_STAGE2_FORWARD, "precision": "float32",
               "model.residual_init_scale": CPU_RESIDUAL_INIT_SCALE, "log_every": 25,
               "checkpoint_every": 250, "image_every": 500, "validate_every": 250}),
)}
BUDGET_NAMES = tuple(BUDGETS)


def budgets_help():
    """Every budget and what it is for, for a command's ``--budget`` help."""
    return "; ".join(f"{b.name}: {b.summary}" for b in BUDGETS.values())


def get_budget(budget):
    """The :class:`Budget` named ``budget`` (a Budget is returned as it is)."""
    if isinstance(budget, Budget):
        return budget
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; known budgets: {', '.join(BUDGET_NAMES)}")
    return BUDGETS[budget]


def apply_budget(config, budget):
    """``config`` (an ExperimentConfig) with the overrides of ``budget`` (a name or a Budget),
    applied as ``--set`` items are."""
    b = get_budget(budget)
    try:
        return apply_overrides(config, b.overrides(config))
    except OverrideError as e:  # the budget's own item: no user flag gave it
        raise ConfigError(f"budget {b.name}: {e}") from None
