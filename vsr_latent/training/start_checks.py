"""Checks made before a run trains: each raises, in one line naming the config field and the fix,
what would otherwise fail (or train on the wrong data) only later."""

from vsr_latent import run_folder
from vsr_latent.configs.base import DEFAULT_TRAIN_SOURCE
from vsr_latent.data.dataset_root import check_training_root
from vsr_latent.errors import ConfigError
from vsr_latent.scale import SCALE


def check_start(config, num_replicas):
    """Raises ConfigError / InputError, in one line naming the setting and the fix, for a run that
    would fail (or train on the wrong data) only later: a global batch the replicas do not divide,
    the built-in synthetic clips at the full budget, a training root that cannot serve L-frame
    clips. The paper runner calls it for every config of a table before training the first."""
    data = config.data
    if data.batch_size % num_replicas:
        fit = max(num_replicas, data.batch_size // num_replicas * num_replicas)
        raise ConfigError(
            f"config {config.name!r}: data.batch_size={data.batch_size} is not a multiple of the "
            f"{num_replicas} replicas (each takes an equal share of the global batch); set "
            f"data.batch_size to a multiple of {num_replicas}, e.g. data.batch_size={fit}")
    if data.source == DEFAULT_TRAIN_SOURCE:
        if config.budget == "full":
            raise ConfigError(
                f"config {config.name!r}: data.source is {DEFAULT_TRAIN_SOURCE!r} (the built-in "
                f"synthetic clips) at the full budget, which trains on the paper's data; set "
                f"data.source to a dataset root made by data_tools.make_dataset, or use a small "
                f"budget (tiny, smoke) to train on the built-in clips")
        return
    by_split = check_training_root(data.source, config.model.seq_len)
    if config.data_service and any(c.format == "raw" for c in by_split["train"]):
        # The raw reader is a NumPy function (vsr_latent.data.raw_frames): the service's
        # workers in other processes cannot run it.
        raise ConfigError(
            f"config {config.name!r}: data_service={config.data_service} with data.source="
            f"{data.source}, a root of raw clips, whose reader the tf.data service's workers "
            f"cannot run; make the root with `python -m data_tools.make_dataset --format png` "
            f"for the service, or train without data_service")


def check_model(config, model):
    """Raises CheckpointError / ConfigError for a built ``model`` a run of ``config`` cannot
    train: weights a checkpoint would leave out, another scale than the training data's, a
    stage 2 without variance heads."""
    run_folder.check_checkpoint_covers(model)
    if model.scale != SCALE:
        raise ConfigError(
            f"config {config.name!r}: model {config.model.name!r} is built for "
            f"x{model.scale} but the training data are made at x{SCALE} (the paper's "
            f"scale)"
        )
    if config.stage2_steps > 0 and not model.variational:
        raise ConfigError(
            f"config {config.name!r}: stage2_steps={config.stage2_steps} but model "
            f"{config.model.name!r} has no variance heads"
        )
