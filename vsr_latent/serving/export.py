"""Exporting a model spec for other runtimes: what ``vsr-latent export`` does.

``export_model(spec, out)`` resolves ``spec`` with ``loading.load_model`` (a pretrained or registry
name, a run folder or a ``.keras`` file) and writes it as a SavedModel folder
(``saved_model.export_saved_model``) or an ONNX file checked in onnxruntime
(``onnx_export.export_onnx``). The optional ONNX packages are checked before the model is loaded.
"""

from pathlib import Path

from vsr_latent.errors import ConfigError
from vsr_latent.serving.loading import load_model
from vsr_latent.serving.onnx_export import export_onnx, require_extras
from vsr_latent.serving.saved_model import export_saved_model

FORMATS = ("saved_model", "onnx")
"""What a model can be exported as."""


def export_model(spec, out, *, format="saved_model", seq_len=None):
    """Writes the model ``spec`` names at ``out`` as ``format`` (one of ``FORMATS``); ``seq_len``
    is the nominal clip length of a registry model.

    Returns a dict of what was written: ``format``, ``path``, ``model`` (its name), ``seq_len``,
    ``scale`` and, for ONNX, the export's report (``opset``, ``max_abs_diff`` and ``tolerance``
    of the agreement check, ``seconds``).
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")
    if format == "onnx":
        require_extras()
    model = load_model(spec, seq_len=seq_len)
    written = {"format": format, "path": Path(out), "model": model.name,
               "seq_len": int(model.seq_len), "scale": int(model.scale)}
    if format == "onnx":
        written.update(export_onnx(model, out), path=Path(out))
    else:
        export_saved_model(model, out)
    return written
