"""Tests of ``vsr_latent.serving.video`` and ``vsr-latent upscale``: streaming windows, spatial tiling,
uncertainty maps, atomic output and error messages, on the real carphone clip where it matters."""

import itertools
import math
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vsr_latent.data.video_io import to_uint8
from vsr_latent.errors import ConfigError, InputError
from vsr_latent.serving import video as up
from vsr_latent.serving.loading import load_predictor
from vsr_latent.serving.predictors import (
    BicubicPredictor,
    bicubic_upscale,
    upscale_sequence,
)
from vsr_latent.serving.video import UpscaleOptions

REPO_ROOT = Path(__file__).resolve().parent.parent


def psnr(a, b, peak=255.0):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


class Recording:
    """Wraps a real predictor and records the shape of every clip it is given."""

    def __init__(self, inner):
        self.inner = inner
        self.seq_len, self.scale, self.variational = inner.seq_len, inner.scale, inner.variational
        self.shapes = []

    def __call__(self, frames, **kw):
        self.shapes.append(np.asarray(frames).shape)
        return self.inner(frames, **kw)


def smooth_frames(t, h, w, seed=0):
    """Frames with structure at every scale (a smooth field plus noise), uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(t):
        base = 128 + 80 * np.sin(xx / 7.0 + i * 0.3)[..., None] * np.cos(yy / 5.0 - i * 0.2)[..., None]
        frames.append(base + rng.normal(0, 20, (h, w, 3)))
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------
# Tiling geometry


@pytest.mark.parametrize("length", [1, 7, 64, 65, 100, 144, 192, 250, 481, 1080])
@pytest.mark.parametrize("tile,overlap", [(64, 16), (32, 8), (128, 16), (24, 0)])
def test_tile_spans_cover_align_and_overlap(length, tile, overlap):
    spans = up.tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    if length <= tile:
        assert spans == [(0, length)]
        return
    for (a0, a1), (b0, b1) in itertools.pairwise(spans):
        assert b0 % up.TILE_ALIGN == 0 and b0 > a0
        assert a1 - b0 >= overlap  # neighbours overlap by at least the requested amount
        assert b1 > a1  # every tile adds new pixels
    for s0, s1 in spans:
        assert tile <= s1 - s0 <= tile + up.TILE_ALIGN - 1


def test_tile_spans_hand_computed():
    # 192 wide, tile 64, overlap 16: stride 48 -> 0, 48, 96, then the aligned last start 128.
    assert up.tile_spans(192, 64, 16) == [(0, 64), (48, 112), (96, 160), (128, 192)]
    # 144 high: 0, 48, then 80 (= 144 - 64).
    assert up.tile_spans(144, 64, 16) == [(0, 64), (48, 112), (80, 144)]
    # 70 long: the aligned last start 0 is the first tile itself, which grows to 70.
    assert up.tile_spans(70, 64, 16) == [(0, 70)]
    with pytest.raises(ConfigError, match="overlap"):
        up.tile_spans(100, 20, 16)


def test_axis_weights_ramp_and_partition_of_unity():
    s = 4
    w = up.axis_weights(48, 112, 192, 16, s)  # an inner tile: ramps on both sides
    r = 16 * s
    np.testing.assert_allclose(w[:r], (np.arange(r) + 0.5) / r)
    np.testing.assert_allclose(w[-r:], ((np.arange(r) + 0.5) / r)[::-1])
    assert np.all(w[r:-r] == 1)
    first = up.axis_weights(0, 64, 192, 16, s)  # image border: no ramp on the left
    assert first[0] == 1 and first[-1] == pytest.approx(0.5 / r)
    # Two tiles overlapping by exactly the ramp: the weights sum to 1 across the overlap.
    second = up.axis_weights(48, 112, 192, 16, s)
    np.testing.assert_allclose(first[48 * s:] + second[: 16 * s], 1.0, atol=1e-6)


@pytest.mark.parametrize("h,w,tile,overlap", [(144, 176, 48, 16), (272, 640, 128, 16),
                                               (100, 37, 32, 8), (65, 65, 24, 0)])
def test_tile_plan_weights_sum_to_one(h, w, tile, overlap):
    """The blend is a convex combination everywhere: a constant frame stays exactly constant,
    so no brightness seam can appear at a join."""
    s = 4
    total = np.zeros((h * s, w * s, 3), np.float64)
    for (y0, y1, x0, x1), weight in up.tile_plan(h, w, tile, overlap, s):
        assert weight.shape == ((y1 - y0) * s, (x1 - x0) * s, 3) and weight.min() > 0
        total[y0 * s:y1 * s, x0 * s:x1 * s] += weight
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_upscale_module_does_not_import_tensorflow():
    # The onnxruntime backend upscales videos without TensorFlow.
    code = ("import sys, vsr_latent.serving.video, vsr_latent.data.video_io; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=False).returncode == 0


def test_resolve_tile_budget():
    h = w = math.isqrt(up.TILE_PIXEL_BUDGET)
    assert up.resolve_tile((h, w), None) is None
    assert up.resolve_tile((h, w + 1), None) == up.DEFAULT_TILE
    assert up.resolve_tile((1080, 1920), 0) is None
    assert up.resolve_tile((50, 60), 64) is None  # the frame fits in one tile
    assert up.resolve_tile((50, 70), 64) == 64
    with pytest.raises(ConfigError):
        up.check_tiling(16, 16)
    with pytest.raises(ConfigError):
        up.check_tiling(64, -1)
    # The options object runs the check when made, once.
    with pytest.raises(ConfigError, match="^tile side 16 must exceed overlap 16 by at least 8"):
        UpscaleOptions(tile=16, overlap=16)


# ------------------------------------------------------------------------------------------
# Tiled vs untiled


def exact_region_mask(h, w, tile, overlap, scale, margin):
    """HR pixels every covering tile sees with more than ``margin`` LR pixels of context on each
    side that is not the frame border: there a model with that receptive field radius gives the
    same output tiled and untiled."""
    def axis(length):
        spans = up.tile_spans(length, tile, overlap)
        covered = np.zeros(length * scale, int)
        trusted = np.zeros(length * scale, int)
        for s0, s1 in spans:
            covered[s0 * scale:s1 * scale] += 1
            lo = s0 + (margin if s0 > 0 else 0)
            hi = s1 - (margin if s1 < length else 0)
            if hi > lo:
                trusted[lo * scale:hi * scale] += 1
        return covered == trusted
    return np.outer(axis(h), axis(w))


def test_tiled_bicubic_matches_untiled():
    frames = smooth_frames(7, 72, 96).astype(np.float32)
    pred = BicubicPredictor(seq_len=7)
    whole = up.predict_window(pred, frames, tile=None)
    np.testing.assert_array_equal(whole, bicubic_upscale(frames))
    tiled = up.predict_window(pred, frames, tile=32, overlap=8)
    # Keys' cubic kernel reaches 2 LR pixels: with 3 pixels of context the crops are exact.
    mask = exact_region_mask(72, 96, 32, 8, 4, margin=3)
    assert 0.3 < mask.mean() < 1.0
    np.testing.assert_allclose(tiled[:, mask], whole[:, mask], atol=1e-3)
    # Near the joins the tiles' own border handling blends in with small weights.
    # Measured: max 0.86 levels, 73 dB.
    assert np.abs(tiled - whole).max() < 2.0
    assert psnr(tiled, whole) > 65.0


def test_streaming_calls_windows_of_L_and_matches_upscale_sequence():
    frames = smooth_frames(17, 12, 16)
    pred = Recording(BicubicPredictor(seq_len=7))
    out = np.stack(list(up.upscale_frames(iter(frames), pred)))
    assert pred.shapes == [(7, 12, 16, 3)] * math.ceil(17 / 7)
    np.testing.assert_array_equal(out, upscale_sequence(BicubicPredictor(seq_len=7), frames))
    # max_frames stops early, with a partial last window.
    pred.shapes.clear()
    out = list(up.upscale_frames(iter(frames), pred, UpscaleOptions(max_frames=9)))
    assert len(out) == 9 and pred.shapes == [(7, 12, 16, 3)] * 2


def test_streaming_reads_one_window_ahead_only():
    """Memory stays bounded: the first output comes after L frames are read, not the video."""
    pulled = []

    def source():
        for i, f in enumerate(smooth_frames(20, 8, 8)):
            pulled.append(i)
            yield f

    gen = up.upscale_frames(source(), BicubicPredictor(seq_len=7))
    outputs = [next(gen)]
    assert len(pulled) == 7
    outputs += [next(gen) for _ in range(6)]
    assert len(pulled) == 7
    outputs.append(next(gen))
    assert len(pulled) == 14
    outputs += list(gen)
    assert len(outputs) == len(pulled) == 20


def test_streaming_rejects_changing_frame_size():
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3 + [np.zeros((8, 9, 3), np.uint8)]
    with pytest.raises(InputError, match="frame 3"):
        list(up.upscale_frames(iter(frames), BicubicPredictor(seq_len=2)))


# ------------------------------------------------------------------------------------------
# Heat map


def test_uncertainty_heatmap_fixed_scale():
    import matplotlib

    cmap = matplotlib.colormaps[up.UNCERTAINTY_COLORMAP]
    lut = np.clip(np.rint(cmap(np.linspace(0, 1, 256))[:, :3] * 255), 0, 255).astype(np.uint8)
    m = up.UNCERTAINTY_MAX_STD
    std = np.array([[0.0, m / 2, m, 10 * m]], np.float32)
    heat = up.uncertainty_heatmap(np.repeat(std[..., None], 3, axis=-1))
    assert heat.dtype == np.uint8 and heat.shape == (1, 4, 3)
    np.testing.assert_array_equal(heat[0], lut[[0, 128, 255, 255]])
    # The channel mean is what is shown.
    rgb = np.zeros((1, 1, 3), np.float32)
    rgb[..., 0] = 3 * m / 2
    np.testing.assert_array_equal(up.uncertainty_heatmap(rgb)[0, 0], lut[128])


# ------------------------------------------------------------------------------------------
# End to end through the real command line, real decoder and encoder


def run_cli(*argv):
    from vsr_latent.cli import main

    return main(["upscale", *map(str, argv)])


def test_cli_bicubic_full_carphone_video(carphone, tmp_path, capsys):
    from vsr_latent.data.video_io import open_frames, read_frames

    out = tmp_path / "carphone_x4.mp4"
    assert run_cli(carphone, out, "--model", "bicubic") == 0
    captured = capsys.readouterr()
    # tqdm: count of the known total, elapsed<remaining time, rate.
    assert "120/120" in captured.err and "frame/s" in captured.err
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", captured.err)
    # The clip is QCIF, 176x144 (the data README says 192x144).
    assert "120 frames 176x144 -> 704x576" in captured.out
    with open_frames(carphone) as src, open_frames(out) as dst:
        assert dst.num_frames == src.num_frames == 120
        assert src.size == (144, 176) and dst.size == (576, 704)
        assert dst.fps == pytest.approx(src.fps)
        # The real clip's exact NTSC rate and non-square pixels are carried; untagged SD, it is
        # read and tagged as BT.601 (what players assume for it).
        assert src.rate == dst.rate == Fraction(30000, 1001)
        assert src.info.sar == dst.info.sar == Fraction(128, 117)
        assert not src.info.colour.tagged and dst.info.colour.tagged
        assert dst.info.colour.matrix == "smpte170m" and dst.info.colour.range == "tv"
    assert "at 29.97 (30000/1001) fps" in captured.out
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left behind
    # The content is the bicubic upscale of the decoded input, up to H.264 (CRF 18) loss.
    lr = read_frames(carphone)[[0, 60, 119]].astype(np.float32)
    sr = read_frames(out)[[0, 60, 119]]
    ref = to_uint8(bicubic_upscale(lr))
    assert psnr(sr, ref) > 38.0


def test_cli_frame_folder_output_is_exact_and_fps_option(carphone, tmp_path):
    from vsr_latent.data.video_io import open_frames, read_frames

    out = tmp_path / "frames"
    assert run_cli(carphone, out, "--model", "bicubic", "--max_frames", 9, "--no_progress") == 0
    sr = read_frames(out)
    assert sr.shape == (9, 576, 704, 3)
    lr = read_frames(carphone)[:9].astype(np.float32)
    # PNG is lossless: exactly the rounded, clipped bicubic output.
    np.testing.assert_array_equal(sr, to_uint8(bicubic_upscale(lr)))
    video = tmp_path / "slow.mp4"
    assert run_cli(carphone, video, "--model", "bicubic", "--fps", 12.5, "--no_progress",
                   "--max_frames", 3) == 0
    with open_frames(video) as src:
        assert src.fps == pytest.approx(12.5) and src.num_frames == 3


def write_folder(path, frames):
    from vsr_latent.data.video_io import FrameWriter

    with FrameWriter(path) as w:
        for f in frames:
            w.write(f)
    return path


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--model", "no_such_model"], "unknown model 'no_such_model'"),
        (["--model", "missing/run_dir"], "no such file or folder"),
        (["--model", "bicubic", "--samples", "3"], "needs a variational model"),
        (["--model", "bicubic", "--uncertainty", "{tmp}/heat"], "--uncertainty needs --samples"),
        (["--model", "bicubic", "--samples", "0"], "--samples must be >= 1"),
        (["--model", "bicubic", "--tile", "16", "--tile_overlap", "16"], "must exceed --tile_overlap"),
        (["--model", "bicubic", "--fps", "0"], "--fps must be > 0"),
        (["--model", "bicubic", "--fps", "abc"], "--fps must be a number or a ratio"),
        (["--model", "bicubic", "--crf", "60"], "--crf must be from 0 to 51"),
        (["--model", "bicubic", "--codec", "ffv1", "--crf", "10"],
         "--crf does not apply to --codec ffv1"),
        (["--model", "bicubic", "--samples", "2", "--uncertainty", "{tmp}/out.mp4"],
         "--uncertainty must differ from OUT"),
        (["--model", "bicubic", "--uncertainty_scale", "0", "--samples", "2", "--uncertainty",
          "{tmp}/h"], "--uncertainty_scale must be > 0"),
    ],
)
def test_cli_option_errors_are_one_line(tmp_path, capsys, extra, message):
    src = write_folder(tmp_path / "in", smooth_frames(2, 8, 8))
    out = tmp_path / "out.mp4"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert run_cli(src, out, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("vsr-latent upscale: error")
    assert not out.exists()


def test_library_checks_options_then_paths_before_loading_a_model(tmp_path):
    src = write_folder(tmp_path / "in", smooth_frames(2, 8, 8))
    # The library names its fields; only the command line names flags (see the test above).
    with pytest.raises(ConfigError, match="^uncertainty_path needs samples K with K >= 2"):
        UpscaleOptions(uncertainty_path=tmp_path / "heat")
    with pytest.raises(ConfigError, match="^max_frames must be >= 1"):
        UpscaleOptions(max_frames=0)
    with pytest.raises(ConfigError, match="^uncertainty_max_std must be > 0, got 0"):
        UpscaleOptions(samples=2, uncertainty_max_std=0)
    # A model spec that cannot load: the path problems are found first.
    same = UpscaleOptions(samples=2, uncertainty_path=tmp_path / "out.mp4")
    with pytest.raises(InputError, match=": uncertainty_path must differ from out_path$"):
        up.upscale_video(src, tmp_path / "out.mp4", "no_such_model", same)
    with pytest.raises(InputError, match="input does not exist"):
        up.upscale_video(tmp_path / "nope", tmp_path / "out.mp4", "no_such_model")
    with pytest.raises(ConfigError, match="unknown model 'no_such_model'"):
        up.upscale_video(src, tmp_path / "out.mp4", "no_such_model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_cli_path_errors_are_one_line(tmp_path, capsys):
    src = write_folder(tmp_path / "in", smooth_frames(2, 8, 8))

    def error(*argv):
        assert run_cli(*argv, "--model", "bicubic") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        return err

    assert "input does not exist" in error(tmp_path / "nope.mp4", tmp_path / "out.mp4")
    # Output equal to the input (the same folder, spelled differently).
    assert "is the input itself" in error(src, tmp_path / "x" / ".." / "in")
    assert len(list(src.iterdir())) == 2
    # The output's folder cannot be created: a file is in the way.
    (tmp_path / "afile").write_text("x")
    assert "is not a folder" in error(src, tmp_path / "afile" / "out.mp4")
    # Names that would give a surprising output (a folder called out.webm).
    assert "cannot write a .webm output" in error(src, tmp_path / "out.webm")
    # A video name that is an existing folder.
    (tmp_path / "dir.mp4").mkdir()
    assert "exists as a folder" in error(src, tmp_path / "dir.mp4")
    # An empty input folder is reported by the reader, naming the folder.
    (tmp_path / "empty").mkdir()
    assert "empty" in error(tmp_path / "empty", tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_cli_unwritable_output_folder(tmp_path, capsys):
    src = write_folder(tmp_path / "in", smooth_frames(2, 8, 8))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert run_cli(src, locked / "out.mp4", "--model", "bicubic") == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_unwritable_output_folder_check(tmp_path, monkeypatch):
    # Root passes os.access for every folder, so the check is exercised with a refusing os.access.
    real = os.access
    monkeypatch.setattr(up.os, "access",
                        lambda p, mode: False if Path(p) == tmp_path / "locked" else real(p, mode))
    (tmp_path / "locked").mkdir()
    with pytest.raises(InputError, match="not writable"):
        up.check_output_path(tmp_path / "locked" / "sub" / "out.mp4", tmp_path / "in.mp4")


def test_kill_mid_write_leaves_no_output(carphone, tmp_path):
    """SIGKILL a real ``vsr-latent upscale`` once its first window is encoded: no OUT.mp4."""
    out = tmp_path / "OUT.mp4"
    # Tiles of 16 LR pixels make the bicubic run slow enough (a few seconds) to be caught midway.
    cmd = [sys.executable, "-m", "vsr_latent", "upscale", str(carphone), str(out),
           "--model", "bicubic", "--tile", "16", "--tile_overlap", "0", "--seq_len", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=REPO_ROOT, env={**os.environ, "TQDM_MININTERVAL": "0"})
    done, buf = 0, b""
    deadline = time.monotonic() + 120
    try:
        os.set_blocking(proc.stderr.fileno(), False)
        while time.monotonic() < deadline and proc.poll() is None:
            chunk = proc.stderr.read() or b""
            buf += chunk
            counts = [int(m) for m in re.findall(rb"\| *(\d+)/120", buf)]
            done = max(counts, default=0)
            if done >= 4:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"finished before it could be killed: {buf[-300:]!r}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert 4 <= done < 120, done
    assert not out.exists()
    # Only the hidden, partial file is left, under a name no reader takes for the output.
    leftovers = list(tmp_path.iterdir())
    assert all(p.name.startswith(".OUT.mp4.") and ".part" in p.name for p in leftovers)


# ------------------------------------------------------------------------------------------
# Real (tiny, fresh) models


def tiny_model(name, seed=0, **overrides):
    from vsr_latent.models import build_model

    defaults = {"res16": {"filters": 4, "num_layers": 4},
                "vlatn10": {"filters": 4, "num_layers": 5},
                "vsatn10": {"filters": 4, "num_layers": 5}}[name]
    import keras

    keras.utils.set_random_seed(seed)  # fresh weights, but the same ones in every run
    # Glorot upscaler init: fresh weights whose every path shows clearly in the output.
    return build_model(name, **{"seq_len": 4, "upscaler_init_scale": 1.0, **defaults, **overrides})


def receptive_radius(predictor, h=40, w=40):
    """LR pixels from an input pixel to the farthest output pixel it changes (measured)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (predictor.seq_len, h, w, 3)).astype(np.float32)
    y = x.copy()
    y[:, h // 2, w // 2] += 50.0
    diff = np.abs(predictor(x) - predictor(y)).max(axis=(0, 3)) > 1e-3
    rows, cols = np.nonzero(diff)
    s = predictor.scale
    return int(max(h // 2 - rows.min() // s, rows.max() // s - h // 2,
                   w // 2 - cols.min() // s, cols.max() // s - w // 2))


def test_tiled_tiny_res16_matches_untiled_in_tile_interiors(carphone):
    from vsr_latent.data.video_io import read_frames
    from vsr_latent.serving.predictors import KerasPredictor

    pred = KerasPredictor(tiny_model("res16"), name="res16")
    radius = receptive_radius(pred)
    assert radius == 6  # stem + 4 residual layers + upscaler: six k3 convolutions
    lr = read_frames(carphone)[:4].astype(np.float32)  # 144 x 176
    whole = up.predict_window(pred, lr)
    tiled = up.predict_window(pred, lr, tile=48, overlap=16)
    mask = exact_region_mask(144, 176, 48, 16, 4, margin=radius + 1)
    assert 0.2 < mask.mean() < 1.0
    # Tile interiors: the same computation up to float round-off (different conv blockings).
    # Measured: max 1.5e-5 levels.
    np.testing.assert_allclose(tiled[:, mask], whole[:, mask], atol=1e-3)
    # Near the joins the tiles lack context, but the feathered blend keeps the error small even
    # for this random model, whose output spans [-150, 450] (measured: 54.7 dB).
    assert psnr(tiled, whole) > 45.0


def test_cli_tiny_keras_model_on_carphone(carphone, tmp_path):
    from vsr_latent.data.video_io import FrameWriter, open_frames, read_frames

    model_path = tmp_path / "tiny.keras"
    tiny_model("res16").save(model_path)
    pred = load_predictor(model_path)
    lr = read_frames(carphone)[:14]
    # Untiled, to lossless PNG: exactly upscale_sequence over the 14 frames (windows 4+4+4+2).
    folder = tmp_path / "untiled"
    assert run_cli(carphone, folder, "--model", model_path, "--precision", "float32",
                   "--max_frames", 14, "--no_progress") == 0
    got = read_frames(folder)
    assert got.shape == (14, 576, 704, 3)
    assert np.abs(got.astype(int) - to_uint8(upscale_sequence(pred, lr))).max() <= 1
    # Tiled, to H.264: frame count, size and frame rate kept; the content is what the library
    # computes window by window, up to the encoder (compared with encoding those frames directly).
    out = tmp_path / "tiled.mp4"
    assert run_cli(carphone, out, "--model", model_path, "--precision", "float32", "--max_frames", 6, "--tile", 48,
                   "--tile_overlap", 16, "--no_progress") == 0
    with open_frames(carphone) as src, open_frames(out) as dst:
        assert dst.num_frames == 6 and dst.size == (576, 704)
        assert dst.fps == pytest.approx(src.fps)
        fps = src.fps
    frames = up.upscale_frames(lr[:6], pred, UpscaleOptions(tile=48, overlap=16))
    want = to_uint8(np.stack(list(frames)))
    direct = tmp_path / "direct.mp4"
    with FrameWriter(direct, fps=fps) as w:
        for f in want:
            w.write(f)
    got, ref = read_frames(out), read_frames(direct)
    assert psnr(got, want) == pytest.approx(psnr(ref, want), abs=0.5)
    assert psnr(got, ref) > 40.0


def set_sigma_bias(model, value):
    heads = [w for w in model.weights if w.path.endswith("sigma/bias")]
    assert heads, "no variance heads found"
    for w in heads:
        w.assign(np.full(w.shape, value, np.float32))


def test_uncertainty_samples_mean_and_std(carphone):
    from vsr_latent.data.video_io import read_frames
    from vsr_latent.serving.predictors import KerasPredictor

    model = tiny_model("vlatn10")
    pred = KerasPredictor(model, name="vlatn10")
    assert pred.variational
    lr = read_frames(carphone)[:6, 40:72, 48:96]  # 6 frames: a full window and a padded one
    det = np.stack(list(up.upscale_frames(lr, pred)))
    pairs = list(up.upscale_frames(lr, pred, UpscaleOptions(samples=6)))
    mean = np.stack([m for m, _ in pairs])
    std = np.stack([s for _, s in pairs])
    assert mean.shape == std.shape == (6, 128, 192, 3)
    assert std.min() >= 0 and std.mean() > 0.1
    # Fresh variance heads sample a small spread (softplus(-4); measured std 1.9 levels on
    # average); the mean of 6 draws stays close to the deterministic path (measured: 48.1 dB,
    # mean |difference| 0.78 levels).
    assert psnr(mean, det) > 40.0
    assert np.abs(mean - det).mean() < std.mean()
    # Wider variance heads: a larger spread.
    set_sigma_bias(model, 0.0)
    wide = np.stack([s for _, s in up.upscale_frames(lr, pred, UpscaleOptions(samples=3))])
    assert wide.mean() > 3 * std.mean()
    # sigma = softplus(-1e4) = 0: every draw is the mean path, the spread is exactly zero.
    set_sigma_bias(model, -1e4)
    pairs = list(up.upscale_frames(lr, pred, UpscaleOptions(samples=2)))
    assert all(np.all(s == 0) for _, s in pairs)
    np.testing.assert_allclose(np.stack([m for m, _ in pairs]), det, atol=1e-3)
    # Tiled sampling blends the tiles' means and stds with the same weights.
    set_sigma_bias(model, -4.0)
    x = lr[:4].astype(np.float32)
    mean_t, std_t = up.predict_window(pred, x, tile=24, overlap=8, samples=3)
    assert mean_t.shape == std_t.shape == (4, 128, 192, 3)
    assert std_t.min() >= 0 and std_t.mean() > 0.1
    assert psnr(mean_t, up.predict_window(pred, x, tile=24, overlap=8)) > 40.0
    set_sigma_bias(model, -1e4)
    assert np.all(up.predict_window(pred, x, tile=24, overlap=8, samples=2)[1] == 0)
    lut0 = up.uncertainty_heatmap(np.zeros((1, 1)))[0, 0]
    assert np.all(up.uncertainty_heatmap(pairs[0][1]) == lut0)


def test_cli_uncertainty_heat_map(carphone, tmp_path):
    from vsr_latent.data.video_io import open_frames, read_frames

    model_path = tmp_path / "vlatn.keras"
    tiny_model("vlatn10").save(model_path)
    src = write_folder(tmp_path / "in", read_frames(carphone)[:6, 40:72, 48:96])
    out, heat = tmp_path / "mean.mp4", tmp_path / "heat"
    assert run_cli(src, out, "--model", model_path, "--precision", "float32", "--samples", 4, "--uncertainty", heat,
                   "--no_progress") == 0
    with open_frames(out) as o:
        assert o.num_frames == 6 and o.size == (128, 192) and o.fps == pytest.approx(25.0)
    maps = read_frames(heat)
    assert maps.shape == (6, 128, 192, 3)
    # Every pixel is a colour of the colormap, and not all the same one.
    import matplotlib

    cmap = matplotlib.colormaps[up.UNCERTAINTY_COLORMAP]
    lut = to_uint8(cmap(np.linspace(0, 1, 256))[:, :3] * 255.0)
    colours = {tuple(c) for c in lut}
    assert {tuple(c) for c in maps.reshape(-1, 3)[::97]} <= colours
    assert len(np.unique(maps.reshape(-1, 3), axis=0)) > 5
    # From a video (NTSC rate, SAR 128:117, BT.709 tags, AAC) into lossless FFV1: the heat map
    # video follows the output's rules (codec, pixel format, rate, aspect, colour), without audio.
    import imageio_ffmpeg

    video = tmp_path / "in.mp4"
    frames = read_frames(carphone)[:6, 40:72, 48:96]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt",
                    "rgb24", "-s", "48x32", "-framerate", "30000/1001", "-i", "-", "-f", "lavfi",
                    "-i", "sine=duration=0.2", "-vf", "setsar=r=128/117:max=1000,scale="
                    "out_color_matrix=bt709,setparams=colorspace=bt709:color_primaries=bt709:"
                    "color_trc=bt709", "-c:v", "libx264", "-c:a", "aac", str(video)],
                   input=frames.tobytes(), check=True)
    out, heat = tmp_path / "mean.mkv", tmp_path / "heat.mkv"
    assert run_cli(video, out, "--model", model_path, "--precision", "float32", "--samples", 2,
                   "--uncertainty", heat, "--codec", "ffv1", "--pix_fmt", "yuv444p",
                   "--no_progress") == 0
    for path, audio in ((out, True), (heat, False)):
        text = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                              capture_output=True, text=True).stderr
        assert "Video: ffv1" in text and "yuv444p(tv, bt709" in text and "SAR 128:117" in text
        assert "29.97 fps" in text and ("Audio: aac" in text) == audio
    # A non-variational model refuses samples before any output is made.
    res = tmp_path / "res.keras"
    tiny_model("res16").save(res)
    assert run_cli(src, tmp_path / "x.mp4", "--model", res, "--samples", 2) == 2
    assert not (tmp_path / "x.mp4").exists()
