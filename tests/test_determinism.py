"""The ``deterministic`` setting: TensorFlow's op determinism per run, through the trainer.

What it changes on a GPU is checked without one in tests/test_gpu_readiness.py (no op of the
real step lacks a deterministic GPU kernel); what it and the CPU's instruction set change in a
run's numbers is measured by benchmarks/reproducibility.py (docs/reproducibility.md).
"""

import numpy as np
import pytest

from tests.training_helpers import tiny_config
from vsr_latent.training.determinism import op_determinism_enabled, set_op_determinism
from vsr_latent.training.trainer import Trainer, train


def _weights(run_dir):
    from vsr_latent.run_folder import load_keras_model

    return [w.numpy() for w in load_keras_model(run_dir / "model.keras").weights]


def test_each_run_sets_op_determinism_from_its_config(tmp_path):
    before = op_determinism_enabled()
    try:
        Trainer(tiny_config("table1_latn10", "deterministic=true"), tmp_path / "on",
                progress=False, log=lambda m: None)
        assert op_determinism_enabled()
        # A run after it in the same process (the paper runner's tables) gets its own setting.
        Trainer(tiny_config("table1_latn10"), tmp_path / "off", progress=False, log=lambda m: None)
        assert not op_determinism_enabled()
        assert set_op_determinism(True) is False and op_determinism_enabled()
    finally:
        set_op_determinism(before)


@pytest.mark.slow  # two short runs
def test_a_deterministic_run_trains_to_the_same_bits_on_this_cpu(tmp_path):
    """On the CPU the runs are bitwise repeatable without op determinism, and op determinism
    picks no other kernel for the step: both settings end with the same weights."""
    before = op_determinism_enabled()
    try:
        # Through both stages: stage 2 draws the variance heads' noise.
        steps = ["stage1_steps=3", "stage2_steps=2", "validate_every=100"]
        train(tiny_config("ours", *steps), tmp_path / "plain", progress=False,
              log=lambda m: None)
        train(tiny_config("ours", *steps, "deterministic=true"), tmp_path / "det",
              progress=False, log=lambda m: None)
    finally:
        set_op_determinism(before)
    plain, det = _weights(tmp_path / "plain"), _weights(tmp_path / "det")
    assert len(plain) == len(det) > 0
    for a, b in zip(plain, det):
        np.testing.assert_array_equal(a, b)
