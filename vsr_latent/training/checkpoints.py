"""A run's checkpoints: what they hold, where each worker writes them, which one a run resumes.

A checkpoint holds the model, the optimiser (with the loss scale under mixed_float16), the step,
the data position (the number of global batches consumed), the skipped steps and the variance
heads' noise generator states (``noise_seeds``). Every training sample is a pure function of
(seed, its index) (`vsr_latent.data.pipelines`), so a resumed run builds its pipeline from the
data position on and sees the same batches an uninterrupted run would, and stage 2's draws
resume where they stopped: a run killed at any moment (SIGKILL) restarts from its latest
checkpoint to the same bits. Checkpoints written before the noise states were saved still
restore (stage 2's noise then starts from the generators' seeds).

Several workers: saving is collective, so every worker saves; the chief into the run folder, the
others aside (``.worker_<task id>``). On restart they agree on the newest step every one of them
has (a worker killed during a save may lack the newest one).
"""

import keras
import numpy as np
import tensorflow as tf

from vsr_latent import run_folder
from vsr_latent.errors import CheckpointError


def noise_seed_states(model):
    """The state variables of every ``keras.random.SeedGenerator`` in ``model``'s layers (the
    variance heads' noise), in layer order."""
    states = []
    for layer in model._flatten_layers(include_self=True, recursive=True):  # noqa: SLF001
        generator = getattr(layer, "seed_generator", None)
        if isinstance(generator, keras.random.SeedGenerator):
            states.append(generator.state)
    return states


class RunCheckpoints:
    """The checkpoints of ``train_step``'s state (a `TrainStep`) in ``run_dir``.

    ``workers``: the run's worker processes (`workers.num_workers`); ``is_chief`` and ``task_id``
    say which this one is (`strategy.worker_info`).
    """

    def __init__(self, train_step, run_dir, keep, workers=1, is_chief=True, task_id=0):
        self.strategy = train_step.strategy
        self.workers = workers
        model = train_step.model
        with self.strategy.scope():
            state = dict(model=model, optimizer=train_step.optimizer, step=train_step.step,
                         data_position=train_step.data_position,
                         skipped_steps=train_step.skipped_steps)
            self.checkpoint = tf.train.Checkpoint(**state)
            # Checkpoints written before the noise generators' states were saved (see below).
            self._checkpoint_without_noise = tf.train.Checkpoint(**state)
            # Stage 2's noise comes from the variance heads' keras.random.SeedGenerator states,
            # which TensorFlow's checkpoint does not find inside the model: saved by name here,
            # so a run resumed in stage 2 draws the noise the uninterrupted run would.
            noise = noise_seed_states(model)
            if noise:
                self.checkpoint.noise_seeds = noise
        directory = run_folder.checkpoint_dir(run_dir)
        if not is_chief:
            # Saving is collective under MultiWorkerMirroredStrategy: other workers write aside.
            directory = directory / f".worker_{task_id}"
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory),
                                                  max_to_keep=keep)

    @property
    def latest(self):
        """The path of this worker's newest checkpoint, or None."""
        return self.manager.latest_checkpoint

    def save(self, step):
        return self.manager.save(checkpoint_number=step)

    def to_resume(self):
        """The checkpoint this run resumes from (None: start fresh).

        With several workers each keeps its own checkpoints; a worker killed during a save may
        lack the newest one, so all workers agree on the newest step every one of them has.
        """
        steps = {
            int(path.rsplit("-", 1)[1]): path for path in self.manager.checkpoints
        }
        latest = max(steps) if steps else 0
        if self.workers > 1:
            per_replica = self.strategy.run(lambda: tf.constant([latest], tf.int32))
            agreed = int(np.min(self.strategy.gather(per_replica, axis=0).numpy()))
            if agreed and agreed not in steps:
                raise CheckpointError(
                    f"{self.manager.directory}: the workers' common checkpoint is step {agreed} "
                    f"but this worker only has steps {sorted(steps)}"
                )
            latest = agreed
        return steps.get(latest)

    def restore(self, path, config_name):
        """Restores the state saved at ``path`` (CheckpointError, naming the run's config
        ``config_name``, if it does not fit)."""
        try:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except AssertionError:
                if "noise_seeds" in tf.train.load_checkpoint(path).get_variable_to_shape_map():
                    raise
                # Written before the noise generators' states were saved: everything else
                # resumes; stage 2's noise then starts from the generators' seeds.
                self._checkpoint_without_noise.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise CheckpointError(
                f"{path}: cannot resume {config_name!r} from it: {str(e).splitlines()[0]}"
            ) from None
