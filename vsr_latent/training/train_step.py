"""Algorithm 1's training step, the device side of a run (the loop that runs it: `trainer`).

Stage 1 trains the mean path (variance heads off, ``model(lr)``) on L_re for
``config.stage1_steps`` (K) steps; stage 2 turns the variance heads on (``sampling=True``)
and trains on L_re + λ·L_vae for ``config.stage2_steps`` more steps: by default
(``stage2_forward="one_pass"``, §5.3: "the part after the attention blocks only needs to be
propagated once") both losses on one sampled pass of the batch; with ``"two_pass"`` L_re on the
mean path and L_vae on one sampled path of the same batch (``model.dual_forward``). The model
holds no mode: each stage has its own compiled step, which passes the stage to every call.

Distribution: the model, the optimiser and the counters live in ``strategy.scope()``; each
replica scales its per-example losses by the GLOBAL batch size (`tf.nn.compute_average_loss`), the
replicas' gradients are summed (all-reduce), and the sum is clipped by its global norm (3, §7)
before Adam applies it, so clipping sees the true global gradient rather than each replica's part.

No host sync per step: the compiled step returns nothing. It advances the step and the data
position, adds its metrics to accumulators on the device (`DeviceMetrics`) and records the first
step with a non-finite loss there; the loop reads them when it logs or saves (`metrics`).

Precision: ``mixed_float16`` trains with Keras' dynamic loss scaling
(`keras.optimizers.LossScaleOptimizer` around the Adam): the loss is multiplied by the scale
before the backward pass, the summed gradients are divided by it again before clipping (so the
clip norm acts on the true gradient), and a step whose gradients overflow is skipped, halving the
scale (doubled after ``dynamic_growth_steps`` good steps). The scale lives in the optimiser, so it
is checkpointed and a resumed run carries it on; skipped steps are counted (``skipped_steps``,
checkpointed) and logged with the scale (``optimizer/loss_scale``, ``optimizer/skipped_steps``).

XLA: ``jit_compile=True`` compiles each replica's forward and backward pass with XLA (the
all-reduce, clipping and the Adam update stay outside it).
"""

import keras
import tensorflow as tf

from vsr_latent import run_folder
from vsr_latent.training.device_metrics import STEP_METRICS, DeviceMetrics
from vsr_latent.training.losses import RECONSTRUCTION_LOSSES, per_example_psnr
from vsr_latent.training.optimizer import make_optimizer


class TrainStep:
    """The device side of one run of ``config`` on ``strategy``: the model, the optimiser, the
    counters a checkpoint holds (``step``, ``data_position``, ``skipped_steps``), the device
    metrics, and the compiled step of each stage (`step_fn`)."""

    def __init__(self, config, strategy):
        self.config = config
        self.strategy = strategy
        self.num_replicas = strategy.num_replicas_in_sync
        self.global_batch = config.data.batch_size
        self.loss_scaling = config.precision == "mixed_float16"
        with strategy.scope():
            self.model = run_folder.build_model_for(config, precision=config.precision)
            self.optimizer = make_optimizer(config.optimizer, config.total_steps,
                                            loss_scaling=self.loss_scaling)
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            # Global batches consumed: where a resumed run's pipeline starts.
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
        self._step_fns = {}
        self._grad_fns = {}

    def stage_of(self, step):
        """1 or 2: the stage the step ``step`` (0-based) belongs to."""
        return 1 if step < self.config.stage1_steps else 2

    # ---- one replica -------------------------------------------------------------------------

    def replica_losses(self, lr, hr, stage):
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
            total, metrics = self.replica_losses(lr, hr, stage)
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

    # ---- the distributed step ----------------------------------------------------------------

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

    def learning_rate(self):
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def metrics(self):
        """The step metrics' means since the last read (then a new interval starts), the
        learning rate and, under loss scaling, the loss scale and the skipped steps so far."""
        metrics = self.device_metrics.read()
        metrics["optimizer/learning_rate"] = self.learning_rate()
        if self.loss_scaling:
            metrics["optimizer/loss_scale"] = float(self.loss_scale().numpy())
            metrics["optimizer/skipped_steps"] = float(self.skipped_steps.numpy())
        return metrics
