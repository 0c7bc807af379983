"""Test setup: two logical CPU devices (for MirroredStrategy), shared-data fixtures, and
``run_cli`` for the real command line in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Before TensorFlow, as in a user's program: the package picks TensorFlow's CPU kernels
# (vsr_latent.cpu_backend), so the tests run on the kernels users get.
import vsr_latent  # noqa: E402, F401, I001
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


@pytest.fixture(scope="session")
def run_cli():
    """``run_cli(*args, cwd=None, env=None, returncode=None, timeout=600, module="vsr_latent")``
    runs ``python -m vsr_latent ARGS`` (or another command line ``module``) in a subprocess and
    returns the ``CompletedProcess`` (text stdout and stderr). The checkout under test is
    imported (``PYTHONPATH`` starts with the repository root, whatever is installed); ``env``
    adds to or overrides this process's environment; with ``returncode`` the exit code is
    checked (showing stdout and stderr). Session-scoped, so fixtures of any scope can use it."""

    def run(*args, cwd=None, env=None, returncode=None, timeout=600, module="vsr_latent"):
        full_env = {**os.environ, **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT)] + [p for p in [full_env.get("PYTHONPATH")] if p])
        cmd = [sys.executable, "-m", module, *map(str, args)]
        result = subprocess.run(cmd, cwd=cwd or REPO_ROOT, env=full_env, capture_output=True,
                                text=True, timeout=timeout, check=False)
        if returncode is not None:
            assert result.returncode == returncode, (
                f"{cmd} exited {result.returncode}, not {returncode}\n"
                f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
        return result

    return run
