"""The package's choice of TensorFlow CPU kernels (oneDNN), made before TensorFlow loads."""

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from vsr_latent import cpu_backend, hardware

X86 = platform.machine().lower() in ("x86_64", "amd64")


def test_prefer_onednn_sets_the_default_only_where_unset_and_only_on_x86():
    env = {}
    assert cpu_backend.prefer_onednn(env, machine="x86_64") == cpu_backend.DEFAULT_ONEDNN_OPTS
    assert env == {cpu_backend.ONEDNN_ENV: "1"}
    env = {cpu_backend.ONEDNN_ENV: "0"}
    assert cpu_backend.prefer_onednn(env, machine="AMD64") == "0"  # the user's choice stands
    env = {}
    assert cpu_backend.prefer_onednn(env, machine="aarch64") is None and env == {}


def _onednn_in_fresh_process(value):
    env = {k: v for k, v in os.environ.items() if k != cpu_backend.ONEDNN_ENV}
    if value is not None:
        env[cpu_backend.ONEDNN_ENV] = value
    env["PYTHONPATH"] = str(REPO_ROOT)
    code = ("import vsr_latent, tensorflow; from vsr_latent.cpu_backend import onednn_enabled; "
            "print('ONEDNN', onednn_enabled())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    return out.split("ONEDNN")[-1].strip() == "True"


@pytest.mark.skipif(not X86, reason="oneDNN is chosen by the package on x86 CPUs only")
def test_importing_the_package_first_turns_onednn_on_and_the_variable_turns_it_off():
    assert _onednn_in_fresh_process(None) is True
    assert _onednn_in_fresh_process("0") is False


def test_this_test_process_runs_the_kernels_users_get():
    # conftest imports the package before TensorFlow, as a user's `vsr-latent` command does.
    expected = os.environ.get(cpu_backend.ONEDNN_ENV) != "0" if X86 else None
    if expected is not None:
        assert cpu_backend.onednn_enabled() is expected


def test_a_convolution_under_the_chosen_kernels_matches_numpy():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4, 2)).astype(np.float32)
    got = tf.nn.conv3d(x, w, strides=[1] * 5, padding="SAME").numpy()
    xp = np.pad(x, [(0, 0), (1, 1), (1, 1), (1, 1), (0, 0)])
    want = np.zeros(got.shape, np.float64)
    for t in range(3):
        for i in range(3):
            for j in range(3):
                want += np.einsum("btyxc,co->btyxo",
                                  xp[:, t:t + 3, i:i + 6, j:j + 5], w[t, i, j].astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_the_hardware_line_names_the_cpu_features_and_the_kernels():
    info = {"cpu": "AMD EPYC", "cores": 2, "cpu_flags": ["avx2"], "onednn": True, "gpus": [],
            "tensorflow": "2.21.0", "keras": "3.15.1", "python": "3.11.7"}
    assert hardware.summary(info).startswith("CPU: AMD EPYC (2 cores, avx2, oneDNN on); GPU: none")
    old = {k: v for k, v in info.items() if k not in ("cpu_flags", "onednn")}
    assert hardware.summary(old).startswith("CPU: AMD EPYC (2 cores); GPU: none")
    live = hardware.describe()
    assert live["onednn"] == cpu_backend.onednn_enabled()
    assert set(live["cpu_flags"]) <= set(hardware.SPEED_FLAGS)


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="no /proc/cpuinfo on this OS")
def test_cpu_flags_and_native_bfloat16_read_the_first_cpus_flags_line():
    from vsr_latent import precision

    with open("/proc/cpuinfo", encoding="utf-8") as f:
        line = next(line for line in f if line.startswith("flags"))
    flags = set(line.split(":", 1)[1].split())
    assert cpu_backend.cpu_flags() == flags
    assert precision.native_bfloat16() is bool(flags & {"avx512_bf16", "amx_bf16"})
    assert hardware.cpu_speed_flags() == [f for f in hardware.SPEED_FLAGS if f in flags]
