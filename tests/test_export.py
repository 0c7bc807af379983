"""Export: .keras round trip, SavedModel loaded in a fresh process, the export command."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vsr_latent.cli import main
from vsr_latent.errors import CheckpointError
from vsr_latent.models import build_model
from vsr_latent.run_folder import load_keras_model
from vsr_latent.serving.export import export_model
from vsr_latent.serving.loading import load_model
from vsr_latent.serving.saved_model import export_saved_model, save_keras

# Glorot upscaler init: fresh weights whose every path shows clearly in the output.
TINY = {"filters": 8, "num_layers": 5, "upscaler_init_scale": 1.0}

_LOAD_AND_RUN = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    model_dir, data = sys.argv[1], np.load(sys.argv[2])
    loaded = tf.saved_model.load(model_dir)
    serve = loaded.signatures["serving_default"]
    out = {}
    for name in ("a", "b"):
        out[name] = serve(frames=tf.constant(data[name]))["sr"].numpy()
    keyed = loaded.signatures["serve_with_keys"]
    out["keyed"] = keyed(frames=tf.constant(data["a"]),
                         key_frames=tf.constant(data["keys"]))["sr"].numpy()
    np.savez(sys.argv[3], **out)
""")


def _frames(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype("float32")


def test_keras_file_round_trip_identical_outputs(tmp_path):
    model = build_model("ours", **TINY)
    path = save_keras(model, tmp_path / "model.keras")
    assert path.is_file() and not list(tmp_path.glob("*.part*"))
    loaded = load_keras_model(path)
    x = _frames((1, 3, 6, 7, 3))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    keys = _frames((1, 2, 6, 7, 3), seed=1)
    inputs = {"frames": x, "key_frames": keys}
    np.testing.assert_array_equal(loaded(inputs).numpy(), model(inputs).numpy())


@pytest.mark.slow  # about 30 s: a second TensorFlow process
def test_saved_model_in_fresh_process_gives_same_numbers(tmp_path):
    """`vsr-latent export --model FILE.keras OUT` then `tf.saved_model.load` in a new process."""
    model = build_model("lsatn_x", seq_len=3, **TINY)
    save_keras(model, tmp_path / "m.keras")
    out_dir = tmp_path / "sm"
    out_dir.mkdir()
    (out_dir / "stale.txt").write_text("old export")  # replaced as a whole, atomically
    assert main(["export", "--model", str(tmp_path / "m.keras"), str(out_dir)]) == 0
    assert (out_dir / "saved_model.pb").is_file() and not (out_dir / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    data = {"a": _frames((1, 3, 5, 7, 3)), "b": _frames((2, 1, 8, 4, 3), seed=2),
            "keys": _frames((1, 4, 5, 7, 3), seed=3)}
    np.savez(tmp_path / "in.npz", **data)
    subprocess.run([sys.executable, "-c", _LOAD_AND_RUN, str(out_dir), str(tmp_path / "in.npz"),
                    str(tmp_path / "out.npz")], check=True, timeout=300)
    got = np.load(tmp_path / "out.npz")
    # Graph vs eager kernels differ by float rounding only (outputs are on [0, 255]).
    for name in ("a", "b"):
        np.testing.assert_allclose(got[name], model(data[name]).numpy(), atol=2e-3)
    want = model({"frames": data["a"], "key_frames": data["keys"]}).numpy()
    np.testing.assert_allclose(got["keyed"], want, atol=2e-3)
    assert np.abs(got["keyed"] - got["a"]).max() > 1e-2
    # TensorFlow's own tool lists the serving signature with dynamic batch, L, H and W.
    shown = subprocess.run(["saved_model_cli", "show", "--dir", str(out_dir), "--tag_set", "serve",
                            "--signature_def", "serving_default"],
                           capture_output=True, text=True, check=True, timeout=300).stdout
    assert "inputs['frames']" in shown and "outputs['sr']" in shown, shown
    assert "shape: (-1, -1, -1, -1, 3)" in shown, shown


@pytest.mark.slow
def test_export_keeps_sampling_mode(tmp_path):
    import tensorflow as tf

    model = build_model("vsatn10", **TINY)
    loaded = tf.saved_model.load(str(export_saved_model(model, tmp_path / "sm", sampling=True)))
    x = tf.constant(_frames((1, 2, 4, 4, 3)))
    serve = loaded.signatures["serving_default"]
    assert np.abs(serve(frames=x)["sr"].numpy() - serve(frames=x)["sr"].numpy()).max() > 1e-3


def test_export_command_errors(tmp_path, capsys):
    assert main(["export", "--model", "no_such_model", str(tmp_path / "x")]) == 2
    assert "no_such_model" in capsys.readouterr().err
    (tmp_path / "bad.keras").write_text("not a zip")
    assert main(["export", "--model", str(tmp_path / "bad.keras"), str(tmp_path / "y")]) == 2
    assert "bad.keras" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()
    with pytest.raises(CheckpointError, match="neither a training run folder"):
        load_model(str(tmp_path))
    assert load_model("res16", seq_len=5).seq_len == 5


def test_export_model_returns_what_it_wrote(tmp_path):
    written = export_model("res16", tmp_path / "sm", seq_len=3)
    assert written == {"format": "saved_model", "path": tmp_path / "sm", "model": "res16",
                       "seq_len": 3, "scale": 4}
    assert (tmp_path / "sm" / "saved_model.pb").is_file()
