"""The budget a reproduction runs at: which one, its data and steps, and what it scores and times.

A budget's training settings are `vsr_latent.configs.budgets`' (the same for ``vsr-latent train
--budget``); what ``python -m vsr_latent.paper`` evaluates at each budget is decided here
(:data:`EVALUATIONS`): the validation clips and frames scored, the cut of each Vid4 sequence,
the passes timed for Table 5 and whether the shipped model is scored on whole Vid4.

``full``: the paper's data (a dataset root made by ``data_tools``, ``--data_root``) and the
configs' own settings, meant for GPUs. ``smoke``: narrow models trained for minutes on the
built-in clips, so every table runs end to end on a CPU; its numbers are labelled as not
comparable to the paper (``tiny``: the same at a few steps). ``cpu``: the full-size models trained
for real on a 2-core CPU (about two hours each) on the dataset root made from
``../shared/data/train_clips`` (``--data_root``, default ``data/cpu_root``); its numbers are
labelled CPU SCALE with every setting.

With no ``--budget``, :func:`choose_budget` picks full when a dataset root is given and a GPU is
visible, else smoke, and says why.
"""

import dataclasses
from dataclasses import dataclass

from vsr_latent.configs.budgets import Budget, get_budget
from vsr_latent.errors import ConfigError

#: Budgets that train on the dataset root given (--data_root), never on the built-in clips.
ROOT_BUDGETS = ("full", "rehearsal")
#: Budgets whose step count ``--steps`` may change (minutes on a CPU).
STEPS_BUDGETS = ("tiny", "smoke")

#: The rehearsal's frames scored per validation clip / Vid4 sequence: one window of the longest L
#: (its steps: `vsr_latent.configs.budgets.REHEARSAL_STEPS`; measured together on 2 cores,
#: docs/full_scale.md: Table 1 and Figure 6, 19 full-size models, in 45 min, three quarters of it
#: scoring 1080p frames; `all` about 1.5 h).
REHEARSAL_VAL_FRAMES = 7

_SMALL = {"val_max_clips": 2, "vid4_max_frames": 10, "vid4_crop": (48, 48)}

#: What the runner scores and times at each budget (:class:`ReproductionBudget`'s fields).
EVALUATIONS = {
    "full": {"timing_repeats": 3},
    "tiny": {**_SMALL, "pretrained_whole_vid4": False},
    # One validation clip: with the smoke budget's steps (`vsr_latent.configs.budgets.SMOKE_STEPS`,
    # where the measurement is) the quickstart stays under 10 minutes on 2 cores.
    "smoke": {**_SMALL, "val_max_clips": 1},
    "rehearsal": {"val_max_frames": REHEARSAL_VAL_FRAMES,
                  "vid4_max_frames": REHEARSAL_VAL_FRAMES},
    "cpu": {"timing_repeats": 3},
}


@dataclass(frozen=True)
class ReproductionBudget(Budget):
    """A :class:`~vsr_latent.configs.budgets.Budget` (what every config trains with) and what
    the runner evaluates at it (:data:`EVALUATIONS`).

    ``val_max_clips``: validation clips scored (None: all); ``val_max_frames``: frames scored of
    each (None: all); ``vid4_max_frames``, ``vid4_crop`` (LR pixels, H x W): each Vid4 sequence
    cut to its first frames and a centre crop (None: whole sequences); ``timing_repeats``: passes
    over the test frames timed for Table 5; ``pretrained_whole_vid4``: Tables 4 and 5 measure the
    shipped ``ours_cpu`` on whole Vid4 sequences (its real score) instead of the cut above (off
    only where seconds matter more than the number: the tests' tiny budget).
    """

    val_max_clips: int | None = None
    val_max_frames: int | None = None
    vid4_max_frames: int | None = None
    vid4_crop: tuple | None = None
    timing_repeats: int = 1
    pretrained_whole_vid4: bool = True


def choose_budget(requested, data_root, gpus):
    """``(budget name, reason)``: ``requested`` (a budget name or None), the dataset root (or
    None), the names of the visible GPUs."""
    if requested is not None:
        get_budget(requested)  # the one unknown-budget error
        if requested in ROOT_BUDGETS and not data_root:
            raise ConfigError(f"--budget {requested} needs the paper's data: pass --data_root DIR "
                              "(a dataset root made by data_tools)")
        return requested, f"--budget {requested} was given"
    if data_root and gpus:
        return "full", f"a dataset root ({data_root}) was given and a GPU is visible ({gpus[0]})"
    if not data_root and not gpus:
        why = "no --data_root was given and no GPU is visible"
    elif not data_root:
        why = "no --data_root was given"
    else:
        why = "no GPU is visible"
    return "smoke", f"{why}; pass --budget full --data_root DIR to run at the paper's scale"


def reproduction_budget(name, data_root=None, steps=None):
    """The :class:`ReproductionBudget` ``name`` as a reproduction runs it: ``data_root`` is the
    data of ``full`` and ``cpu`` (``cpu`` defaults to its own dataset root; ``tiny`` and
    ``smoke`` always train on the built-in clips); ``steps`` replaces the step count of ``tiny``
    and ``smoke`` (stage 2 gets half of it)."""
    budget = get_budget(name)
    if steps is not None:
        if budget.name not in STEPS_BUDGETS:
            raise ConfigError(f"--steps is for --budget {' or '.join(STEPS_BUDGETS)}; at "
                              f"{budget.name} use --set stage1_steps=N --set stage2_steps=N")
        budget = budget.with_steps(steps)
    if budget.name in ROOT_BUDGETS or (budget.name == "cpu" and data_root):
        budget = budget.with_settings(**{"data.source": str(data_root)})
    training = {f.name: getattr(budget, f.name) for f in dataclasses.fields(Budget)}
    return ReproductionBudget(**training, **EVALUATIONS.get(budget.name, {}))
