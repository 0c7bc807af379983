"""Inference backends the benchmark can time a Keras model with.

``BACKENDS`` maps a name to a ``Backend``; ``vsr-latent benchmark --backend NAME`` picks entries.
Adding a backend means writing a ``Backend`` subclass here and adding it to ``BACKENDS``. A
backend whose optional packages are missing reports ``available() == (False, reason)`` instead
of failing.

The onnxruntime backend is handed the same built Keras model and input shape as the TensorFlow
one; the model is exported to a temporary ONNX file (``serving.onnx_export.export_onnx``,
unchecked: the export's agreement is what ``tests/test_onnx.py`` checks) and timed in an
onnxruntime session, so both backends are timed on the same weights and input in the same run.
The export time is not part of the timing (it is the backend's preparation, like tracing for
TensorFlow).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from vsr_latent.errors import ConfigError
from vsr_latent.serving.onnx_export import export_onnx, require_extras
from vsr_latent.serving.onnx_runtime import INPUT_NAME, OUTPUT_NAME, open_session


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
        spec = tf.TensorSpec(list(input_shape), tf.float32)
        return tf.function(lambda x: model(x, training=False), input_signature=[spec],
                           jit_compile=bool(xla))


class OnnxRuntimeBackend(Backend):
    """A Keras model exported to ONNX and run in onnxruntime (no XLA: ``supports_xla`` False)."""

    name = "onnxruntime"
    supports_xla = False

    def available(self):
        try:
            require_extras()
        except ConfigError as e:
            return False, str(e)
        return True, ""

    def prepare(self, model, input_shape, *, xla=False):
        workdir = tempfile.TemporaryDirectory(prefix="vsr_latent_bench_onnx_")
        path = Path(workdir.name) / "model.onnx"
        export_onnx(model, path, check=False)
        session = open_session(path)
        last = {}

        def run(x):
            # The benchmark passes the same tensor every call: convert it to numpy once.
            if last.get("source") is not x:
                last["source"], last["array"] = x, np.ascontiguousarray(np.asarray(x, np.float32))
            return session.run([OUTPUT_NAME], {INPUT_NAME: last["array"]})[0]

        run.workdir = workdir  # the ONNX file lives as long as the callable
        run.onnx_path = path
        return run


BACKENDS = {backend.name: backend for backend in (TensorFlowBackend(), OnnxRuntimeBackend())}
