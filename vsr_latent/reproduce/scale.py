"""Which scale a reproduction runs at, and what each scale means.

``full``: the paper's data (a dataset root made by ``data_tools``) and the configs' own settings
(the paper's, where it gives them), meant for GPUs. ``smoke``: tiny models trained for a few
steps on the built-in clips, so every table runs end to end on a CPU in minutes; its numbers are
labelled as not comparable to the paper.

With no ``--scale``, :func:`choose_scale` picks full when a dataset root is given and a GPU is
visible, else smoke, and says why.
"""

from dataclasses import dataclass, field

from vsr_latent.errors import ConfigError

SCALES = ("full", "smoke")


def choose_scale(requested, data_root, gpus):
    """``(scale, reason)``: ``requested`` ("full", "smoke" or None), the dataset root (or None),
    the names of the visible GPUs."""
    if requested is not None:
        if requested not in SCALES:
            raise ConfigError(f"unknown scale {requested!r}; choose one of {', '.join(SCALES)}")
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
    """What a scale changes in the configs and the evaluation.

    ``config_overrides``: ``key=value`` settings applied on top of every training config (the
    training package's ``--set`` syntax); ``stage2_overrides`` on top of those for stage-2 runs.
    ``val_max_clips``: validation clips evaluated (None: all). ``vid4_max_frames`` /
    ``vid4_crop``: at smoke scale Vid4 is cut to its first frames and a centre crop of the LR
    frames so the CPU run stays within minutes (None: whole sequences).
    ``timing_frames``: frames timed for Table 5's seconds per frame.
    """

    name: str
    config_overrides: tuple = field(default_factory=tuple)
    stage2_overrides: tuple = field(default_factory=tuple)
    val_max_clips: int | None = None
    vid4_max_frames: int | None = None
    vid4_crop: tuple | None = None
    data_source: str = "builtin"


# Smoke settings: chosen so that `vsr-latent quickstart` (every table and figure: about 30 small
# training runs) finishes on 2 CPU cores in about 15 minutes. The configs' training keys are
# resolved against the training package when the runs are made (see drivers.py).
SMOKE_STEPS = 30
SMOKE_STAGE2_STEPS = 15
SMOKE_FILTERS = 8
SMOKE_LR_SIZE = 16
SMOKE_BATCH = 2
SMOKE_VAL_CLIPS = 2
SMOKE_VID4_FRAMES = 10
SMOKE_VID4_CROP = (48, 48)


def settings_for(scale, data_root=None, steps=None):
    """The :class:`ScaleSettings` of ``scale``; ``steps`` overrides the smoke step count."""
    if scale == "full":
        return ScaleSettings(name="full", data_source=str(data_root))
    if scale != "smoke":
        raise ConfigError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    s1 = SMOKE_STEPS if steps is None else int(steps)
    s2 = SMOKE_STAGE2_STEPS if steps is None else max(1, int(steps) // 2)
    return ScaleSettings(
        name="smoke",
        config_overrides=(f"steps={s1}", f"filters={SMOKE_FILTERS}",
                          f"lr_size={SMOKE_LR_SIZE}", f"batch_size={SMOKE_BATCH}"),
        stage2_overrides=(f"steps={s2}",),
        val_max_clips=SMOKE_VAL_CLIPS,
        vid4_max_frames=SMOKE_VID4_FRAMES,
        vid4_crop=SMOKE_VID4_CROP,
    )
