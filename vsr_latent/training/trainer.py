"""Algorithm 1 as a custom `tf.distribute` training loop.

Stage 1 trains the mean path (variance heads off, ``model(lr)``) on L_re for
``config.stage1_steps`` (K) steps; stage 2 turns the variance heads on (``sampling=True``)
and trains on L_re + λ·L_vae for ``config.stage2_steps`` more steps: by default
(``stage2_forward="one_pass"``, §5.3: "the part after the attention blocks only needs to be
propagated once") both losses on one sampled pass of the batch; with ``"two_pass"`` L_re on the
mean path and L_vae on one sampled path of the same batch (``model.dual_forward``).

Distribution: the model, the optimiser and the checkpoint live in ``strategy.scope()``; each
replica scales its per-example losses by the GLOBAL batch size (`tf.nn.compute_average_loss`), the
replicas' gradients are summed (all-reduce), and the sum is clipped by its global norm (3, §7)
before Adam applies it, so clipping sees the true global gradient rather than each replica's part.

Checkpoints (every ``checkpoint_every`` steps, and at the end) hold the model, the optimiser, the
step and the data position (the number of global batches consumed). Every training sample is a
pure function of (seed, its index) (`vsr_latent.data.pipelines`), so a resumed run builds its
pipeline from the data position on, computes nothing it skips, and sees the same batches an
uninterrupted run would, at any step; the variance heads' noise generator states are
checkpointed too (``noise_seeds``), so stage 2's draws resume where they stopped. A run killed
at any moment (SIGKILL) restarts from its latest checkpoint and goes on counting steps from
there, to the same bits.

Non-finite loss: the run stops with `TrainingError` naming the step and the loss, WITHOUT saving:
the last checkpoint on disk (written before the bad step) stays the latest, so the run can be
resumed from it after a change (e.g. a lower learning rate via ``--set``).

No host sync per step: the compiled step returns nothing. It adds its metrics to accumulators on
the device (`DeviceMetrics`) and records the first step with a non-finite loss there; the loop
reads them every ``log_every`` steps (means over the interval, to TensorBoard and the progress
bar) and reads the non-finite marker before every checkpoint, so a bad step is still caught
before anything is saved after it. The sampling mode is set only when the stage changes.

Precision: ``mixed_float16`` trains with Keras' dynamic loss scaling
(`keras.optimizers.LossScaleOptimizer` around the Adam): the loss is multiplied by the scale
before the backward pass, the summed gradients are divided by it again before clipping (so the
clip norm acts on the true gradient), and a step whose gradients overflow is skipped, halving the
scale (doubled after ``dynamic_growth_steps`` good steps). The scale lives in the optimiser, so it
is checkpointed and a resumed run carries it on; skipped steps are counted (``skipped_steps``,
checkpointed) and logged with the scale (``optimizer/loss_scale``, ``optimizer/skipped_steps``).

Input on other machines: with ``data_service="grpc://HOST:PORT"`` the training pipeline runs on
the workers of a tf.data service dispatcher (`Trainer._through_data_service`); this process only
receives batches.

XLA: ``jit_compile=True`` compiles each replica's forward and backward pass with XLA (the
all-reduce, clipping and the Adam update stay outside it).
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
from vsr_latent.training.determinism import set_op_determinism
from vsr_latent.training.graph_memory import released_custom_gradients
from vsr_latent.training.losses import RECONSTRUCTION_LOSSES, per_example_psnr
from vsr_latent.training.strategy import default_strategy, worker_info
from vsr_latent.training.summaries import TrainingSummaries, image_interval

# Keras' defaults for dynamic loss scaling (mixed_float16): start high, halve on overflow,
# double after this many steps without one.
INITIAL_LOSS_SCALE = 2.0**15
LOSS_SCALE_GROWTH_STEPS = 2_000

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
    """The validation crops of an `ExperimentConfig` (`pipelines.build_validation_crops` of its
    data config and L; none when ``data.val_clips`` is 0)."""
    from vsr_latent.data.pipelines import build_validation_crops

    return build_validation_crops(config.data, seq_len=config.model.seq_len, scale=SCALE)


def check_start(config, num_replicas):
    """Raises ConfigError / InputError, in one line naming the setting and the fix, for a run that
    would fail (or train on the wrong data) only later: a global batch the replicas do not divide,
    the built-in synthetic clips at the full budget, a training root that cannot serve L-frame
    clips. The paper runner calls it for every config of a table before training the first."""
    from vsr_latent.configs.base import DEFAULT_TRAIN_SOURCE
    from vsr_latent.data.dataset_root import check_training_root

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


def noise_seed_states(model):
    """The state variables of every ``keras.random.SeedGenerator`` in ``model``'s layers (the
    variance heads' noise), in layer order."""
    states = []
    for layer in model._flatten_layers(include_self=True, recursive=True):  # noqa: SLF001
        generator = getattr(layer, "seed_generator", None)
        if isinstance(generator, keras.random.SeedGenerator):
            states.append(generator.state)
    return states


def make_optimizer(opt_config, total_steps=1, loss_scaling=False):
    """Adam on summed gradients; with ``loss_scaling`` inside Keras' dynamic
    `LossScaleOptimizer` (float16 training)."""
    adam = _SummedGradientAdam(
        learning_rate=learning_rate_schedule(opt_config, total_steps),
        beta_1=opt_config.beta_1,
        beta_2=opt_config.beta_2,
        epsilon=opt_config.epsilon,
        name="adam",
    )
    if not loss_scaling:
        return adam
    return keras.optimizers.LossScaleOptimizer(
        adam, initial_scale=INITIAL_LOSS_SCALE,
        dynamic_growth_steps=LOSS_SCALE_GROWTH_STEPS, name="loss_scale")


# Step metrics, accumulated on the device between two reads.
STEP_METRICS = ("loss/total", "loss/re", "loss/vae", "psnr/train", "optimizer/grad_norm")


class DeviceMetrics:
    """Sums and counts of the step metrics on the device, and the first non-finite step.

    Updated inside the compiled step (cross-replica context, after the reduce), read by the loop
    only when it logs: `read` returns the means since the previous read and starts a new
    interval. A key counts only the steps that produced it (``loss/vae``: stage 2; the gradient
    norm: steps whose update was applied, i.e. not skipped for overflow).
    """

    def __init__(self, guarded):
        # The metrics whose non-finite value stops the run (see Trainer.__init__).
        self.guarded = tuple(guarded)

        def var(name, dtype=tf.float32):
            return tf.Variable(tf.zeros((), dtype), trainable=False, name=name)

        self.sums = {k: var("sum_" + k.replace("/", "_")) for k in STEP_METRICS}
        self.counts = {k: var("count_" + k.replace("/", "_")) for k in STEP_METRICS}
        self.first_bad_step = var("first_bad_step", tf.int64)
        self.bad_values = {k: var("bad_" + k.replace("/", "_")) for k in STEP_METRICS}

    def update(self, metrics, step, applied):
        """Adds one step's (reduced) ``metrics``; ``step`` is its 1-based number, ``applied``
        whether its update was applied."""
        for key, value in metrics.items():
            value = tf.cast(value, tf.float32)
            use = applied if key == "optimizer/grad_norm" else tf.constant(True)
            self.sums[key].assign_add(tf.where(use, value, 0.0))
            self.counts[key].assign_add(tf.where(use, 1.0, 0.0))
        finite = tf.reduce_all([tf.math.is_finite(tf.cast(metrics[k], tf.float32))
                                for k in self.guarded if k in metrics])
        first = tf.logical_and(tf.logical_not(finite), tf.equal(self.first_bad_step, 0))
        self.first_bad_step.assign(tf.where(first, step, self.first_bad_step))
        for key, value in metrics.items():
            self.bad_values[key].assign(tf.where(first, tf.cast(value, tf.float32),
                                                 self.bad_values[key]))

    def bad_step(self):
        """(1-based step, [non-finite metric names]) of the first non-finite step, or None."""
        step = int(self.first_bad_step.numpy())
        if not step:
            return None
        values = {k: float(v.numpy()) for k, v in self.bad_values.items()}
        return step, [k for k in self.guarded if not math.isfinite(values[k])]

    @tf.function
    def _take(self):
        """The sums and counts as one (2, K) tensor, zeroed for the next interval: one call and
        one transfer per read."""
        sums = tf.stack([self.sums[k].read_value() for k in STEP_METRICS])
        counts = tf.stack([self.counts[k].read_value() for k in STEP_METRICS])
        with tf.control_dependencies([sums, counts]):
            for key in STEP_METRICS:
                self.sums[key].assign(0.0)
                self.counts[key].assign(0.0)
        return tf.stack([sums, counts])

    def read(self):
        """{key: mean since the last read} of the keys seen, then starts a new interval."""
        sums, counts = self._take().numpy()
        return {key: float(s) / float(c) for key, s, c in zip(STEP_METRICS, sums, counts) if c}


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
        check_start(self.config, self.num_replicas)
        set_op_determinism(config.deterministic)
        keras.utils.set_random_seed(config.seed)
        self.loss_scaling = config.precision == "mixed_float16"
        with self.strategy.scope():
            self.model = run_folder.build_model_for(config, precision=config.precision)
            self.optimizer = make_optimizer(config.optimizer, config.total_steps,
                                            loss_scaling=self.loss_scaling)
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.data_position = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="data_position"
            )
            # Steps whose update was skipped because the loss-scaled gradients overflowed.
            self.skipped_steps = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="skipped_steps"
            )
            # Under loss scaling an overflowing gradient is expected (the step is skipped); a
            # non-finite loss stops any run, a non-finite gradient a run without loss scaling.
            self.device_metrics = DeviceMetrics(
                [k for k in STEP_METRICS
                 if not (self.loss_scaling and k == "optimizer/grad_norm")])
            state = dict(model=self.model, optimizer=self.optimizer, step=self.step,
                         data_position=self.data_position, skipped_steps=self.skipped_steps)
            self.checkpoint = tf.train.Checkpoint(**state)
            # Checkpoints written before the noise generators' states were saved (see below).
            self._checkpoint_without_noise = tf.train.Checkpoint(**state)
            # Stage 2's noise comes from the variance heads' keras.random.SeedGenerator states,
            # which TensorFlow's checkpoint does not find inside the model: saved by name here,
            # so a run resumed in stage 2 draws the noise the uninterrupted run would.
            noise = noise_seed_states(self.model)
            if noise:
                self.checkpoint.noise_seeds = noise
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
        self._grad_fns = {}
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
                try:
                    self.checkpoint.restore(latest).assert_existing_objects_matched()
                except AssertionError:
                    if "noise_seeds" in tf.train.load_checkpoint(latest).get_variable_to_shape_map():
                        raise
                    # Written before the noise generators' states were saved: everything else
                    # resumes; stage 2's noise then starts from the generators' seeds.
                    self._checkpoint_without_noise.restore(latest).assert_existing_objects_matched()
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
        ``model(lr)``, the mean path; stage 2 ``model(lr, sampling=True)``, one sampled pass, or
        with ``stage2_forward="two_pass"`` ``model.dual_forward(lr)``, mean and sampled)."""
        self._stage_set = stage

    # ---- data --------------------------------------------------------------------------------

    def dataset_fn(self, position):
        """The per-worker dataset function, starting at global batch ``position`` (the batches
        before it are not made: each sample is a function of its index)."""
        data = self.config.data

        def fn(input_context):
            from vsr_latent.data.pipelines import build_train_dataset

            return build_train_dataset(data, seq_len=self.config.model.seq_len,
                                       input_context=input_context, repeat=True, scale=SCALE,
                                       start_batch=position)

        return fn

    def distributed_dataset(self, position=0):
        fn = self.dataset_fn(position)
        if self.config.data_service:
            fn = self._through_data_service(fn, position)
        return self.strategy.distribute_datasets_from_function(fn)

    def _through_data_service(self, fn, position):
        """``fn``'s pipeline run by the tf.data service workers of ``config.data_service``.

        "distributed_epoch": the dispatcher hands each window of the (splittable) pipeline to
        one worker, so no sample is made twice; the workers' batches reach this process in the
        order they finish, so the stream is the same samples as without the service but not
        in the same order. One job per (run, data position): a resumed run starts a new job.
        """
        service = self.config.data_service
        job = f"{self.config.name}-seed{self.config.data.seed}-pos{position}"

        def through_service(input_context):
            from vsr_latent.data.pipelines import endless

            ds = fn(input_context).apply(tf.data.experimental.service.distribute(
                processing_mode="distributed_epoch", service=service, job_name=job))
            return endless(ds).prefetch(tf.data.AUTOTUNE)

        return through_service

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
        """(total loss, metrics) on one replica, each scaled by the global batch size.

        Stage 2, ``stage2_forward="one_pass"``: one sampled pass ``sr``; L_re (eq. 22) and L_vae
        (eq. 23) are both the reconstruction loss of ``sr`` (so equal) and ``psnr/train`` is
        ``sr``'s. ``"two_pass"``: L_re and ``psnr/train`` of the mean path, L_vae of a second,
        sampled pass.
        """
        def avg(per_example):
            return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)

        if stage == 2 and self.config.stage2_forward == "two_pass":
            sr_mean, sr_sample = self.model.dual_forward(lr, training=True)
        elif stage == 2:
            # §5.3: sampled while L_re is computed; one pass carries L_re and L_vae.
            sr_mean = sr_sample = self.model(lr, training=True, sampling=True)
        else:
            sr_mean = self.model(lr, training=True)
        per_example_loss = RECONSTRUCTION_LOSSES[self.config.reconstruction_loss]
        loss_re = avg(per_example_loss(sr_mean, hr))
        metrics = {"loss/re": loss_re}
        total = loss_re
        if stage == 2:
            loss_vae = (loss_re if sr_sample is sr_mean
                        else avg(per_example_loss(sr_sample, hr)))
            total = loss_re + self.config.vae_weight * loss_vae
            metrics["loss/vae"] = loss_vae
        if self.model.losses:
            total += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
        metrics["loss/total"] = total
        metrics["psnr/train"] = avg(per_example_psnr(tf.stop_gradient(sr_mean), hr))
        return total, metrics

    def loss_scale(self):
        """The current loss scale (a tensor; 1 without loss scaling)."""
        if not self.loss_scaling:
            return tf.constant(1.0)
        return tf.convert_to_tensor(self.optimizer.dynamic_scale)

    def _local_gradients(self, lr, hr, stage):
        """This replica's forward and backward pass: (gradients of the loss times the loss
        scale, metrics). Compiled with XLA when ``config.jit_compile``."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            total, metrics = self._replica_losses(lr, hr, stage)
            if self.loss_scaling:
                total = self.optimizer.scale_loss(total)
        return tape.gradient(total, variables), metrics

    def _gradient_fn(self, stage):
        if not self.config.jit_compile:
            return lambda lr, hr: self._local_gradients(lr, hr, stage)
        if stage not in self._grad_fns:
            self._grad_fns[stage] = tf.function(
                lambda lr, hr: self._local_gradients(lr, hr, stage), jit_compile=True)
        return self._grad_fns[stage]

    def replica_gradients(self, lr, hr, stage):
        """(summed-over-replicas gradients, variables, metrics) — call inside ``strategy.run``.

        The gradients are the true (unscaled) ones also under loss scaling.
        """
        variables = self.model.trainable_variables
        grads, metrics = self._gradient_fn(stage)(lr, hr)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        grads = [g for g, _ in pairs]
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and self.num_replicas > 1:
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if self.loss_scaling:
            # Dividing by a power of two is exact: these are the gradients of the loss itself.
            scale = self.loss_scale()
            grads = [g / scale for g in grads]
        return grads, [v for _, v in pairs], metrics

    def _replica_step(self, lr, hr, stage):
        grads, variables, metrics = self.replica_gradients(lr, hr, stage)
        # Clipping sees the unscaled gradient (an overflow makes the norm inf: skipped below).
        clipped, norm = tf.clip_by_global_norm(grads, self.config.optimizer.global_clipnorm)
        if self.loss_scaling:
            # LossScaleOptimizer takes scaled gradients: it checks them for overflow (skipping
            # the step and halving the scale), divides by the scale and applies Adam.
            scale = self.loss_scale()
            self.optimizer.apply([g * scale for g in clipped], variables)
        else:
            self.optimizer.apply_gradients(zip(clipped, variables))
        # Identical on every replica (computed from the summed gradient): divided back after SUM.
        metrics["optimizer/grad_norm"] = norm / self.num_replicas
        return metrics

    def step_fn(self, stage):
        """The compiled distributed train step of a stage (traced once per stage).

        It returns nothing: its metrics go to `device_metrics`, read by the loop when it logs.
        """
        if stage not in self._step_fns:

            @tf.function
            def train_step(batch):
                lr, hr = batch
                per_replica = self.strategy.run(self._replica_step, args=(lr, hr, stage))
                metrics = {
                    k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                    for k, v in per_replica.items()
                }
                applied = tf.math.is_finite(metrics["optimizer/grad_norm"])
                if self.loss_scaling:
                    self.skipped_steps.assign_add(tf.cast(tf.logical_not(applied), tf.int64))
                self.step.assign_add(1)
                self.data_position.assign_add(1)
                self.device_metrics.update(metrics, self.step, applied)

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

    def _raise_if_non_finite(self):
        """The loop's check before it logs or saves: a step with a non-finite loss stops the run
        before anything is written after it."""
        bad = self.device_metrics.bad_step()
        if bad is None:
            return
        step, keys = bad
        raise TrainingError(
            f"{self.config.name}: non-finite {', '.join(keys)} at step {step} "
            f"(stage {self.stage_of(step - 1)}); the run stops without saving, its last "
            f"checkpoint ({self.manager.latest_checkpoint or 'none'}) is intact"
        )

    def read_metrics(self):
        """The step metrics' means since the last read, the learning rate and, under loss
        scaling, the loss scale and the skipped steps so far: the loop's only read of the step's
        results (every ``log_every`` steps and at the end)."""
        self._raise_if_non_finite()
        metrics = self.device_metrics.read()
        metrics["optimizer/learning_rate"] = self.learning_rate()
        if self.loss_scaling:
            metrics["optimizer/loss_scale"] = float(self.loss_scale().numpy())
            metrics["optimizer/skipped_steps"] = float(self.skipped_steps.numpy())
        return metrics

    def _loop(self, start, total, summaries, bar):
        config = self.config
        metrics = {}
        position = int(self.data_position.numpy())
        if config.data_service:
            self.log(f"Data: through the tf.data service at {config.data_service}")
        iterator = iter(self.distributed_dataset(position))
        step = start
        last_time, last_step = time.perf_counter(), step
        # Pictures every image_every steps, and at least MIN_IMAGE_LOGS times a run.
        image_every = image_interval(config.image_every, total)
        while step < total:
            stage = self.stage_of(step)
            if stage != self._stage_set:
                self.set_stage(stage)
            batch = next(iterator)
            self.step_fn(stage)(batch)
            step += 1
            if summaries:
                # Text, not a scalar (smoothing would ramp 1 -> 2): at this process's first step
                # and at the switch.
                summaries.stage(step, stage, config.stage1_steps, total, config.vae_weight,
                                getattr(self.model, "variational", False))
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
                    if getattr(self, "_last_val", None) is not None:
                        post["val_psnr"] = f"{self._last_val:.2f}"
                    bar.set_postfix(**post, refresh=False)
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
                self._raise_if_non_finite()
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
