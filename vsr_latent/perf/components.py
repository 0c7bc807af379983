"""Time parts of a model on their own, on the activations they see inside the full model.

Method: the model is traced once with the call methods of the selected layer classes wrapped so
that the inputs reaching each selected layer are returned as extra outputs; one run of that
function yields the real activations. Each selected layer is then wrapped in its own
``tf.function`` (XLA on or off as for the full model) and timed alone on its activations
(median of repeats after warm-up). The share of a part is its time divided by the full model's
time measured in the same run; whatever is not covered by the parts (activations, residual
additions, the bicubic skip, depth-to-space, copies between ops) is the remainder.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

from vsr_latent.perf.flops import patched_call
from vsr_latent.perf.timing import time_call


def capture_layer_inputs(model, x, selectors):
    """Run ``model`` once on ``x`` and return ``[(layer, input_tensor)]`` for every call of a
    layer for which one of ``selectors`` (``(cls, predicate(layer))`` pairs) matches, in call
    order. Only calls with a single positional input are captured."""
    layers, tensors = [], []

    def make(cls, predicate):
        def wrapper(original):
            def call(self, inputs, *args, **kwargs):
                if type(self) is cls or isinstance(self, cls):
                    if predicate(self) and not kwargs.get("key_values"):
                        layers.append(self)
                        tensors.append(inputs)
                return original(self, inputs, *args, **kwargs)
            return call
        return wrapper

    def fn(inp):
        layers.clear()
        tensors.clear()
        model(inp, training=False)
        return list(tensors)

    with contextlib.ExitStack() as stack:
        for cls, predicate in selectors:
            stack.enter_context(patched_call(cls, make(cls, predicate)))
        traced = tf.function(fn)
        values = traced(x)
        found = list(layers)
    return list(zip(found, values))


def time_layers(pairs, *, xla=False, repeats=3, warmup=1, cpu=False):
    """Median seconds of each ``(layer, input)`` pair's layer called alone on its input:
    ``[(layer, wall_seconds)]``, or ``[(layer, wall_seconds, cpu_seconds)]`` with ``cpu``."""
    out = []
    # One function per layer is intended; silence TensorFlow's "retracing" warning about it.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        for layer, value in pairs:
            fn = tf.function(lambda t, _layer=layer: _layer(t, training=False),
                             jit_compile=bool(xla))
            timing = time_call(fn, value, repeats=repeats, warmup=warmup)
            out.append((layer, timing.median, timing.cpu_median) if cpu else
                       (layer, timing.median))
    finally:
        logger.setLevel(level)
    return out

