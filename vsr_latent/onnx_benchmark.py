"""The onnxruntime backend of ``vsr-latent benchmark`` (``--backend onnxruntime``).

Importing this module registers :class:`OnnxRuntimeBackend` with
``vsr_latent.perf.backends`` (which lists this module in its ``BACKEND_MODULES``). The
benchmark hands it the same built Keras model and input shape as the TensorFlow backend; the model
is exported to a temporary ONNX file (``vsr_latent.onnx_export.export_onnx``, unchecked: the
export's agreement is what ``tests/test_onnx.py`` checks) and timed in an onnxruntime session, so
both backends are timed on the same weights and input in the same run. The export time is not
part of the timing (it is the backend's preparation, like tracing for TensorFlow).
"""

import tempfile
from pathlib import Path

import numpy as np

from vsr_latent.perf.backends import Backend, register_backend
from vsr_latent.errors import ConfigError


class OnnxRuntimeBackend(Backend):
    """A Keras model exported to ONNX and run in onnxruntime (no XLA: ``supports_xla`` False)."""

    name = "onnxruntime"
    supports_xla = False

    def available(self):
        from vsr_latent.onnx_backend import require_onnxruntime
        from vsr_latent.onnx_export import require_tf2onnx

        try:
            require_tf2onnx()
            require_onnxruntime()
        except ConfigError as e:
            return False, str(e)
        return True, ""

    def prepare(self, model, input_shape, *, xla=False):
        from vsr_latent.onnx_backend import open_session
        from vsr_latent.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx

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


register_backend(OnnxRuntimeBackend())
