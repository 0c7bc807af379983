"""Which scale a reproduction runs at, and what each scale means.

``full``: the paper's data (a dataset root made by ``data_tools``) and the configs' own settings
(the paper's, where it gives them), meant for GPUs. ``smoke``: tiny models trained for a few
steps on the built-in clips, so every table runs end to end on a CPU in minutes; its numbers are
labelled as not comparable to the paper. ``cpu``: the full-size models trained for real on a 2-core
CPU (under two hours each) on the CPU-scale dataset root made from ``../shared/data/train_clips``
(``vsr_latent.configs.CPU_*``: steps, batch, patch, learning-rate schedule); its numbers are
labelled CPU SCALE with every setting.

With no ``--scale``, :func:`choose_scale` picks full when a dataset root is given and a GPU is
visible, else smoke, and says why.
"""

from dataclasses import dataclass, field

from vsr_latent.errors import ConfigError

SCALES = ("full", "smoke", "cpu")


def choose_scale(requested, data_root, gpus):
    """``(scale, reason)``: ``requested`` ("full", "smoke" or None), the dataset root (or None),
    the names of the visible GPUs."""
    if requested is not None:
        if requested not in SCALES:
            raise ConfigError(f"unknown scale {requested!r}; choose one of {', '.join(SCALES)}")
        if requested == "cpu":
            return requested, "--scale cpu was given"
        if requested == "full" and not data_root:
            raise ConfigError("--scale full needs the paper's data: pass --data_root DIR "
                              "(a dataset root made by data_tools)")
        return requested, f"--scale {requested} was given"
    if data_root and gpus:
        return "full", f"a dataset root ({data_root}) was given and a GPU is visible ({gpus[0]})"
    if not data_root and not gpus:
        why = "no --data_root was given and no GPU is visible"
    elif not data_root:
        why = "no --data_root was given"
    else:
        why = "no GPU is visible"
    return "smoke", f"{why}; pass --scale full --data_root DIR to run at the paper's scale"


@dataclass(frozen=True)
class ScaleSettings:
    """What a scale changes in the training configs and the evaluation.

    ``stage1_steps`` / ``stage2_steps``: replace the configs' step counts where those are non-zero
    (None: the config's own). ``train_overrides``: further ``key=value`` settings of the training
    package (``vsr-latent train --set`` syntax) applied to every config. ``val_max_clips``:
    validation clips evaluated (None: all). ``vid4_max_frames`` / ``vid4_crop``: at smoke scale
    each Vid4 sequence is cut to its first frames and a centre crop (LR pixels, H x W) so the CPU
    run stays within minutes (None: whole sequences). ``timing_repeats``: passes over the test
    frames timed for Table 5 (after one untimed warm-up pass).
    """

    name: str
    stage1_steps: int | None = None
    stage2_steps: int | None = None
    train_overrides: tuple = field(default_factory=tuple)
    val_max_clips: int | None = None
    vid4_max_frames: int | None = None
    vid4_crop: tuple | None = None
    data_source: str = "builtin"
    timing_repeats: int = 1
    user_overrides: tuple = field(default_factory=tuple)

    def overrides_for(self, config):
        """The ``key=value`` list that turns ``config`` into this scale's version of it."""
        out = []
        if self.stage1_steps is not None and config.stage1_steps > 0:
            out.append(f"stage1_steps={self.stage1_steps}")
        if self.stage2_steps is not None and config.stage2_steps > 0:
            out.append(f"stage2_steps={self.stage2_steps}")
        if self.data_source != "builtin":
            out.append(f"data.source={self.data_source}")
        out += list(self.train_overrides)
        for item in self.user_overrides:
            # A step count of a stage a config does not have is left alone (0 stays 0), so
            # "--set stage2_steps=N" can be given to every table.
            key = item.split("=", 1)[0].strip()
            if key in ("stage1_steps", "stage2_steps") and getattr(config, key) == 0:
                continue
            out.append(item)
        return out

    def describe(self):
        user = (" ; user settings: " + " ".join(self.user_overrides)) if self.user_overrides else ""
        if self.name == "full":
            return "the configs' own settings (the paper's where it gives them)" + user
        if self.name == "cpu":
            from vsr_latent.configs import (
                CPU_BATCH_SIZE,
                CPU_LEARNING_RATE,
                CPU_LR_PATCH,
                CPU_MIN_LEARNING_RATE,
                CPU_PRECISION,
                CPU_STAGE1_STEPS,
                CPU_STAGE2_STEPS,
                CPU_WARMUP_STEPS,
            )

            return (f"CPU scale: full-size models on {self.data_source}; stage 1: "
                    f"{CPU_STAGE1_STEPS} steps, stage 2: {CPU_STAGE2_STEPS} steps (models without "
                    f"stage 2: {CPU_STAGE1_STEPS + CPU_STAGE2_STEPS} in stage 1), batch "
                    f"{CPU_BATCH_SIZE}, LR patch {CPU_LR_PATCH}, Adam {CPU_LEARNING_RATE:g} with "
                    f"{CPU_WARMUP_STEPS} warm-up steps and cosine decay to "
                    f"{CPU_MIN_LEARNING_RATE:g}, {CPU_PRECISION}" + user)
        return (f"stage 1: {self.stage1_steps} steps, stage 2: {self.stage2_steps} steps, "
                + " ".join(self.train_overrides) + user)


# Smoke settings: chosen so that `vsr-latent quickstart` (every table and figure: about 30 small
# training runs) finishes on 2 CPU cores in about 15 minutes.
SMOKE_STEPS = 150
SMOKE_STAGE2_STEPS = 50
SMOKE_TRAIN_OVERRIDES = (
    "model_overrides.filters=8",
    "optimizer.learning_rate=0.001",
    "data.lr_patch=16",
    "data.batch_size=2",
    "log_every=10",
    "checkpoint_every=1000",
    "image_every=100000",
)
SMOKE_VAL_CLIPS = 2
SMOKE_VID4_FRAMES = 10
SMOKE_VID4_CROP = (48, 48)


def settings_for(scale, data_root=None, steps=None, overrides=()):
    """The :class:`ScaleSettings` of ``scale``; ``steps`` overrides the smoke step count (stage 2
    gets half of it); ``overrides`` are the user's ``key=value`` training settings (``--set``),
    applied to every config after the scale's own."""
    overrides = tuple(overrides or ())
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
    if scale == "full":
        if steps is not None:
            raise ConfigError("--steps is for --scale smoke; at full scale use "
                              "--set stage1_steps=N --set stage2_steps=N")
        return ScaleSettings(name="full", data_source=str(data_root), timing_repeats=3,
                             user_overrides=overrides)
    if scale == "cpu":
        if steps is not None:
            raise ConfigError("--steps is for --scale smoke; at CPU scale use "
                              "--set stage1_steps=N --set stage2_steps=N")
        from vsr_latent.configs import CPU_DATA_ROOT

        # Step counts, batch, patch and schedule come from the configs' own CPU scale
        # (get_config(name, scale="cpu")); only the dataset root is the reproduction's.
        return ScaleSettings(name="cpu", data_source=str(data_root or CPU_DATA_ROOT),
                             timing_repeats=3, user_overrides=overrides)
    if scale != "smoke":
        raise ConfigError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    s1 = SMOKE_STEPS if steps is None else int(steps)
    s2 = SMOKE_STAGE2_STEPS if steps is None else max(1, int(steps) // 2)
    return ScaleSettings(
        name="smoke", stage1_steps=s1, stage2_steps=s2, train_overrides=SMOKE_TRAIN_OVERRIDES,
        val_max_clips=SMOKE_VAL_CLIPS, vid4_max_frames=SMOKE_VID4_FRAMES,
        vid4_crop=SMOKE_VID4_CROP, user_overrides=overrides,
    )
