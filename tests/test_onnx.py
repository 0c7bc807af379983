"""ONNX export (tf2onnx from the SavedModel) and the onnxruntime backend.

The exported files are run in onnxruntime and compared with the Keras model on the same inputs
(max abs difference on the [0, 255] scale, two input sizes per model); the onnxruntime upscale runs
in a fresh interpreter where ``import tensorflow`` fails.
"""

import contextlib
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vsr_latent import cli
from vsr_latent.errors import CheckpointError, ConfigError
from vsr_latent.serving.loading import load_predictor
from vsr_latent.serving.onnx_export import (
    AGREEMENT_TOLERANCE,
    ONNX_OPSET,
    agreement_tolerance,
    export_onnx,
    saved_model_to_onnx,
)
from vsr_latent.serving.onnx_runtime import OnnxPredictor

# Importing the package's ONNX modules needs none of the extra; running them does.
ort = pytest.importorskip("onnxruntime", reason="the ONNX extra (pip install 'vsr_latent[onnx]')")
pytest.importorskip("tf2onnx", reason="the ONNX extra (pip install 'vsr_latent[onnx]')")
onnx = pytest.importorskip("onnx", reason="the ONNX extra (pip install 'vsr_latent[onnx]')")

REPO_ROOT = Path(__file__).resolve().parent.parent

# Tiny versions of the registry models: every block of the full model, 8 channels.
# Glorot upscaler init: fresh weights whose every path shows clearly in the output.
TINY = {"filters": 8, "num_layers": 5, "upscaler_init_scale": 1.0}

# Two input sizes (batch, L, H, W, 3): neither H nor W a multiple of 4 in the second (the
# attention blocks pad and crop), and a batch of 2 with a length other than the model's L.
SIZES = ((1, 7, 16, 20, 3), (2, 3, 11, 26, 3))


def tiny_model(name, seed=0, **overrides):
    import keras

    from vsr_latent.models import build_model

    keras.utils.set_random_seed(seed)
    return build_model(name, **{**TINY, **overrides})


def keras_mean(model, x):
    """The Keras model's mean-path output (the reference the ONNX file must reproduce)."""
    import tensorflow as tf

    return np.asarray(model(tf.constant(x), training=False), np.float32)


def onnx_run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["sr"], {"frames": x})[0]


def assert_agrees(model, path, label):
    rng = np.random.default_rng(1)
    for shape in SIZES:
        x = rng.uniform(0, 255, size=shape).astype(np.float32)
        ref = keras_mean(model, x)
        out = onnx_run(path, x)
        assert out.shape == ref.shape == (shape[0], shape[1], 4 * shape[2], 4 * shape[3], 3)
        diff = float(np.max(np.abs(out - ref)))
        print(f"ONNX agreement {label} {shape}: max abs diff {diff:.3g} on [0, 255] "
              f"(output up to {np.max(np.abs(ref)):.0f})")
        # A fresh model's output is far from constant: the comparison is not vacuous.
        assert float(np.std(ref)) > 1.0
        assert diff <= agreement_tolerance(np.max(np.abs(ref))), (label, shape, diff)


@pytest.fixture(scope="module")
def ours_onnx(tmp_path_factory):
    """Tiny ``ours`` (short + long, variational) saved as .keras and exported by the CLI."""
    from vsr_latent.serving.saved_model import save_keras

    tmp = tmp_path_factory.mktemp("onnx_ours")
    model = tiny_model("ours")
    keras_path = save_keras(model, tmp / "ours_tiny.keras")
    out = tmp / "ours_tiny.onnx"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = cli.main(["export", "--format", "onnx", "--model", str(keras_path), str(out)])
    assert rc == 0
    return {"model": model, "path": out, "printed": printed.getvalue()}


# ---------------------------------------------------------------------------------------------
# Export and agreement


@pytest.mark.slow  # the exported tiny ours fixture converts for about 30 s
def test_cli_export_ours_agrees_with_keras(ours_onnx):
    assert "wrote ONNX" in ours_onnx["printed"] and "opset 17" in ours_onnx["printed"]
    assert_agrees(ours_onnx["model"], ours_onnx["path"], "ours (tiny)")
    # Nothing but the file itself next to it (written aside, renamed).
    assert sorted(p.name for p in ours_onnx["path"].parent.iterdir()) == [
        "ours_tiny.keras", "ours_tiny.onnx"]


KINDS = {"latn10": "long", "satn10": "short", "vlatn10": "long"}


@pytest.mark.parametrize("name,depth", [
    # The default run converts one kind; the slow checks every kind at both depths.
    pytest.param("latn10", "two_blocks", marks=pytest.mark.slow),
    ("satn10", "two_blocks"),
    pytest.param("vlatn10", "two_blocks", id="vlatn10-mean-two_blocks", marks=pytest.mark.slow),
    pytest.param("latn10", "all_blocks", marks=pytest.mark.slow),
    pytest.param("satn10", "all_blocks", marks=pytest.mark.slow),
    pytest.param("vlatn10", "all_blocks", id="vlatn10-mean-all_blocks", marks=pytest.mark.slow),
])
def test_export_one_model_of_each_attention_kind(name, depth, tmp_path):
    # Conversion time grows with the graph: the default run keeps two blocks of the model's kind
    # (the tiny ``ours`` above has all five, long and short); the slow run has all five.
    sampling = name == "vlatn10"
    extra = {"num_layers": 2, "blocks": (KINDS[name],) * 2} if depth == "two_blocks" else {}
    model = tiny_model(name, **extra)
    if sampling:
        # A wide variance head: a sampled path would be far from the mean path the file holds.
        for block in model.attention:
            block.head.sigma_dense.bias.assign(np.full(block.head.units, 2.0, np.float32))
        x = np.random.default_rng(3).uniform(0, 255, SIZES[0]).astype(np.float32)
        sampled = np.asarray(model(x, training=False, sampling=True))
        assert float(np.max(np.abs(sampled - keras_mean(model, x)))) > 1
    report = export_onnx(model, tmp_path / f"{name}.onnx")
    assert report["opset"] == ONNX_OPSET and report["max_abs_diff"] <= report["tolerance"]
    assert_agrees(model, tmp_path / f"{name}.onnx", f"{name} (tiny, {depth})")


@pytest.mark.slow
def test_full_size_ours_agrees_with_keras(tmp_path):
    from vsr_latent.models import build_model, count_params

    model = build_model("ours")

    assert count_params(model) > 4_000_000
    export_onnx(model, tmp_path / "ours.onnx")
    assert_agrees(model, tmp_path / "ours.onnx", "ours (full size)")


@pytest.mark.slow  # the exported tiny ours fixture converts for about 30 s
def test_onnx_file_has_dynamic_dims_metadata_and_opset(ours_onnx):
    proto = onnx.load(str(ours_onnx["path"]))
    onnx.checker.check_model(proto)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [ONNX_OPSET]
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("frames", "sr")
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", "length", "height", "width", 3]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["seq_len"] == "7" and meta["scale"] == "4" and meta["path"] == "mean"
    assert meta["model"] == "ours" and meta["opset"] == str(ONNX_OPSET)


# ---------------------------------------------------------------------------------------------
# The onnxruntime predictor


@pytest.mark.slow  # the exported tiny ours fixture converts for about 30 s
def test_load_predictor_dispatches_onnx_and_matches_keras(ours_onnx):
    from vsr_latent.serving.predictors import upscale_sequence

    predictor = load_predictor(str(ours_onnx["path"]))
    assert isinstance(predictor, OnnxPredictor)
    assert (predictor.seq_len, predictor.scale, predictor.variational) == (7, 4, False)
    frames = np.random.default_rng(2).uniform(0, 255, (9, 12, 10, 3)).astype(np.float32)
    out = upscale_sequence(predictor, frames)
    # The paper's chunking: 7 frames, then 2 zero-padded to 7.
    pad = np.zeros((5, 12, 10, 3), np.float32)
    ref = np.concatenate([keras_mean(ours_onnx["model"], frames[None, :7])[0],
                          keras_mean(ours_onnx["model"], np.concatenate([frames[7:], pad])[None])[0, :2]])
    assert out.shape == (9, 48, 40, 3)
    assert float(np.max(np.abs(out - ref))) <= AGREEMENT_TOLERANCE
    with pytest.raises(ConfigError, match="mean path only"):
        predictor(frames[:7], samples=2)
    with pytest.raises(ConfigError, match="key frames"):
        predictor(frames[:7], key_frames=frames[:2])
    assert OnnxPredictor(ours_onnx["path"], seq_len=3).seq_len == 3


@pytest.mark.slow  # the exported tiny ours fixture converts for about 30 s
def test_backend_choice_errors(ours_onnx, tmp_path):
    with pytest.raises(ConfigError, match="runs .onnx files"):
        load_predictor("ours", backend="onnxruntime")
    with pytest.raises(ConfigError, match="runs on backend onnxruntime"):
        load_predictor(str(ours_onnx["path"]), backend="tensorflow")
    with pytest.raises(CheckpointError, match="no such ONNX file"):
        load_predictor(str(tmp_path / "missing.onnx"))
    assert isinstance(load_predictor(ours_onnx["path"], backend="onnxruntime"), OnnxPredictor)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf")
    with pytest.raises(CheckpointError, match="broken.onnx: onnxruntime cannot load"):
        OnnxPredictor(broken)


# ---------------------------------------------------------------------------------------------
# Serving without TensorFlow

NO_TENSORFLOW = textwrap.dedent("""
    import importlib.abc
    import sys

    BLOCKED = ("tensorflow", "keras", "tf_keras", "tf2onnx")

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"import of {name} blocked: serving ONNX must not need it")
            return None

    assert not any(m.split(".")[0] in BLOCKED for m in sys.modules)
    sys.meta_path.insert(0, NoTensorFlow())
    from vsr_latent.cli import main

    rc = main(sys.argv[1:])
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("the import guard did not block tensorflow")
    sys.exit(rc)
""")


@pytest.mark.slow  # the exported tiny ours fixture converts for about 30 s
def test_upscale_with_onnxruntime_never_imports_tensorflow(ours_onnx, tmp_path):
    from vsr_latent.data.builtin import builtin_clips
    from vsr_latent.data.video_io import FrameWriter, read_frames
    from vsr_latent.serving.predictors import KerasPredictor
    from vsr_latent.serving.video import UpscaleOptions, upscale_video

    (clip,) = builtin_clips(num_clips=1, num_frames=9, size=(20, 24), seed=3)
    src = tmp_path / "lr"
    with FrameWriter(src) as writer:
        for frame in clip:
            writer.write(frame)
    out = tmp_path / "sr_onnx"
    # Tiles of 16 with overlap 8 on 20x24 frames: the tiled path, two windows of L = 7.
    argv = ["upscale", str(src), str(out), "--backend", "onnxruntime", "--model",
            str(ours_onnx["path"]), "--tile", "16", "--tile_overlap", "8", "--no_progress"]
    proc = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, *argv], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "9 frames 24x20 -> 96x80" in proc.stdout

    ref_dir = tmp_path / "sr_keras"
    upscale_video(src, ref_dir, KerasPredictor(ours_onnx["model"], name="ours"),
                  UpscaleOptions(tile=16, overlap=8, progress=False))
    got, ref = read_frames(out), read_frames(ref_dir)
    assert got.shape == ref.shape == (9, 80, 96, 3)
    # Same frames up to float round-off before rounding to uint8.
    assert int(np.max(np.abs(got.astype(int) - ref.astype(int)))) <= 1
    assert float(np.std(ref)) > 1.0


# ---------------------------------------------------------------------------------------------
# Missing extras and bad inputs


def test_missing_onnxruntime_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"pip install 'vsr_latent\[onnx\]'"):
        OnnxPredictor(tmp_path / "model.onnx")
    src = tmp_path / "lr"
    src.mkdir()
    rc = cli.main(["upscale", str(src), str(tmp_path / "out"), "--model",
                   str(tmp_path / "model.onnx")])
    err = capsys.readouterr().err
    assert rc == 2 and "onnxruntime" in err and "vsr_latent[onnx]" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_tf2onnx_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    rc = cli.main(["export", "--format", "onnx", "--model", "ours", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert rc == 2 and "tf2onnx" in err and "vsr_latent[onnx]" in err
    assert not (tmp_path / "m.onnx").exists()


def test_bad_saved_model_leaves_no_file(tmp_path):
    not_a_model = tmp_path / "folder"
    not_a_model.mkdir()
    with pytest.raises(CheckpointError, match="not a SavedModel folder"):
        saved_model_to_onnx(not_a_model, tmp_path / "out.onnx")
    (not_a_model / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot load the SavedModel"):
        saved_model_to_onnx(not_a_model, tmp_path / "out.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


# ---------------------------------------------------------------------------------------------
# Benchmark backend


def test_benchmark_backend_runs_the_exported_model():
    import tensorflow as tf

    from vsr_latent.perf.backends import BACKENDS, OnnxRuntimeBackend

    backend = BACKENDS["onnxruntime"]
    assert isinstance(backend, OnnxRuntimeBackend) and backend.available() == (True, "")
    model = tiny_model("res16", num_layers=2)
    shape = (1, 3, 12, 10, 3)
    fn = backend.prepare(model, shape)
    x = tf.random.stateless_uniform(shape, seed=(1, 2), minval=0.0, maxval=255.0)
    out = fn(x)
    assert float(np.max(np.abs(out - keras_mean(model, x.numpy())))) <= AGREEMENT_TOLERANCE
    assert fn(x) is not out and fn.onnx_path.is_file()


def test_failed_agreement_check_writes_nothing(tmp_path, monkeypatch):
    from vsr_latent.serving import onnx_export
    from vsr_latent.serving.onnx_export import OnnxAgreementError

    monkeypatch.setattr(onnx_export, "AGREEMENT_RELATIVE", 0.0)

    model = tiny_model("res16", num_layers=1)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous file")
    # A negative tolerance no difference can meet: the check must refuse the file.
    with pytest.raises(OnnxAgreementError, match="above the tolerance"):
        export_onnx(model, out, tolerance=-1.0)
    assert out.read_bytes() == b"previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
