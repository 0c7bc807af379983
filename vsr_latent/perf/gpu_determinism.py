"""Which ops of a graph have no deterministic GPU kernel in TensorFlow (2.21).

With op determinism on (``deterministic=True``, `vsr_latent.training.determinism`), TensorFlow runs
each op's deterministic GPU kernel and raises ``UnimplementedError`` for an op that has none: a run
that trains on a CPU could fail at its first step on a GPU. The GPU readiness test traces the real
training steps and the inference function without a GPU and checks their op types against this
list.

Read from TensorFlow 2.21.0's sources and its shipped binaries (git ``v2.21.0-rc1-5-ga481b10260d``:
the kernels whose GPU implementation raises when ``OpDeterminismRequired()``), not observed on a
GPU. The ops listed "at a cost" get a slower deterministic kernel instead of raising: segment
reductions (the gradient of a gather), ``ResizeBilinearGrad``, ``BiasAddGrad``, the scatter family
(run on the host and copied back), cuDNN convolutions and cuBLAS matmuls limited to deterministic
algorithms. Under XLA (``jit_compile``) TensorFlow asks XLA for deterministic ops; XLA's
``MaxPoolGrad`` raises there.
"""

#: Op type -> why its GPU kernel raises under op determinism (TensorFlow 2.21).
NO_DETERMINISTIC_GPU_KERNEL = {
    "ResizeNearestNeighborGrad": "gradient of nearest-neighbour resizing (UpSampling2D nearest)",
    "CropAndResizeGradImage": "gradient of tf.image.crop_and_resize",
    "CropAndResizeGradBoxes": "gradient of tf.image.crop_and_resize",
    "AdjustContrastv2": "tf.image.adjust_contrast",
    "AdjustContrast": "tf.image.adjust_contrast (legacy op)",
    "MaxPoolGradWithArgmax": "gradient of tf.nn.max_pool_with_argmax",
    "Dilation2DBackpropInput": "gradient of tf.nn.dilation2d",
    "Dilation2DBackpropFilter": "gradient of tf.nn.dilation2d",
    "SoftmaxCrossEntropyWithLogits": "the fused op (tf.nn's function avoids it under determinism)",
    "SparseSoftmaxCrossEntropyWithLogits": "the fused op (as above)",
    "SparseTensorDenseMatMul": "tf.sparse.sparse_dense_matmul",
    "Bincount": "tf.math.bincount (TF1 op)",
    "DenseBincount": "tf.math.bincount",
    "FakeQuantWithMinMaxVarsGradient": "quantisation-aware training",
    "FakeQuantWithMinMaxVarsPerChannelGradient": "quantisation-aware training",
    "ScatterAdd": "scatter on a reference variable (TF1)",
    "ScatterSub": "scatter on a reference variable (TF1)",
    "ScatterMul": "scatter on a reference variable (TF1)",
    "ScatterDiv": "scatter on a reference variable (TF1)",
    "ScatterMin": "scatter on a reference variable (TF1)",
    "ScatterMax": "scatter on a reference variable (TF1)",
    "ScatterUpdate": "scatter on a reference variable (TF1)",
    "Timestamp": "tf.timestamp (raises under determinism on every device)",
}

#: Op type -> the condition under which its GPU kernel raises (otherwise it is deterministic).
NO_DETERMINISTIC_GPU_KERNEL_WHEN = {
    "FusedBatchNormGrad": "batch normalisation frozen (training=False) while gradients flow",
    "FusedBatchNormGradV2": "batch normalisation frozen (training=False) while gradients flow",
    "FusedBatchNormGradV3": "batch normalisation frozen (training=False) while gradients flow",
    "Svd": "a matrix of one column",
    "BatchSvd": "a matrix of one column",
    "MaxPoolGrad": "compiled by XLA (jit_compile)",
    "MaxPoolGradV2": "compiled by XLA (jit_compile)",
}


def ops_without_deterministic_gpu_kernel(op_types, jit_compile=False):
    """{op type: why} of ``op_types`` whose GPU kernel raises under op determinism: every op of
    `NO_DETERMINISTIC_GPU_KERNEL`, and those of `NO_DETERMINISTIC_GPU_KERNEL_WHEN` whose condition
    cannot be ruled out from the op type alone (the max-pool gradients only with ``jit_compile``)."""
    found = {op: NO_DETERMINISTIC_GPU_KERNEL[op] for op in op_types
             if op in NO_DETERMINISTIC_GPU_KERNEL}
    for op in op_types:
        when = NO_DETERMINISTIC_GPU_KERNEL_WHEN.get(op)
        if when and (jit_compile or not op.startswith("MaxPoolGrad")):
            found[op] = f"raises when {when}"
    return dict(sorted(found.items()))
