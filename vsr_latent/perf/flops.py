"""FLOPs of a model per forward pass, counted from its layers and their input/output shapes.

Convention (the one of TensorFlow's profiler, so the two can be compared): one multiply-add is 2
FLOPs, and only the work of the layers that dominate the network is counted:

* ``Conv1D/2D/3D``: ``2 * prod(output_shape[:-1]) * prod(kernel_size) * C_in * C_out``
  (zero-padded taps of "same" padding included);
* ``Conv2DTranspose``/``Conv3DTranspose``: ``2 * prod(input_shape[:-1]) * prod(kernel_size) *
  C_in * C_out`` (every input pixel scattered through the whole kernel);
* ``Dense`` on any rank: ``2 * prod(input_shape[:-1]) * C_in * units``;
* long attention (``softmax(Q K^T) V``, ``vsr_latent.layers.long_attention.softmax_attention``):
  ``2 * B * M * K * D`` for the logits plus ``2 * B * M * K * D_v`` for the weighted sum, with
  ``M`` queries, ``K`` keys; the ``B * M * K`` exponentials of the softmax are reported apart
  (``softmax_elements``), since they are memory- and transcendental-bound rather than FLOPs.

Biases, activations, pooling, depth-to-space, the bicubic skip and other element-wise work are
not counted; they are small in FLOPs but not necessarily in time, which is
why the benchmark also times the components on their own.

Shapes come from tracing the model once in a ``tf.function`` with a fully static input shape
(nothing is computed), with the call methods of the counted layer classes temporarily wrapped
to record what passes through them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import keras
import tensorflow as tf

from vsr_latent.layers import long_attention

# TensorFlow op types whose profiler "flops" statistic follow the same convention.
PROFILER_OP_TYPES = ("Conv2D", "Conv3D", "Conv2DBackpropInput", "Conv3DBackpropInputV2",
                     "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")


def _prod(values):
    return int(math.prod(int(v) for v in values))


def conv_flops(output_shape, kernel_size, in_channels, out_channels):
    """FLOPs of a (non-grouped) convolution producing ``output_shape`` (batch, ..., C_out)."""
    return 2 * _prod(output_shape[:-1]) * _prod(kernel_size) * int(in_channels) * int(out_channels)


def conv_transpose_flops(input_shape, kernel_size, in_channels, out_channels):
    """FLOPs of a transposed convolution reading ``input_shape`` (batch, ..., C_in)."""
    return 2 * _prod(input_shape[:-1]) * _prod(kernel_size) * int(in_channels) * int(out_channels)


def dense_flops(input_shape, units):
    """FLOPs of a Dense (1x1) layer on ``input_shape`` (..., C_in)."""
    return 2 * _prod(input_shape[:-1]) * int(input_shape[-1]) * int(units)


def attention_flops(query_shape, key_shape, value_shape):
    """FLOPs of ``softmax(Q K^T) V`` for Q (B, M, D), K (B, K, D), V (B, K, Dv)."""
    b, m, d = (int(v) for v in query_shape)
    k = int(key_shape[1])
    dv = int(value_shape[-1])
    return 2 * b * m * k * d + 2 * b * m * k * dv


@dataclasses.dataclass
class LayerFlops:
    """One counted call: the layer's path, kind, shapes and FLOPs."""

    path: str
    kind: str
    input_shape: tuple
    output_shape: tuple
    flops: int
    softmax_elements: int = 0

    @property
    def component(self):
        """The model's direct child the call belongs to (``stem``, ``residual_3``, ...)."""
        parts = self.path.split("/")
        return parts[1] if len(parts) > 2 else parts[-1]


@dataclasses.dataclass
class FlopReport:
    """Every counted call of one forward pass (see the module docstring for the convention)."""

    layers: list

    @property
    def total(self):
        return int(sum(entry.flops for entry in self.layers))

    @property
    def softmax_elements(self):
        return int(sum(entry.softmax_elements for entry in self.layers))

    def by_kind(self):
        out = {}
        for entry in self.layers:
            out[entry.kind] = out.get(entry.kind, 0) + entry.flops
        return out

    def where(self, predicate):
        """FLOPs of the calls for which ``predicate(entry)`` holds."""
        return int(sum(entry.flops for entry in self.layers if predicate(entry)))


def _shape(t):
    return tuple(None if d is None else int(d) for d in t.shape)


@contextlib.contextmanager
def patched_call(cls, make_wrapper):
    """Temporarily replace ``cls.call`` with ``make_wrapper(original)``."""
    had_own = "call" in cls.__dict__
    original = cls.__dict__.get("call", cls.call)
    cls.call = make_wrapper(original)
    try:
        yield
    finally:
        if had_own:
            cls.call = original
        else:
            del cls.call


@contextlib.contextmanager
def record_layer_calls(records):
    """Append a ``LayerFlops`` to ``records`` for every counted call made inside the block."""
    stack = []

    def conv_wrapper(original, transpose):
        def call(self, inputs, *args, **kwargs):
            out = original(self, inputs, *args, **kwargs)
            in_shape, out_shape = _shape(inputs), _shape(out)
            if getattr(self, "groups", 1) != 1:
                raise ValueError(f"{self.path}: grouped convolutions are not counted")
            if transpose:
                flops = conv_transpose_flops(in_shape, self.kernel_size, in_shape[-1], self.filters)
            else:
                flops = conv_flops(out_shape, self.kernel_size, in_shape[-1], self.filters)
            records.append(LayerFlops(self.path, "conv_transpose" if transpose else "conv",
                                      in_shape, out_shape, flops))
            return out
        return call

    def dense_wrapper(original):
        def call(self, inputs, *args, **kwargs):
            out = original(self, inputs, *args, **kwargs)
            in_shape = _shape(inputs)
            records.append(LayerFlops(self.path, "dense", in_shape, _shape(out),
                                      dense_flops(in_shape, self.units)))
            return out
        return call

    def block_wrapper(original):
        def call(self, *args, **kwargs):
            stack.append(self.path)
            try:
                return original(self, *args, **kwargs)
            finally:
                stack.pop()
        return call

    original_attention = long_attention.softmax_attention

    def attention(query, key, value, *args, **kwargs):
        out = original_attention(query, key, value, *args, **kwargs)
        q, k, v = _shape(query), _shape(key), _shape(value)
        path = (stack[-1] if stack else "attention") + "/softmax_attention"
        records.append(LayerFlops(path, "attention", (q, k, v), _shape(out),
                                  attention_flops(q, k, v), softmax_elements=q[0] * q[1] * k[1]))
        return out

    conv_classes = [keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D]
    transpose_classes = [keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose]
    with contextlib.ExitStack() as stack_ctx:
        for cls in conv_classes:
            stack_ctx.enter_context(patched_call(cls, lambda o: conv_wrapper(o, False)))
        for cls in transpose_classes:
            stack_ctx.enter_context(patched_call(cls, lambda o: conv_wrapper(o, True)))
        stack_ctx.enter_context(patched_call(keras.layers.Dense, dense_wrapper))
        stack_ctx.enter_context(patched_call(long_attention.LongAttention, block_wrapper))
        long_attention.softmax_attention = attention
        try:
            yield records
        finally:
            long_attention.softmax_attention = original_attention


def count_flops(model, input_shape, key_frames_shape=None):
    """A ``FlopReport`` of one forward pass of ``model`` on frames of ``input_shape``
    (B, L, H, W, 3), optionally with external key frames of ``key_frames_shape`` (B, N, H, W, 3).

    The model is traced (not run) on fully static shapes.
    """
    records = []
    specs = [tf.TensorSpec(list(input_shape), tf.float32)]
    if key_frames_shape is not None:
        specs.append(tf.TensorSpec(list(key_frames_shape), tf.float32))

        def fn(x, k):
            return model({"frames": x, "key_frames": k}, training=False)
    else:
        def fn(x):
            return model(x, training=False)
    with record_layer_calls(records):
        tf.function(fn).get_concrete_function(*specs)
    unknown = [r.path for r in records if r.flops is None]
    if unknown:
        raise ValueError(f"shapes not static for {unknown}")
    return FlopReport(records)


def bicubic_flops(input_shape, scale=4):
    """FLOPs of the bicubic baseline as the package runs it (``inference.bicubic_upscale``):
    two dense separable weight-matrix products per frame (rows, then columns)."""
    *lead, h, w, c = (int(v) for v in input_shape)
    frames = _prod(lead) if lead else 1
    rows = 2 * (scale * h) * h * w * c
    cols = 2 * (scale * h) * (scale * w) * w * c
    return frames * (rows + cols)


def profiler_flops(concrete_function, op_types=PROFILER_OP_TYPES):
    """Total "flops" of the graph of ``concrete_function`` according to TensorFlow's profiler
    (``tf.compat.v1.profiler``), over the ops of ``op_types`` only. Ops inside loops
    (``tf.map_fn``, ``tf.while_loop``) are counted once, so compare on loop-free graphs."""
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = (builder(builder.float_operation())
               .account_displayed_op_only(False)
               .with_empty_output()
               .build())
    options["account_type_regexes"] = [f"^{t}$" for t in op_types]
    profile = tf.compat.v1.profiler.profile(
        concrete_function.graph, options=options, cmd="op")
    return int(profile.total_float_ops)
