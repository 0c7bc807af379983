"""Pretrained models shipped inside the package, loadable by name wherever a model spec is taken.

``ours_cpu``: the paper's final model (``ours``, 4.1 M parameters, L = 7) trained by this package
at the cpu budget (``vsr-latent train --config ours --budget cpu``) on the real footage of
``../shared/data/train_clips``: not the paper's data, not the paper's number of steps. Its model
card (``ours_cpu.md`` beside the weights) gives the data and licences, the command, the commit,
steps, wall time, hardware and its Vid4 scores with bicubic beside; ``reproduce/ours_cpu.sh``
remakes it.

A pretrained entry is a ``.keras`` file in this folder (package data). ``vsr-latent upscale`` uses
:data:`DEFAULT_UPSCALE_MODEL` when no ``--model`` is given. This module only names the entries and
their files; ``vsr_latent.serving.loading.load_model(name)`` loads one.
"""

import dataclasses
from pathlib import Path

from vsr_latent.errors import CheckpointError, ConfigError

FOLDER = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Pretrained:
    name: str
    model: str  # the registry model it is an instance of
    file: str
    card: str
    summary: str

    @property
    def path(self):
        return FOLDER / self.file

    @property
    def card_path(self):
        return FOLDER / self.card


PRETRAINED = {
    "ours_cpu": Pretrained(
        name="ours_cpu", model="ours", file="ours_cpu.keras", card="ours_cpu.md",
        summary="ours trained at CPU scale on real footage (train_clips), Vid4 BI x4"),
}
#: The model `vsr-latent upscale` uses without --model.
DEFAULT_UPSCALE_MODEL = "ours_cpu"
#: How the shipped weights are remade (the model card gives the measured wall time).
REMAKE_COMMAND = "reproduce/ours_cpu.sh"


def pretrained_path(name):
    """The ``.keras`` file of a pretrained model; CheckpointError when it is not installed."""
    entry = PRETRAINED.get(str(name).lower())
    if entry is None:
        raise ConfigError(f"unknown pretrained model {name!r}; known: {', '.join(PRETRAINED)}")
    if not entry.path.is_file():
        raise CheckpointError(f"{entry.path}: the pretrained model {entry.name!r} is not "
                              f"installed; remake it with {REMAKE_COMMAND}")
    return entry.path
