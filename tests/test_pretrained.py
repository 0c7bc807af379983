"""The shipped pretrained model ``ours_cpu``: installed with the package, loadable by name by every
command that takes a model, the default of ``vsr-latent upscale``, better than bicubic on Vid4."""

import json

import numpy as np
import pytest

from vsr_latent.pretrained import DEFAULT_UPSCALE_MODEL, PRETRAINED, pretrained_path


@pytest.fixture(scope="module")
def walk_cut(shared_data):
    """The first 7 frames of Vid4 walk, a 240x240 HR centre crop, and their BI x4 LR frames."""
    from vsr_latent.data.degrade import degrade
    from vsr_latent.data.vid4 import read_frame_folder

    gt_dir = shared_data / "Vid4" / "GT" / "walk"
    if not gt_dir.is_dir():
        pytest.skip(f"{gt_dir} is absent")
    gt = read_frame_folder(gt_dir)[:7]
    top, left = (gt.shape[1] - 240) // 2 // 4 * 4, (gt.shape[2] - 240) // 2 // 4 * 4
    gt = gt[:, top:top + 240, left:left + 240]
    lr = np.clip(np.round(degrade(gt, "bi", 4)), 0, 255).astype(np.float32)
    return lr, gt


def test_ours_cpu_is_package_data_of_the_installed_package():
    import importlib.resources

    entry = PRETRAINED["ours_cpu"]
    files = importlib.resources.files("vsr_latent.pretrained")
    assert files.joinpath(entry.file).is_file() and files.joinpath(entry.card).is_file()
    assert pretrained_path("ours_cpu") == entry.path
    assert entry.path.stat().st_size < 20 * 2**20  # the limit
    card = entry.card_path.read_text()
    assert "CPU SCALE" in card and "bicubic" in card and "Known limits" in card


def test_ours_cpu_is_the_full_size_ours_with_trained_weights():
    from vsr_latent.models import build_model, count_params
    from vsr_latent.serving.loading import load_model

    model = load_model("ours_cpu")
    assert count_params(model) == count_params(build_model("ours")) == 4_120_212
    assert model.seq_len == 7 and model.variational
    # Trained: the upscaler's last convolution is far from its near-zero initial scale.
    assert float(np.abs(model.upscaler.get_weights()[0]).max()) > 1e-3


def test_ours_cpu_beats_bicubic_on_a_cut_of_vid4(walk_cut):
    from vsr_latent.metrics import psnr
    from vsr_latent.serving.loading import load_predictor
    from vsr_latent.serving.predictors import upscale_sequence

    lr, gt = walk_cut
    scores = {}
    for spec in ("bicubic", "ours_cpu"):
        sr = upscale_sequence(load_predictor(spec, seq_len=7, precision="float32"), lr)
        sr = np.clip(np.rint(sr), 0, 255)
        scores[spec] = np.mean([psnr(s, g, y_channel=True) for s, g in zip(sr, gt)])
    assert scores["ours_cpu"] > scores["bicubic"] + 0.5, scores


def test_bfloat16_inference_stays_close_to_float32(walk_cut):
    from vsr_latent.serving.loading import load_predictor

    lr, _ = walk_cut
    f32 = load_predictor("ours_cpu", precision="float32")(lr)
    bf16 = load_predictor("ours_cpu", precision="mixed_bfloat16")(lr)
    assert bf16.dtype == np.float32
    assert np.abs(bf16 - f32).mean() < 1.0  # levels of 255
    assert not np.array_equal(bf16, f32)  # it really ran in bfloat16


def test_auto_precision(monkeypatch):
    from vsr_latent import precision

    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    assert precision.resolve_precision("auto") == "float32"
    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    import tensorflow as tf

    want = "float32" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    assert precision.resolve_precision("auto") == want
    assert precision.resolve_precision("float32") == "float32"


@pytest.mark.slow  # about 25 s: ours_cpu on a whole real clip
def test_upscale_uses_ours_cpu_without_model(carphone, tmp_path, capsys):
    from vsr_latent.cli import build_parser, main
    from vsr_latent.data.video_io import read_frames
    from vsr_latent.serving.loading import load_predictor
    from vsr_latent.serving.predictors import upscale_sequence

    args = build_parser().parse_args(["upscale", "in.mp4", "out.mp4"])
    assert args.model == DEFAULT_UPSCALE_MODEL == "ours_cpu"
    out = tmp_path / "frames"
    assert main(["upscale", str(carphone), str(out), "--max_frames", "3", "--precision",
                 "float32", "--no_progress"]) == 0
    got = read_frames(out)
    lr = read_frames(carphone)[:3].astype(np.float32)
    want = upscale_sequence(load_predictor("ours_cpu", precision="float32"), lr)
    assert got.shape == (3, 576, 704, 3)
    assert np.abs(got.astype(np.float32) - np.clip(np.rint(want), 0, 255)).max() <= 1


def test_every_model_command_takes_the_pretrained_name(capsys):
    import keras

    from vsr_latent.cli import main
    from vsr_latent.serving.loading import load_model, load_predictor

    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ours_cpu"]["weights"] == "pretrained" and rows["ours"]["weights"] == "fresh"
    assert rows["ours_cpu"]["params"] == rows["ours"]["params"]
    # export (load_model) and upscale/evaluate (load_predictor) resolve the name to the shipped
    # weights, as Keras itself reads them from the file.
    shipped = keras.saving.load_model(str(pretrained_path("ours_cpu")), compile=False)
    for model in (load_model("ours_cpu"), load_predictor("ours_cpu", precision="float32").model):
        for a, b in zip(model.get_weights(), shipped.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
