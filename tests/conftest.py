"""Test setup: two logical CPU devices (for MirroredStrategy), shared-data fixtures, helpers."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# Must run before TensorFlow initialises its devices: split the CPU into two logical devices so
# tests can run a real 2-replica MirroredStrategy.
_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
except RuntimeError:
    pass

from vsr_latent.paths import shared_data_dir  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))


@pytest.fixture(scope="session")
def shared_data():
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is absent (a fresh clone has no shared data; CI has it)")
    return d


@pytest.fixture(scope="session")
def vid4_gt(shared_data):
    d = shared_data / "Vid4" / "GT"
    if not d.is_dir():
        pytest.skip(f"{d} is absent")
    return d


@pytest.fixture(scope="session")
def carphone(shared_data):
    p = shared_data / "clips" / "carphone_pristine.mp4"
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    return p


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    import keras

    # free_memory=False: a full gc.collect() after each of hundreds of tests costs minutes.
    keras.backend.clear_session(free_memory=False)
