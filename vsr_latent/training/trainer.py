"""Algorithm 1 as a custom `tf.distribute` training loop.

Stage 1 trains the mean path (variance heads off, ``model(lr)``) on L_re for
``config.stage1_steps`` (K) steps; stage 2 turns the variance heads on (``sampling=True``)
and trains on L_re + λ·L_vae, with L_re on the mean path and L_vae on one sampled path of the same
batch (``model.dual_forward``, §5.3), for ``config.stage2_steps`` more steps.

Distribution: the model, the optimiser and the checkpoint live in ``strategy.scope()``; each
replica scales its per-example losses by the GLOBAL batch size (`tf.nn.compute_average_loss`), the
replicas' gradients are summed (all-reduce), and the sum is clipped by its global norm (3, §7)
before Adam applies it, so clipping sees the true global gradient rather than each replica's part.

Checkpoints (every ``checkpoint_every`` steps, and at the end) hold the model, the optimiser, the
step and the data position (the number of global batches consumed). The training dataset is a
deterministic function of its seed, so a resumed run skips exactly the batches already consumed
and sees the same data an uninterrupted run would — up to ``EXACT_SKIP_LIMIT`` batches: skipping
recomputes every skipped sample (about 35 ms a batch of 16 on two CPU cores), so beyond that the
resumed run reseeds the data pipeline from (seed, position) instead: fresh samples from the same
distribution, still a deterministic function of the checkpoint. A run killed at any moment (SIGKILL) restarts
from its latest checkpoint and goes on counting steps from there.

Non-finite loss: the run stops with `TrainingError` naming the step and the loss, WITHOUT saving:
the last checkpoint on disk (written before the bad step) stays the latest, so the run can be
resumed from it after a change (e.g. a lower learning rate via ``--set``).
"""

import math
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vsr_latent import run_folder
from vsr_latent.atomic import atomic_path
from vsr_latent.errors import CheckpointError, ConfigError, TrainingError
from vsr_latent.scale import SCALE
from vsr_latent.training.losses import RECONSTRUCTION_LOSSES, per_example_psnr
from vsr_latent.training.strategy import default_strategy, worker_info
from vsr_latent.training.summaries import TrainingSummaries, image_interval

# Resuming at a data position up to this many global batches skips them exactly; further on the
# pipeline is reseeded (see the module docstring).
EXACT_SKIP_LIMIT = 2_000

# What a collective op raises when another worker died, hung (peer health checks) or aborted.
_LOST_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)


def _gist(error):
    """The line of a TensorFlow error that says what happened (not "Graph execution error:")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if any(w in line.lower() for w in ("abort", "connect", "unavailable", "deadline", "peer")):
            return line[:300]
    return lines[0][:300] if lines else "no detail"


class _SummedGradientAdam(keras.optimizers.Adam):
    """Adam that takes gradients already summed over the replicas.

    Keras' optimiser all-reduces inside ``apply_gradients``; the trainer must clip the summed
    gradient by its global norm first, so it does the all-reduce itself and this subclass skips
    the second one.
    """

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


def learning_rate_schedule(opt_config, total_steps):
    """The learning rate as a function of the optimiser's step: a constant or warm-up + cosine.

    Cosine: linear warm-up from 0 to ``learning_rate`` over ``warmup_steps``, then a cosine decay
    to ``min_learning_rate`` at ``total_steps``.
    """
    if opt_config.schedule == "constant":
        return opt_config.learning_rate
    decay_steps = max(1, total_steps - opt_config.warmup_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if opt_config.warmup_steps else opt_config.learning_rate,
        decay_steps=decay_steps,
        alpha=opt_config.min_learning_rate / opt_config.learning_rate,
        warmup_target=opt_config.learning_rate if opt_config.warmup_steps else None,
        warmup_steps=opt_config.warmup_steps,
    )


def crops_psnr(predict, crops):
    """Mean over clips of the PSNR (dB, RGB, one MSE per clip) of ``predict(lr)`` rounded to 8
    bits against ``hr``, for ``crops`` = [(lr, hr)] (`pipelines.validation_crops`)."""
    values = []
    for lr, hr in crops:
        sr = np.clip(np.round(np.asarray(predict(lr))), 0, 255)
        mse = np.mean((sr - hr) ** 2)
        values.append(10 * np.log10(255.0**2 / max(mse, 1e-10)))
    return float(np.mean(values))


def config_validation_crops(config):
    """The validation crops of an `ExperimentConfig` (`pipelines.validation_crops` with its data
    settings; none when ``data.val_clips`` is 0)."""
    from vsr_latent.data.pipelines import validation_crops

    data = config.data
    if not data.val_clips:
        return []
    return validation_crops(
        data.source, seq_len=config.model.seq_len, lr_crop=data.val_lr_crop, scale=SCALE,
        degradation=data.degradation, max_clips=data.val_clips,
        degrade_context=data.degrade_context,
    )


def make_optimizer(opt_config, total_steps=1):
    return _SummedGradientAdam(
        learning_rate=learning_rate_schedule(opt_config, total_steps),
        beta_1=opt_config.beta_1,
        beta_2=opt_config.beta_2,
        epsilon=opt_config.epsilon,
        name="adam",
    )


class Trainer:
    """One run of a config in a run folder (new or resumed). See `train` for the usual entry."""

    def __init__(self, config, run_dir, strategy=None, progress=True, log=print):
        self.config = config.validate()
        self.run_dir = Path(run_dir)
        self.strategy = strategy or default_strategy()
        self.progress = progress
        self.log = log
        self.is_chief, self.task_id = worker_info(self.strategy)
        self.num_replicas = self.strategy.num_replicas_in_sync
        self.global_batch = config.data.batch_size
        if self.global_batch % self.num_replicas:
            raise ConfigError(
                f"data.batch_size={self.global_batch} is not a multiple of the "
                f"{self.num_replicas} replicas"
            )
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.model = run_folder.build_model_for(config, precision=config.precision)
            self.optimizer = make_optimizer(config.optimizer, config.total_steps)
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.data_position = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="data_position"
            )
            self.checkpoint = tf.train.Checkpoint(
                model=self.model,
                optimizer=self.optimizer,
                step=self.step,
                data_position=self.data_position,
            )
        run_folder.check_checkpoint_covers(self.model)
        if getattr(self.model, "scale", SCALE) != SCALE:
            raise ConfigError(
                f"config {config.name!r}: model {config.model.name!r} is built for "
                f"x{self.model.scale} but the training data are made at x{SCALE} (the paper's "
                f"scale)"
            )
        if config.stage2_steps > 0 and not getattr(self.model, "variational", False):
            raise ConfigError(
                f"config {config.name!r}: stage2_steps={config.stage2_steps} but model "
                f"{config.model.name!r} has no variance heads"
            )
        ckpt_dir = run_folder.checkpoint_dir(self.run_dir)
        if not self.is_chief:
            # Saving is collective under MultiWorkerMirroredStrategy: other workers write aside.
            ckpt_dir = ckpt_dir / f".worker_{self.task_id}"
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(ckpt_dir), max_to_keep=config.keep_checkpoints
        )
        self._step_fns = {}
        self._stage_set = None

    # ---- state -------------------------------------------------------------------------------

    def _checkpoint_to_resume(self):
        """The checkpoint this run resumes from (None: start fresh).

        With several workers each keeps its own checkpoints; a worker killed during a save may
        lack the newest one, so all workers agree on the newest step every one of them has.
        """
        steps = {
            int(path.rsplit("-", 1)[1]): path for path in self.manager.checkpoints
        }
        latest = max(steps) if steps else 0
        if self.num_workers() > 1:
            per_replica = self.strategy.run(lambda: tf.constant([latest], tf.int32))
            agreed = int(np.min(self.strategy.gather(per_replica, axis=0).numpy()))
            if agreed and agreed not in steps:
                raise CheckpointError(
                    f"{self.manager.directory}: the workers' common checkpoint is step {agreed} "
                    f"but this worker only has steps {sorted(steps)}"
                )
            latest = agreed
        return steps.get(latest)

    def restore_or_initialize(self):
        """Resumes from the latest checkpoint, else applies ``init_from``; returns the step."""
        latest = self._checkpoint_to_resume()
        if latest:
            try:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
            except (AssertionError, ValueError, tf.errors.OpError) as e:
                raise CheckpointError(
                    f"{latest}: cannot resume {self.config.name!r} from it: "
                    f"{str(e).splitlines()[0]}"
                ) from None
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

    def stage_of(self, step):
        """1 or 2: the stage the step ``step`` (0-based) belongs to."""
        return 1 if step < self.config.stage1_steps else 2

    def set_stage(self, stage):
        """Records the stage. The model holds no mode: the step passes it to each call (stage 1
        ``model(lr)``, the mean path; stage 2 ``model.dual_forward(lr)``, mean and sampled)."""
        self._stage_set = stage

    # ---- data --------------------------------------------------------------------------------

    def dataset_fn(self, position):
        """The per-worker dataset function, skipping ``position`` global batches already used."""
        data = self.config.data
        seed, skip = data.seed, position
        if position > EXACT_SKIP_LIMIT:
            # A new seed per position, so two resumes at different positions differ.
            seed, skip = data.seed + 1_000_003 * position, 0

        def fn(input_context):
            from vsr_latent.data.pipelines import train_dataset

            ds = train_dataset(
                data.source,
                seq_len=self.config.model.seq_len,
                lr_size=(data.lr_patch, data.lr_patch),
                scale=SCALE,
                degradation=data.degradation,
                batch_size=self.global_batch,
                seed=seed,
                input_context=input_context,
                repeat=True,
                augment=tuple(data.augmentation),
                degrade_context=data.degrade_context,
            )
            # Each global step takes one per-replica batch for every replica this pipeline feeds.
            per_step = input_context.num_replicas_in_sync // input_context.num_input_pipelines
            if skip:
                ds = ds.skip(skip * per_step)
            return ds.prefetch(tf.data.AUTOTUNE)

        return fn

    def distributed_dataset(self, position=0):
        return self.strategy.distribute_datasets_from_function(self.dataset_fn(position))

    # ---- validation --------------------------------------------------------------------------

    def validation_crops(self):
        """The fixed validation samples (loaded once): see `config_validation_crops`."""
        if not hasattr(self, "_val_crops"):
            self._val_crops = config_validation_crops(self.config)
        return self._val_crops

    def validation_psnr(self):
        """Mean PSNR (dB, RGB, SR rounded to 8 bits) of the mean path on the validation crops."""
        crops = self.validation_crops()
        if not crops:
            return None
        if not hasattr(self, "_val_fn"):
            self._val_fn = tf.function(
                lambda lr: self.model.dual_forward(lr, training=False)[0], reduce_retracing=True)
        return crops_psnr(lambda lr: self._val_fn(tf.constant(lr)).numpy(), crops)

    # ---- one step ----------------------------------------------------------------------------

    def _replica_losses(self, lr, hr, stage):
        """(total loss, metrics) on one replica, each scaled by the global batch size."""
        def avg(per_example):
            return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)

        if stage == 2:
            sr_mean, sr_sample = self.model.dual_forward(lr, training=True)
        else:
            sr_mean = self.model(lr, training=True)
        per_example_loss = RECONSTRUCTION_LOSSES[self.config.reconstruction_loss]
        loss_re = avg(per_example_loss(sr_mean, hr))
        metrics = {"loss/re": loss_re}
        total = loss_re
        if stage == 2:
            loss_vae = avg(per_example_loss(sr_sample, hr))
            total = loss_re + self.config.vae_weight * loss_vae
            metrics["loss/vae"] = loss_vae
        if self.model.losses:
            total += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
        metrics["loss/total"] = total
        metrics["psnr/train"] = avg(per_example_psnr(tf.stop_gradient(sr_mean), hr))
        return total, metrics

    def replica_gradients(self, lr, hr, stage):
        """(summed-over-replicas gradients, variables, metrics) — call inside ``strategy.run``."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            total, metrics = self._replica_losses(lr, hr, stage)
        grads = tape.gradient(total, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        grads = [g for g, _ in pairs]
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and self.num_replicas > 1:
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        return grads, [v for _, v in pairs], metrics

    def _replica_step(self, lr, hr, stage):
        grads, variables, metrics = self.replica_gradients(lr, hr, stage)
        clipped, norm = tf.clip_by_global_norm(grads, self.config.optimizer.global_clipnorm)
        self.optimizer.apply_gradients(zip(clipped, variables))
        # Identical on every replica (computed from the summed gradient): divided back after SUM.
        metrics["optimizer/grad_norm"] = norm / self.num_replicas
        return metrics

    def step_fn(self, stage):
        """The compiled distributed train step of a stage (traced once per stage)."""
        if stage not in self._step_fns:

            @tf.function
            def train_step(batch):
                lr, hr = batch
                per_replica = self.strategy.run(self._replica_step, args=(lr, hr, stage))
                metrics = {
                    k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                    for k, v in per_replica.items()
                }
                self.step.assign_add(1)
                self.data_position.assign_add(1)
                return metrics

            self._step_fns[stage] = train_step
        return self._step_fns[stage]

    def gradients(self, batch, stage=1):
        """The all-reduced (unclipped) gradients of one distributed batch, as numpy (for checks)."""

        @tf.function
        def grads_fn(batch):
            lr, hr = batch
            grads, _, _ = self.strategy.run(self.replica_gradients, args=(lr, hr, stage))
            return grads

        per_replica = grads_fn(batch)
        return [self.strategy.experimental_local_results(g)[0].numpy() for g in per_replica]

    # ---- the loop ----------------------------------------------------------------------------

    def learning_rate(self):
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def save(self):
        return self.manager.save(checkpoint_number=int(self.step.numpy()))

    def run(self):
        """Trains up to ``config.total_steps``; returns the last step's metrics."""
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
            from tqdm import tqdm

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
        out = {"step": int(self.step.numpy()), **metrics}
        return out

    def num_workers(self):
        resolver = getattr(self.strategy, "cluster_resolver", None)
        if resolver is None:
            return 1
        try:
            return max(1, len(resolver.cluster_spec().as_dict().get("worker", [])) + len(
                resolver.cluster_spec().as_dict().get("chief", [])))
        except Exception:  # noqa: BLE001 - a resolver without a cluster spec: a single process
            return 1

    def _loop(self, start, total, summaries, bar):
        config = self.config
        metrics = {}
        position = int(self.data_position.numpy())
        if position > EXACT_SKIP_LIMIT:
            self.log(f"Data: position {position} is past the exact-skip limit "
                     f"({EXACT_SKIP_LIMIT} batches): the pipeline is reseeded from it")
        iterator = iter(self.distributed_dataset(position))
        step = start
        last_time, last_step = time.perf_counter(), step
        steps_per_sec = float("nan")
        # Pictures every image_every steps, and at least MIN_IMAGE_LOGS times a run.
        image_every = image_interval(config.image_every, total)
        while step < total:
            stage = self.stage_of(step)
            self.set_stage(stage)
            batch = next(iterator)
            result = self.step_fn(stage)(batch)
            step += 1
            metrics = {k: float(v) for k, v in result.items()}
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                raise TrainingError(
                    f"{config.name}: non-finite {', '.join(bad)} at step {step} "
                    f"(stage {stage}); the run stops without saving, its last checkpoint "
                    f"({self.manager.latest_checkpoint or 'none'}) is intact"
                )
            now = time.perf_counter()
            if summaries:
                # Text, not a scalar (smoothing would ramp 1 -> 2): at this process's first step
                # and at the switch.
                summaries.stage(step, stage, config.stage1_steps, total, config.vae_weight,
                                getattr(self.model, "variational", False))
            if step % config.log_every == 0 or step == total:
                steps_per_sec = (step - last_step) / max(now - last_time, 1e-9)
                last_time, last_step = now, step
                if summaries:
                    summaries.scalars(step, {
                        **metrics,
                        "optimizer/learning_rate": self.learning_rate(),
                        "perf/steps_per_sec": steps_per_sec,
                    })
            if self.is_chief and (step % config.validate_every == 0 or step == total):
                psnr = self.validation_psnr()
                if psnr is not None:
                    metrics["psnr/validation"] = psnr
                    self._last_val = psnr
                    if summaries:
                        summaries.scalars(step, {"psnr/validation": psnr})
            if summaries and (step % image_every == 0 or step == total):
                lr, hr = (self.strategy.experimental_local_results(t)[0] for t in batch)
                summaries.images(step, self.model, lr, hr,
                                 sampling=stage == 2 and getattr(self.model, "variational", False))
            if step % config.checkpoint_every == 0 or step == total:
                self.save()
            if bar is not None:
                bar.update(1)
                post = {"loss": f"{metrics['loss/total']:.5f}",
                        "psnr": f"{metrics['psnr/train']:.2f}",
                        "steps_s": f"{steps_per_sec:.2f}", "stage": stage}
                if getattr(self, "_last_val", None) is not None:
                    post["val_psnr"] = f"{self._last_val:.2f}"
                bar.set_postfix(**post)
        return metrics


def train(config, run_dir, strategy=None, progress=True, log=print):
    """Trains ``config`` in ``run_dir`` (resuming it if it has checkpoints); returns final metrics.

    The returned dict has ``step`` and the last step's ``loss/total``, ``loss/re``, ``loss/vae``
    (stage 2), ``psnr/train`` and ``optimizer/grad_norm`` (empty beyond ``step`` when the run was
    already complete).
    """
    trainer = None
    try:
        trainer = Trainer(config, run_dir, strategy=strategy, progress=progress, log=log)
        return trainer.run()
    except _LOST_PEER_ERRORS as e:
        # The one place a lost worker becomes our error: at set-up, in the loop or while saving.
        workers = trainer.num_workers() if trainer is not None else _tf_config_workers()
        if workers < 2:
            raise
        latest = (trainer.manager.latest_checkpoint if trainer is not None
                  else run_folder.latest_checkpoint(run_dir))
        raise TrainingError(
            f"lost contact with another worker ({type(e).__name__}: {_gist(e)}); "
            f"restart every worker with the same command to resume from the last checkpoint "
            f"({latest or 'none yet'})"
        ) from None


def _tf_config_workers():
    """Workers named by TF_CONFIG (1 without it), for errors raised before a strategy exists."""
    import json
    import os

    try:
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    except (ValueError, AttributeError):
        return 1
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))
