"""Algorithm 1's training loop, the host side of a run: `train` is the entry.

The run is split as Model Garden splits a task from its trainer: `train_step.TrainStep` is the
device side (the model, the optimiser, the losses of each stage, loss scaling, the compiled step
and its device metrics); `Trainer` here runs it (the checkpoints, the data position, logging,
validation, pictures and the other workers). Start checks are `start_checks`, the checkpoints'
content and the workers' agreement on one are `checkpoints`, the batches (from a data position,
possibly through a tf.data service) are `train_data`, the worker count and lost peers `workers`.

Checkpoints (every ``checkpoint_every`` steps, and at the end) hold the model, the optimiser, the
step, the data position and the variance heads' noise generator states (``noise_seeds``): a
resumed run builds its pipeline from the data position on, computes nothing it skips, sees the
same batches an uninterrupted run would and draws stage 2's noise where it stopped. A run killed
at any moment (SIGKILL) restarts from its latest checkpoint and goes on counting steps from
there, to the same bits.

Non-finite loss: the run stops with `TrainingError` naming the step and the loss, WITHOUT saving:
the last checkpoint on disk (written before the bad step) stays the latest, so the run can be
resumed from it after a change (e.g. a lower learning rate via ``--set``).

No host sync per step: the compiled step returns nothing; the loop reads the device metrics
every ``log_every`` steps (means over the interval, to TensorBoard and the progress bar) and
reads the non-finite marker before every checkpoint, so a bad step is still caught before
anything is saved after it.

Several workers: a worker that dies or hangs makes the others' collectives fail; `train` turns
that, at set-up, in the loop or while saving, into one `TrainingError` that says how to resume.
"""

import sys
import time
from pathlib import Path

import keras
import tensorflow as tf
from tqdm import tqdm

from vsr_latent import run_folder
from vsr_latent.atomic import atomic_path
from vsr_latent.data.pipelines import build_validation_crops
from vsr_latent.errors import TrainingError
from vsr_latent.metrics import crops_psnr
from vsr_latent.scale import SCALE
from vsr_latent.training import train_data
from vsr_latent.training.checkpoints import RunCheckpoints
from vsr_latent.training.determinism import set_op_determinism
from vsr_latent.training.graph_memory import released_custom_gradients
from vsr_latent.training.start_checks import check_model, check_start
from vsr_latent.training.strategy import default_strategy, worker_info
from vsr_latent.training.summaries import TrainingSummaries, logs_images_at
from vsr_latent.training.train_step import TrainStep
from vsr_latent.training.workers import LOST_PEER_ERRORS, lost_peer_error, num_workers


def config_validation_crops(config):
    """The validation crops of an `ExperimentConfig` (`pipelines.build_validation_crops` of its
    data config and L; none when ``data.val_clips`` is 0)."""
    return build_validation_crops(config.data, seq_len=config.model.seq_len, scale=SCALE)


class Trainer:
    """One run of a config in a run folder (new or resumed). See `train` for the usual entry.

    ``train_step`` (a `TrainStep`) is the device side; ``model`` and ``step`` (its step counter)
    are the loop's view of it.
    """

    def __init__(self, config, run_dir, strategy=None, progress=True, log=print):
        self.config = config.validate()
        self.run_dir = Path(run_dir)
        self.strategy = strategy or default_strategy()
        self.progress = progress
        self.log = log
        self.is_chief, task_id = worker_info(self.strategy)
        self.num_replicas = self.strategy.num_replicas_in_sync
        check_start(self.config, self.num_replicas)
        set_op_determinism(config.deterministic)
        keras.utils.set_random_seed(config.seed)
        self.train_step = TrainStep(self.config, self.strategy)
        self.model, self.step = self.train_step.model, self.train_step.step
        check_model(self.config, self.model)
        self.checkpoints = RunCheckpoints(
            self.train_step, self.run_dir, keep=config.keep_checkpoints,
            workers=num_workers(self.strategy), is_chief=self.is_chief, task_id=task_id)
        # Validation: the crops (loaded at the first validation), the compiled mean path, and
        # the last PSNR (shown on the progress bar until the next).
        self._val_crops = None
        self._val_fn = None
        self._last_val = None

    def restore_or_initialize(self):
        """Resumes from the latest checkpoint, else applies ``init_from``; returns the step."""
        latest = self.checkpoints.to_resume()
        if latest:
            self.checkpoints.restore(latest, self.config.name)
            self.log(f"Resuming {self.config.name} from step {int(self.step.numpy())} ({latest})")
        else:
            self.log(
                f"Training {self.config.name} ({self.config.total_steps} steps) in {self.run_dir}"
            )
            if self.config.init_from:
                loaded, fresh = run_folder.init_weights_from(self.model, self.config.init_from)
                self.log(
                    f"Initialised {loaded} weights from {self.config.init_from}"
                    + (f"; {len(fresh)} start fresh (variance heads)" if fresh else "")
                )
        return int(self.step.numpy())

    def distributed_dataset(self, position=0):
        """The run's global batches from data position ``position`` on (`train_data`)."""
        return train_data.distributed_dataset(self.config, self.strategy, position)

    # ---- validation --------------------------------------------------------------------------

    def validation_crops(self):
        """The fixed validation samples (loaded once): see `config_validation_crops`."""
        if self._val_crops is None:
            self._val_crops = config_validation_crops(self.config)
        return self._val_crops

    def validation_psnr(self):
        """Mean PSNR (dB, RGB, SR rounded to 8 bits) of the mean path on the validation crops."""
        crops = self.validation_crops()
        if not crops:
            return None
        if self._val_fn is None:
            # The mean path alone: a sampled pass beside it would cost a second forward and
            # advance the variance heads' noise generators (stage 2's draws).
            self._val_fn = tf.function(lambda lr: self.model(lr, training=False),
                                       reduce_retracing=True)
        return crops_psnr(lambda lr: self._val_fn(tf.constant(lr)).numpy(), crops)

    # ---- reads of the device -----------------------------------------------------------------

    def _raise_if_non_finite(self):
        """The loop's check before it logs or saves: a step with a non-finite loss stops the run
        before anything is written after it."""
        bad = self.train_step.device_metrics.bad_step()
        if bad is None:
            return
        step, keys = bad
        raise TrainingError(
            f"{self.config.name}: non-finite {', '.join(keys)} at step {step} "
            f"(stage {self.train_step.stage_of(step - 1)}); the run stops without saving, its "
            f"last checkpoint ({self.checkpoints.latest or 'none'}) is intact"
        )

    def read_metrics(self):
        """The step's metrics since the last read (`TrainStep.metrics`), after the non-finite
        check: the loop's only read of the step's results (every ``log_every`` steps and at the
        end)."""
        self._raise_if_non_finite()
        return self.train_step.metrics()

    def save(self):
        self._raise_if_non_finite()
        return self.checkpoints.save(int(self.step.numpy()))

    # ---- the loop ----------------------------------------------------------------------------

    def run(self):
        """Trains up to ``config.total_steps``; returns the last metrics read (see `train`)."""
        config = self.config
        if self.is_chief:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            run_folder.write_config(self.run_dir, config)
        start = self.restore_or_initialize()
        total = config.total_steps
        summaries = (
            TrainingSummaries(run_folder.log_dir(self.run_dir) / "train") if self.is_chief else None
        )
        metrics = {}
        bar = None
        if self.progress and self.is_chief:
            bar = tqdm(total=total, initial=start, desc=config.name, unit="step",
                       file=sys.stderr, dynamic_ncols=True)
        try:
            metrics = self._loop(start, total, summaries, bar)
        finally:
            if bar is not None:
                bar.close()
            if summaries:
                summaries.close()
        if start >= total:
            self.log(f"{config.name}: already trained to step {total}")
        if self.is_chief:
            with atomic_path(run_folder.model_path(self.run_dir)) as tmp:
                self.model.save(str(tmp))
        return {"step": int(self.step.numpy()), **metrics}

    def _loop(self, start, total, summaries, bar):
        """Steps ``start`` (0-based) to ``total``, from the data position on, with the logging,
        validation, pictures and checkpoints due at each (``summaries``, ``bar``: None for
        none)."""
        config, variational = self.config, self.model.variational
        metrics = {}
        position = int(self.train_step.data_position.numpy())
        if config.data_service:
            self.log(f"Data: through the tf.data service at {config.data_service}")
        iterator = iter(self.distributed_dataset(position))
        step = start
        last_time, last_step = time.perf_counter(), step
        while step < total:
            stage = self.train_step.stage_of(step)
            batch = next(iterator)
            self.train_step.step_fn(stage)(batch)
            step += 1
            if summaries:
                # Text, not a scalar (smoothing would ramp 1 -> 2): at this process's first step
                # and at the switch.
                summaries.stage(step, stage, config.stage1_steps, total, config.vae_weight,
                                variational)
            if step % config.log_every == 0 or step == total:
                metrics = self.read_metrics()
                now = time.perf_counter()
                metrics["perf/steps_per_sec"] = (step - last_step) / max(now - last_time, 1e-9)
                last_time, last_step = now, step
                if summaries:
                    summaries.scalars(step, metrics)
                if bar is not None:
                    post = {"loss": f"{metrics['loss/total']:.5f}",
                            "psnr": f"{metrics['psnr/train']:.2f}",
                            "steps_s": f"{metrics['perf/steps_per_sec']:.2f}", "stage": stage}
                    if self._last_val is not None:
                        post["val_psnr"] = f"{self._last_val:.2f}"
                    bar.set_postfix(**post, refresh=False)
            if self.is_chief and (step % config.validate_every == 0 or step == total):
                psnr = self.validation_psnr()
                if psnr is not None:
                    metrics["psnr/validation"] = psnr
                    self._last_val = psnr
                    if summaries:
                        summaries.scalars(step, {"psnr/validation": psnr})
            # Pictures every image_every steps, at least MIN_IMAGE_LOGS times a run.
            if summaries and logs_images_at(step, config.image_every, total):
                lr, hr = (self.strategy.experimental_local_results(t)[0] for t in batch)
                summaries.images(step, self.model, lr, hr, sampling=stage == 2 and variational)
            if step % config.checkpoint_every == 0 or step == total:
                self.save()
            if bar is not None:
                bar.update(1)
        return metrics


def train(config, run_dir, strategy=None, progress=True, log=print):
    """Trains ``config`` in ``run_dir`` (resuming it if it has checkpoints); returns final metrics.

    The returned dict has ``step`` and what the run logged last: the means over the last
    ``log_every`` steps of ``loss/total``, ``loss/re``, ``loss/vae`` (stage 2), ``psnr/train`` and
    ``optimizer/grad_norm``, the learning rate and, in mixed_float16, ``optimizer/loss_scale``
    and ``optimizer/skipped_steps`` (empty beyond ``step`` when the run was already complete).
    """
    trainer = None
    try:
        # The run's traced graphs are released with it (graph_memory: many models, one process).
        with released_custom_gradients():
            trainer = Trainer(config, run_dir, strategy=strategy, progress=progress, log=log)
            return trainer.run()
    except LOST_PEER_ERRORS as e:
        # The one place a lost worker becomes our error: at set-up, in the loop or while saving.
        # Before the trainer exists there is no strategy to ask: TF_CONFIG says.
        if num_workers(trainer.strategy if trainer is not None else None) < 2:
            raise
        latest = (trainer.checkpoints.latest if trainer is not None
                  else run_folder.latest_checkpoint(run_dir))
        raise lost_peer_error(e, latest) from None
