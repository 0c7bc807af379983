"""Which ops of a traced TensorFlow function have no GPU kernel (a static GPU-readiness check).

No GPU has TensorFlow here, so the GPU path is checked against TensorFlow's kernel registry
(`tensorflow.python.framework.kernels`): every op of a traced function, nested functions and
control-flow branches included, must have a kernel registered for ``GPU`` or for ``DEFAULT``
(device-agnostic kernels: variables' handles, function calls, collectives' launchers). An op with
only a CPU kernel would be placed on the host, copying its inputs and outputs across PCIe at
every step (or, under soft placement off, fail).

``HOST_BY_DESIGN``: ops that run on the host on purpose: the input pipeline's (tf.data reads and
decodes on the CPU and hands batches to the device through the iterator).
"""

from tensorflow.python.framework import kernels

HOST_BY_DESIGN = frozenset({
    "IteratorGetNext", "IteratorGetNextAsOptional", "OptionalGetValue", "OptionalHasValue",
    "AnonymousIteratorV3", "MakeIterator", "MultiDeviceIteratorGetNextFromShard",
})
GPU_DEVICE_TYPES = frozenset({"GPU", "DEFAULT"})


def _graph_op_types(graph_def):
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def op_types(concrete_function):
    """Every op type in a concrete function's graph and the functions it calls."""
    return _graph_op_types(concrete_function.graph.as_graph_def())


def device_types(op):
    """The device types with a kernel registered for ``op`` ("CPU", "GPU", "DEFAULT", ...)."""
    return {k.device_type for k in kernels.get_registered_kernels_for_op(op).kernel}


def ops_without_gpu_kernel(ops, allowed=HOST_BY_DESIGN):
    """{op: its device types} of the ``ops`` without a GPU or DEFAULT kernel (``allowed`` aside).

    Function-library names (calls of nested tf.functions appear as ops named after them) have no
    kernels of their own and are skipped: their bodies are in the op set already.
    """
    missing = {}
    for op in sorted(set(ops) - set(allowed)):
        types = device_types(op)
        if not types & GPU_DEVICE_TYPES:
            missing[op] = sorted(types)
    return missing
