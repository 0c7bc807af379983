"""benchmarks/gpu_jax.sh, the GPU script, as a dry run on the CPU at tiny sizes: ``prepare``
under TensorFlow, then the script itself under JAX, so it works when a GPU machine is lent.
About 70 CPU-seconds (JAX compiles four networks), so ``slow``."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_gpu_jax_script_dry_run_on_the_cpu(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip('jax is not installed (pip install -e ".[jax]")')
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("KERAS_BACKEND", None)
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_jax.py"), "prepare", "--tiny",
                    "--dir", str(tmp_path)], env=env, check=True, capture_output=True,
                   timeout=600)
    out = tmp_path / "gpu_jax.json"
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_jax.sh"), str(out), "--tiny",
                           "--dir", str(tmp_path), "--repeats", "1"], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["tiny"] and result["device"].startswith("cpu")
    for precision in ("float32", "mixed_bfloat16"):
        speed = result["speed"][precision]
        assert speed["frames"] == 7 and 0 < speed["seconds_per_frame"] < 60
    assert result["ours_cpu"]["psnr_db_vs_tensorflow_cpu"] >= result["ours_cpu"]["min_psnr_db"]
    assert result["memory_720p"]["peak_bytes_in_use"] is None  # a CPU reports no memory stats
