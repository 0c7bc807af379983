"""The run folder: its layout, its config, and getting a trained model back out of it.

    RUN/config.json      the resolved ExperimentConfig (model config with seq_len, data, budget, ...)
    RUN/checkpoints/     tf.train.CheckpointManager: model, optimizer, step, data position
    RUN/logs/            TensorBoard event files
    RUN/model.keras      final weights, written atomically when training ends

Checkpoints are written by `tf.train.CheckpointManager`: the data and index files go first and the
``checkpoint`` state file is rewritten last (TensorFlow writes it to a temporary file and renames
it), so a kill while saving leaves the previous checkpoint as the latest one.

Training writes run folders and serving reads them; both import this module, which imports
neither. :func:`load_keras_model` is the package's one reader of ``.keras`` files (run folders,
pretrained weights, files given by the user).
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from vsr_latent.atomic import write_json
from vsr_latent.configs import config_from_dict
from vsr_latent.errors import CheckpointError, ConfigError
from vsr_latent.precision import dtype_policy

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"
MODEL_FILE = "model.keras"


def config_path(run_dir):
    return Path(run_dir) / CONFIG_FILE


def checkpoint_dir(run_dir):
    return Path(run_dir) / CHECKPOINT_DIR


def log_dir(run_dir):
    return Path(run_dir) / LOG_DIR


def read_scalars(log_dir, tags=None):
    """{tag: (steps, values, wall_times)} of the scalars in TensorBoard event files (TensorBoard's
    own reader), every tag or those of ``tags``; the last value wins where a resumed run logged a
    step twice."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorflow import make_ndarray

    acc = EventAccumulator(str(log_dir), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    written = acc.Tags().get("tensors", [])
    out = {}
    for tag in written if tags is None else [t for t in tags if t in written]:
        by_step = {}
        for event in acc.Tensors(tag):
            by_step[event.step] = (float(make_ndarray(event.tensor_proto)), event.wall_time)
        steps = sorted(by_step)
        out[tag] = (np.array(steps), np.array([by_step[s][0] for s in steps]),
                    np.array([by_step[s][1] for s in steps]))
    return out


def model_path(run_dir):
    return Path(run_dir) / MODEL_FILE


def write_config(run_dir, config):
    write_json(config_path(run_dir), config.to_dict())


def read_config(run_dir):
    path = config_path(run_dir)
    if not path.is_file():
        raise CheckpointError(f"{path}: no config.json (not a training run folder)")
    try:
        return config_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ConfigError) as e:
        raise CheckpointError(f"{path}: unreadable run config: {e}") from None


def latest_checkpoint(run_dir):
    import tensorflow as tf

    d = checkpoint_dir(run_dir)
    if not d.is_dir():
        return None
    try:
        return tf.train.latest_checkpoint(str(d))
    except Exception as e:  # a damaged state file: UnicodeDecodeError, protobuf ParseError, ...
        raise CheckpointError(
            f"{d / 'checkpoint'}: damaged checkpoint state file ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''})"
        ) from e


def build_model_for(config, precision=None):
    """The untrained network a config describes, computing in ``precision`` (a Keras dtype
    policy; None: the global one, so a caller's `dtype_policy` context applies)."""
    from vsr_latent.models import build_model

    if precision is None:
        return build_model(config.model)
    with dtype_policy(precision):
        return build_model(config.model)


def restore_model(run_dir):
    """The model of a run folder: its latest checkpoint, else its model.keras.

    A call runs the deterministic mean path (the default for inference); ``model(x,
    sampling=True)`` draws samples. A checkpoint written while the mode was a weight
    (``sampling_flag``) restores too: that weight is no longer looked for. The model computes in
    the dtype policy in force (the caller's).
    """
    import tensorflow as tf

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run folder")
    ckpt = latest_checkpoint(run_dir)
    if ckpt is not None:
        config = read_config(run_dir)
        model = build_model_for(config)
        try:
            tf.train.Checkpoint(model=model).read(ckpt).expect_partial().assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise CheckpointError(
                f"{ckpt}: does not match model {config.model.name!r} of {config_path(run_dir)}: "
                f"{str(e).splitlines()[0]}"
            ) from None
        except Exception as e:  # a damaged file fails in other ways too (IndexError, ...)
            raise CheckpointError(
                f"{ckpt}: damaged or unreadable checkpoint ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''})"
            ) from e
        return model
    path = model_path(run_dir)
    if path.is_file():
        return load_keras_model(path)
    raise CheckpointError(f"{run_dir}: no checkpoint in {CHECKPOINT_DIR}/ and no {MODEL_FILE}")


def load_keras_model(path):
    """The Keras model of a ``.keras`` file (a call runs the mean path unless given
    ``sampling=True``).

    Its layers compute in the dtype policy in force (the caller's: wrap the call in
    ``vsr_latent.precision.dtype_policy`` for another precision); CheckpointError for a file
    Keras cannot read.
    """
    import keras

    import vsr_latent.models  # noqa: F401  (registers the serializable classes)

    try:
        model = keras.saving.load_model(str(path), compile=False)
    except Exception as e:  # zip, h5 and deserialisation errors come in many types
        raise CheckpointError(f"{path}: cannot load the Keras model: {e}") from e
    return model


def _checkpoint_shapes(model):
    """{checkpoint key: shape} of ``model`` saved under the root name ``model``."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        prefix = tf.train.Checkpoint(model=model).write(str(Path(tmp) / "ckpt"))
        return {
            k: tuple(s)
            for k, s in tf.train.list_variables(prefix)
            if k.startswith("model/") and k.endswith("/.ATTRIBUTES/VARIABLE_VALUE")
        }


def check_checkpoint_covers(model):
    """Raises CheckpointError unless a `tf.train.Checkpoint` of ``model`` holds all its weights.

    tf.train.Checkpoint follows attribute names; a layer reachable only through a Keras-tracked
    list would silently be left out of every training checkpoint.
    """
    shapes = _checkpoint_shapes(model)
    if len(shapes) < len(model.weights):
        raise CheckpointError(
            f"model {model.name!r}: a checkpoint would hold only {len(shapes)} of its "
            f"{len(model.weights)} weights (layers not reachable by attribute)"
        )
    return shapes


def init_weights_from(model, source):
    """Loads the weights of another run (folder or .keras file) into ``model`` where they match.

    Variables are matched by their path in the object graph (the attribute names of the layers,
    not Keras' auto-generated layer names, so a model built second in a process still matches).
    Variables only ``model`` has (the variance heads of a variational model started from its
    non-variational stage 1) keep their fresh initial values. A variable both have with different
    shapes means the two runs are different architectures: CheckpointError.

    Returns (number of variables loaded, list of the checkpoint keys left fresh).
    """
    import tensorflow as tf

    source = Path(source)
    if source.is_dir():
        source_model = restore_model(source)
    elif source.suffix == ".keras" and source.is_file():
        source_model = load_keras_model(source)
    else:
        raise CheckpointError(f"{source}: init_from must be a run folder or a .keras file")
    src = check_checkpoint_covers(source_model)
    dst = check_checkpoint_covers(model)
    mismatched = [f"{k} {src[k]} vs {dst[k]}" for k in dst if k in src and src[k] != dst[k]]
    if mismatched:
        raise CheckpointError(
            f"{source}: weights of a different architecture (shape mismatch): "
            + "; ".join(mismatched[:5])
        )
    fresh = sorted(k for k in dst if k not in src)
    shared = [k for k in dst if k in src]
    if not shared:
        raise CheckpointError(f"{source}: no weight matches the model being trained")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = tf.train.Checkpoint(model=source_model).write(str(Path(tmp) / "ckpt"))
        tf.train.Checkpoint(model=model).read(prefix).expect_partial()
    return len(shared), fresh
