"""Which budget a reproduction runs at (`vsr_latent.configs.budgets` defines each one).

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

from vsr_latent.configs.budgets import get_budget
from vsr_latent.errors import ConfigError

#: Budgets that train on the dataset root given (--data_root), never on the built-in clips.
ROOT_BUDGETS = ("full", "rehearsal")
#: Budgets whose step count ``--steps`` may change (minutes on a CPU).
STEPS_BUDGETS = ("tiny", "smoke")


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
    """The :class:`~vsr_latent.configs.budgets.Budget` ``name`` as a reproduction runs it:
    ``data_root`` is the data of ``full`` and ``cpu`` (``cpu`` defaults to its own dataset root;
    ``tiny`` and ``smoke`` always train on the built-in clips); ``steps`` replaces the step count
    of ``tiny`` and ``smoke`` (stage 2 gets half of it)."""
    budget = get_budget(name)
    if steps is not None:
        if budget.name not in STEPS_BUDGETS:
            raise ConfigError(f"--steps is for --budget {' or '.join(STEPS_BUDGETS)}; at "
                              f"{budget.name} use --set stage1_steps=N --set stage2_steps=N")
        budget = budget.with_steps(steps)
    if budget.name in ROOT_BUDGETS or (budget.name == "cpu" and data_root):
        budget = dataclasses.replace(budget, data_source=str(data_root))
    return budget
