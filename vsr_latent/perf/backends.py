"""Inference backends the benchmark can time a Keras model with.

``BACKENDS`` maps a name to a ``Backend``; ``vsr-latent benchmark --backend NAME`` picks entries.
Adding a backend (e.g. onnxruntime) means writing a ``Backend`` subclass and calling
``register_backend(MyBackend())`` from the module that defines it, then listing that module in
``BACKEND_MODULES`` so the benchmark imports it (a missing optional dependency makes the
backend report ``available() == False`` instead of failing).
"""

from __future__ import annotations

import importlib

BACKENDS = {}

# Modules imported (if present) before backends are listed, each registering its backends.
BACKEND_MODULES = ("vsr_latent.perf.backends", "vsr_latent.onnx_benchmark")


class Backend:
    """How to turn a built Keras model into a callable for one fixed input shape.

    Subclasses set ``name`` and implement ``prepare``; ``supports_xla`` says whether the
    ``xla`` argument means anything (the benchmark times backends without XLA support once).
    """

    name = "base"
    supports_xla = False

    def available(self):
        """(ok, reason): whether this backend can run here."""
        return True, ""

    def prepare(self, model, input_shape, *, xla=False):
        """A callable ``fn(x)`` for float32 frames ``x`` of ``input_shape`` (a tf.Tensor) that
        returns the model's output (anything ``timing.time_call`` can wait for)."""
        raise NotImplementedError


class TensorFlowBackend(Backend):
    """The model in a ``tf.function`` with a static input signature, optionally XLA-compiled
    (``jit_compile=True``)."""

    name = "tensorflow"
    supports_xla = True

    def prepare(self, model, input_shape, *, xla=False):
        import tensorflow as tf

        spec = tf.TensorSpec(list(input_shape), tf.float32)
        return tf.function(lambda x: model(x, training=False), input_signature=[spec],
                           jit_compile=bool(xla))


def register_backend(backend):
    """Add (or replace) a backend under ``backend.name``."""
    BACKENDS[backend.name] = backend
    return backend


def load_backends():
    """Import every module of ``BACKEND_MODULES`` that exists and return ``BACKENDS``."""
    for module in BACKEND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
    return BACKENDS


register_backend(TensorFlowBackend())
