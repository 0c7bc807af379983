"""Property-based tests over every reader: random sizes and bytes give a result or the package's
own error (a `VsrError` naming the file), never another exception type, a hang, or output.

Readers: raw YUV, video files (random bytes and real H.264 files truncated / corrupted at random
places), frame folders, dataset-root clip manifests, configs (``--set`` overrides, a run folder's
config.json), run folders / .keras files / checkpoints of another model, and model specs.
Example counts are small (the suite must stay fast); every example runs under a time limit.
"""

import contextlib
import json
import signal
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vsr_latent.errors import VsrError

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
FEW = settings(FAST, max_examples=8)
EXAMPLE_TIME_LIMIT_S = 60


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds=EXAMPLE_TIME_LIMIT_S):
    """Fails the example (instead of hanging the suite) when the reader takes too long."""

    def on_alarm(signum, frame):
        raise Hang(f"reader still busy after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def outcome(fn, *args, **kwargs):
    """The reader's result, or its VsrError; any other exception fails the test."""
    with time_limit():
        try:
            return fn(*args, **kwargs)
        except VsrError as e:
            assert str(e).strip(), "an error without a message"
            assert "\n" not in str(e).strip(), f"multi-line error: {e!r}"
            return e


def fresh_dir(base, name="case"):
    """A new empty folder under ``base`` for one example (examples share the test's tmp_path)."""
    base.mkdir(parents=True, exist_ok=True)
    n = len(list(base.iterdir()))
    d = base / f"{name}{n}"
    d.mkdir()
    return d


# ---- raw YUV -------------------------------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=3000), h=st.integers(-4, 40), w=st.integers(-4, 40),
       bit_depth=st.sampled_from([8, 10, 9, 16]))
def test_yuv_random_bytes_and_sizes(tmp_path, data, h, w, bit_depth):
    from vsr_latent.data.video_io import read_frames

    path = fresh_dir(tmp_path) / "clip.yuv"
    path.write_bytes(data)
    got = outcome(read_frames, path, yuv_size=(h, w), yuv_bit_depth=bit_depth)
    if isinstance(got, VsrError):
        assert str(path) in str(got)
        return
    # Only a whole number of frames of a valid size reads, and then as exactly that many frames.
    per_frame = (h * w + 2 * (h // 2) * (w // 2)) * (1 if bit_depth == 8 else 2)
    assert bit_depth in (8, 10) and h > 0 and w > 0 and h % 2 == 0 and w % 2 == 0
    assert len(data) % per_frame == 0 and got.shape == (len(data) // per_frame, h, w, 3)
    assert got.dtype == np.uint8


@FEW
@given(size=st.one_of(st.none(), st.tuples(st.integers(2, 8)), st.text(max_size=5),
                      st.tuples(st.text(max_size=3), st.integers(2, 8)),
                      st.tuples(st.integers(2, 8), st.integers(2, 8), st.integers(2, 8))))
def test_yuv_malformed_size_argument(tmp_path, size):
    from vsr_latent.data.video_io import read_frames

    path = fresh_dir(tmp_path) / "clip.yuv"
    path.write_bytes(bytes(96))
    assert isinstance(outcome(read_frames, path, yuv_size=size), VsrError)


# ---- video files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    from vsr_latent.data.video_io import FrameWriter

    path = tmp_path_factory.mktemp("video") / "ramp.mp4"
    rng = np.random.default_rng(0)
    with FrameWriter(path, fps=25) as w:
        for _ in range(10):
            w.write(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    return path


def _check_video_outcome(path, got):
    if isinstance(got, VsrError):
        assert str(path) in str(got)
    else:
        assert got.ndim == 4 and got.shape[-1] == 3 and got.dtype == np.uint8 and len(got) >= 1


@FAST
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".mp4", ".mkv", ".avi", ".bin"]))
def test_video_random_bytes(tmp_path, data, suffix):
    from vsr_latent.data.video_io import read_frames

    path = fresh_dir(tmp_path) / f"clip{suffix}"
    path.write_bytes(data)
    got = outcome(read_frames, path)
    _check_video_outcome(path, got)


@FAST
@given(cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0.0, 1.0),
                                                        st.integers(0, 255)), max_size=6))
def test_video_truncated_or_corrupted(tmp_path, small_video, cut, flips):
    from vsr_latent.data.video_io import open_frames, read_frames

    data = bytearray(small_video.read_bytes())
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    data = bytes(data[: max(1, int(cut * len(data)))]) if cut < 1.0 else bytes(data)
    path = fresh_dir(tmp_path) / "clip.mp4"
    path.write_bytes(data)
    got = outcome(read_frames, path)
    _check_video_outcome(path, got)
    if not isinstance(got, VsrError):
        # Whatever decodes is what the source declared: no silently short video.
        with open_frames(path) as src:
            assert src.num_frames == len(got)


# ---- frame folders -------------------------------------------------------------------------------


def _image_bytes(kind, h, w, rng):
    import io

    import imageio.v3 as iio

    if kind == "random":
        return rng.integers(0, 256, rng.integers(0, 300), dtype=np.uint8).tobytes()
    if kind == "empty":
        return b""
    shapes = {"rgb": (h, w, 3), "gray": (h, w), "rgba": (h, w, 4)}
    dtype = np.uint16 if kind == "gray16" else np.uint8
    a = rng.integers(0, 256 if dtype == np.uint8 else 65536, shapes.get(kind, (h, w)), dtype=dtype)
    buf = io.BytesIO()
    iio.imwrite(buf, a, extension=".png")
    data = buf.getvalue()
    if kind == "truncated":
        data = data[: len(data) // 2]
    return data


@FAST
@given(files=st.lists(st.tuples(st.sampled_from(["rgb", "gray", "rgba", "gray16", "random",
                                                  "empty", "truncated"]),
                                 st.integers(1, 12), st.integers(1, 12),
                                 st.sampled_from([".png", ".jpg", ".bmp"])),
                       max_size=4),
       seed=st.integers(0, 1000))
def test_frame_folder_random_files(tmp_path, files, seed):
    from vsr_latent.data.video_io import read_frames

    rng = np.random.default_rng(seed)
    folder = fresh_dir(tmp_path)
    for i, (kind, h, w, ext) in enumerate(files):
        (folder / f"{i:03d}{ext}").write_bytes(_image_bytes(kind, h, w, rng))
    got = outcome(read_frames, folder)
    if isinstance(got, VsrError):
        return
    assert got.shape[0] == len(files) and got.shape[-1] == 3 and got.dtype == np.uint8
    assert all(k in ("rgb", "gray", "rgba", "gray16") for k, *_ in files)


# ---- dataset-root manifests ----------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 200) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["num_frames", "size", "clip_id", "split", "remote", "selected", "x"]),
        inner, max_size=5),
    max_leaves=12,
)


@FAST
@given(manifest=st.one_of(JSON_VALUES, st.binary(max_size=50)), frames=st.integers(0, 2))
def test_clip_manifest_random_content(tmp_path, manifest, frames):
    import imageio.v3 as iio

    from vsr_latent.data.dataset_root import list_clips

    root = fresh_dir(tmp_path)
    clip = root / "clips" / "c0"
    clip.mkdir(parents=True)
    for i in range(frames):
        iio.imwrite(clip / f"{i:08d}.png", np.zeros((8, 8, 3), np.uint8))
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    (clip / "manifest.json").write_bytes(raw)
    got = outcome(list_clips, root)
    if not isinstance(got, VsrError):
        assert len(got) == 1 and len(got[0]) == frames and len(got[0].size) == 2


# ---- configs -------------------------------------------------------------------------------------

KEYS = ["seq_len", "data.batch_size", "data.lr_patch", "data.augmentation", "data.degradation",
        "optimizer.learning_rate", "stage1_steps", "init_from", "model_overrides.filters",
        "model_overrides", "model", "nope", "data", "data.nope.x", ""]


@FAST
@given(items=st.lists(st.one_of(
    st.tuples(st.sampled_from(KEYS), st.text(string.printable, max_size=8)).map("=".join),
    st.text(max_size=10)), min_size=1, max_size=3))
def test_set_overrides_random_text(items):
    from vsr_latent.configs import get_config

    got = outcome(get_config, "table1_latn10", budget="tiny", overrides=items)
    if not isinstance(got, VsrError):
        # Accepted overrides give a config a run can use, or validate() says why not.
        outcome(got.validate)


@FAST
@given(content=st.one_of(JSON_VALUES, st.binary(max_size=60)),
       patch=st.dictionaries(st.sampled_from(["seq_len", "model", "data", "optimizer",
                                              "model_overrides", "stage1_steps", "name"]),
                             JSON_VALUES, max_size=3))
def test_run_folder_config_json_random(tmp_path, content, patch):
    from vsr_latent.configs import get_config
    from vsr_latent.run_folder import read_config

    run = fresh_dir(tmp_path)
    if patch and not isinstance(content, bytes):
        content = {**get_config("table1_latn10", budget="tiny").to_dict(), **patch}
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    (run / "config.json").write_bytes(raw)
    got = outcome(read_config, run)
    if not isinstance(got, VsrError):
        outcome(got.validate)


# ---- checkpoints, model files and specs ----------------------------------------------------------


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """Two finished tiny runs of different models (one checkpoint and a model.keras each)."""
    import tensorflow as tf

    from vsr_latent.configs import get_config
    from vsr_latent.training import train

    base = tmp_path_factory.mktemp("runs")
    tiny = ["seq_len=2", "model_overrides.num_layers=1", "stage1_steps=1", "checkpoint_every=1"]
    runs = {}
    for name, extra in (("latn", ['model_overrides.blocks=["long"]']),
                        ("satn", ['model_overrides.blocks=["short"]'])):
        config = get_config("table1_latn10" if name == "latn" else "table1_satn10",
                            budget="tiny", overrides=tiny + extra)
        train(config, base / name, strategy=tf.distribute.get_strategy(), progress=False,
              log=lambda m: None)
        runs[name] = base / name
    return runs


def test_checkpoint_of_another_model_is_refused(tmp_path, trained_runs):
    import shutil

    from vsr_latent.errors import CheckpointError
    from vsr_latent.run_folder import restore_model
    from vsr_latent.serving.loading import load_predictor

    mixed = tmp_path / "mixed"
    shutil.copytree(trained_runs["latn"], mixed)
    shutil.copy(trained_runs["satn"] / "config.json", mixed / "config.json")
    for fn in (restore_model, load_predictor):
        got = outcome(fn, mixed)
        assert isinstance(got, CheckpointError), got
        assert "does not match" in str(got) and "ckpt-1" in str(got)


@FEW
@given(cut=st.floats(0.0, 0.99), flips=st.lists(st.tuples(st.floats(0.0, 1.0),
                                                         st.integers(0, 255)), max_size=4),
       which=st.sampled_from(["index", "data", "state", "keras"]))
def test_damaged_checkpoint_or_keras_file(tmp_path, trained_runs, cut, flips, which):
    import shutil

    from vsr_latent.serving.loading import load_predictor

    run = fresh_dir(tmp_path)
    shutil.rmtree(run)
    shutil.copytree(trained_runs["latn"], run)
    if which == "keras":
        shutil.rmtree(run / "checkpoints")
        target = run / "model.keras"
    elif which == "state":
        target = run / "checkpoints" / "checkpoint"
    else:
        target = next((run / "checkpoints").glob(f"ckpt-1.{which}*"))
    data = bytearray(target.read_bytes())
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    target.write_bytes(bytes(data[: int(cut * len(data))]))
    got = outcome(load_predictor, run)
    if not isinstance(got, VsrError):
        assert got.scale == 4


@FAST
@given(spec=st.one_of(st.text(max_size=12), st.sampled_from(
    ["res16", "BICUBIC", "nope", "runs/x", "m.keras", "m.onnx", ".", "~", "a.b"])))
def test_model_spec_random_text(tmp_path, spec):
    import os

    from vsr_latent.serving.loading import load_predictor

    assume("\x00" not in spec)
    cwd = os.getcwd()
    os.chdir(fresh_dir(tmp_path))
    try:
        got = outcome(load_predictor, spec, seq_len=2)
    finally:
        os.chdir(cwd)
    if not isinstance(got, VsrError):
        assert got.scale == 4


@FEW
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".keras", ".onnx"]))
def test_model_file_random_bytes(tmp_path, data, suffix):
    from vsr_latent.serving.loading import load_predictor

    path = fresh_dir(tmp_path) / f"model{suffix}"
    path.write_bytes(data)
    assert isinstance(outcome(load_predictor, path), VsrError)


@FEW
@given(data=st.binary(max_size=200))
def test_saved_model_folder_random_bytes(tmp_path, data):
    from vsr_latent.serving.loading import load_predictor

    folder = fresh_dir(tmp_path)
    (folder / "saved_model.pb").write_bytes(data)
    assert isinstance(outcome(load_predictor, folder), VsrError)


@FAST
@given(overrides=st.dictionaries(
    st.sampled_from(["filters", "num_layers", "seq_len", "scale", "blocks", "leaky_slope",
                     "max_attention_elements", "variational", "nope"]),
    JSON_VALUES, max_size=3))
def test_model_overrides_random_values(overrides):
    """``model_overrides`` (from --set or a config.json) reach the model's typed config."""
    from vsr_latent.architecture import VSRNetConfig

    got = outcome(VSRNetConfig().replace, **overrides)
    if not isinstance(got, VsrError):
        assert got.filters >= 1 and got.num_layers >= len(got.blocks)
