"""GPU readiness without a GPU: every op of the trainer's real stage-1 and stage-2 steps (under
the two-replica MirroredStrategy, so the all-reduce is in the graph) and of the inference
function has a GPU or DEFAULT kernel in TensorFlow's kernel registry; what runs on the host by
design (the input pipeline) is the only exception (`vsr_latent.perf.gpu_kernels`).

The network is the real ``ours`` (long and short attention, variance heads, the bicubic skip),
narrowed to 8 filters, one block of each attention and L = 3: the op set does not depend on the
width or depth. The default run traces on one device in float32; the slow run adds the
two-replica MirroredStrategy (the all-reduce; on GPUs it is NCCL's) and mixed_float16.
"""


import pytest
import tensorflow as tf

from tests.training_helpers import two_replicas
from vsr_latent.configs import get_config
from vsr_latent.perf.gpu_determinism import ops_without_deterministic_gpu_kernel
from vsr_latent.perf.gpu_kernels import (
    HOST_BY_DESIGN,
    device_types,
    op_types,
    ops_without_gpu_kernel,
)
from vsr_latent.serving.predictors import KerasPredictor
from vsr_latent.training.trainer import Trainer


def trainer_step_ops(tmp_path, precision, strategy):
    config = get_config("ours", budget="tiny",
                        overrides=["model.seq_len=3", f"precision={precision}",
                                   "model.num_layers=2", 'model.blocks=["long", "short"]',
                                   "data.batch_size=2"])
    trainer = Trainer(config, tmp_path / precision, strategy=strategy, progress=False,
                      log=lambda m: None)
    batch = next(iter(trainer.distributed_dataset(0)))
    ops = {}
    for stage in (1, 2):
        ops[stage] = op_types(trainer.train_step.step_fn(stage).get_concrete_function(batch))
    return trainer, ops


def assert_gpu_ready(ops, what, jit_compile=False):
    missing = ops_without_gpu_kernel(ops)
    assert not missing, (f"{what}: ops with no GPU kernel (they would run on the host): "
                         + ", ".join(f"{op} {types}" for op, types in missing.items()))
    # deterministic=True on a GPU raises at the first op without a deterministic GPU kernel.
    nondeterministic = ops_without_deterministic_gpu_kernel(ops, jit_compile=jit_compile)
    assert not nondeterministic, (
        f"{what}: ops without a deterministic GPU kernel (deterministic=true would fail on a "
        f"GPU): " + ", ".join(f"{op} ({why})" for op, why in nondeterministic.items()))


@pytest.mark.parametrize("precision,replicas", [
    ("float32", 1),
    pytest.param("float32", 2, marks=pytest.mark.slow),
    pytest.param("mixed_float16", 2, marks=pytest.mark.slow)])
def test_training_steps_and_inference_have_gpu_kernels(tmp_path, precision, replicas):
    strategy = two_replicas() if replicas == 2 else tf.distribute.get_strategy()
    trainer, ops = trainer_step_ops(tmp_path, precision, strategy)
    for stage, stage_ops in ops.items():
        # The graph really is the training step: convolutions' gradients, Adam (, the all-reduce).
        assert {"Conv2DBackpropFilter", "Conv2D", "AssignSubVariableOp"} <= stage_ops, stage
        if replicas == 2:
            assert any(op.startswith("Collective") for op in stage_ops), stage
        assert_gpu_ready(stage_ops, f"{precision} training step, stage {stage}",
                         jit_compile=trainer.config.jit_compile)
    # Stage 2 draws the variance heads' noise (keras.random: a stateless normal from a seed
    # variable, which stage 1 never draws); float16 loss scaling checks for overflow.
    assert any(op.startswith("StatelessRandomNormal") for op in ops[2] - ops[1]), ops[2]
    if precision == "mixed_float16":
        assert {"IsFinite", "Cast"} <= ops[1]

    predictor = KerasPredictor(trainer.model, name="ours")
    for with_keys in (False, True):
        fn = predictor._function(sampling=False, with_keys=with_keys)
        inference_ops = op_types(fn.get_concrete_function())
        # Convolutions, the long attention's softmax, its chunked loop over query blocks.
        assert {"Conv3D", "Softmax", "StatelessWhile"} <= inference_ops
        assert_gpu_ready(inference_ops, f"inference (key frames: {with_keys})")


def test_a_host_only_op_is_named():
    """The check is not vacuous: TensorFlow's bicubic resize has only a CPU kernel (why the
    package's bicubic is two convolutions) and a string op neither; the iterator is exempt."""

    @tf.function
    def uses_host_ops(x):
        y = tf.image.resize(x, [8, 8], method="bicubic")
        return y, tf.strings.format("{}", tf.reduce_mean(y))

    ops = op_types(uses_host_ops.get_concrete_function(tf.TensorSpec([1, 4, 4, 3])))
    missing = ops_without_gpu_kernel(ops)
    assert "ResizeBicubic" in missing and missing["ResizeBicubic"] == ["CPU"]
    assert "StringFormat" in missing
    assert "Conv2D" not in missing and "GPU" in device_types("Conv2D")
    assert "IteratorGetNext" in HOST_BY_DESIGN
    assert not ops_without_gpu_kernel({"IteratorGetNext", "Conv2D"})


def test_an_op_without_a_deterministic_gpu_kernel_is_named():
    """The determinism check is not vacuous either: the gradient of nearest-neighbour upsampling
    (Keras' UpSampling2D default) has no deterministic GPU kernel; bilinear's has one (slower);
    XLA's max-pool gradient has none, TensorFlow's own has."""

    @tf.function
    def upsampling_gradients(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            nearest = tf.image.resize(x, [8, 8], method="nearest")
            bilinear = tf.image.resize(x, [8, 8], method="bilinear")
            pooled = tf.nn.max_pool2d(x, 2, 2, "VALID")
        return [tape.gradient(y, x) for y in (nearest, bilinear, pooled)]

    ops = op_types(upsampling_gradients.get_concrete_function(tf.TensorSpec([1, 4, 4, 3])))
    assert {"ResizeNearestNeighborGrad", "ResizeBilinearGrad", "MaxPoolGrad"} <= ops
    found = ops_without_deterministic_gpu_kernel(ops)
    assert list(found) == ["ResizeNearestNeighborGrad"]
    assert list(ops_without_deterministic_gpu_kernel(ops, jit_compile=True)) == [
        "MaxPoolGrad", "ResizeNearestNeighborGrad"]
