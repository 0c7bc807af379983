"""Saving a model: ``.keras`` files and SavedModels with a serving signature.

``.keras`` files are read back by ``vsr_latent.run_folder.load_keras_model`` (the package's one
reader, which ``vsr_latent.serving.loading`` uses for every spec that is a Keras model).

``export_saved_model(model, out_dir)`` writes a SavedModel whose ``serving_default`` signature
takes ``frames`` float32 [batch, L, H, W, 3] on [0, 255] (any L, H, W) and returns
``{"sr": float32 [batch, L, 4H, 4W, 3]}`` on [0, 255]. A second signature ``serve_with_keys``
takes ``frames`` and ``key_frames`` [batch, N, H, W, 3] (external key frames for long
attention). The folder is written aside and renamed into place (``atomic_dir``). The variational
mode is a saved variable: the exported model samples if and only if the model did at export.
"""

from pathlib import Path

from vsr_latent.atomic import atomic_dir, atomic_path

FRAMES_SPEC_SHAPE = (None, None, None, None, 3)


def save_keras(model, path):
    """Writes ``model`` as a ``.keras`` file atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp, overwrite=True)
    return path


def export_saved_model(model, out_dir, sampling=False):
    """Writes ``model`` as a SavedModel folder at ``out_dir`` (atomically); returns the path.

    The endpoints run the mean path, or with ``sampling`` (variational models) a sampled path
    that draws anew at each call."""
    import keras
    import tensorflow as tf

    out_dir = Path(out_dir)
    frames_spec = tf.TensorSpec(FRAMES_SPEC_SHAPE, tf.float32, name="frames")
    keys_spec = tf.TensorSpec(FRAMES_SPEC_SHAPE, tf.float32, name="key_frames")

    mode = {"sampling": True} if sampling else {}

    def serve(frames):
        return {"sr": model(frames, training=False, **mode)}

    def serve_with_keys(frames, key_frames):
        return {"sr": model({"frames": frames, "key_frames": key_frames}, training=False, **mode)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serve, input_signature=[frames_spec])
    archive.add_endpoint("serve_with_keys", serve_with_keys, input_signature=[frames_spec, keys_spec])
    with atomic_dir(out_dir) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return out_dir
