"""Evaluation protocols, folder and model scoring, and the ``vsr-latent evaluate`` command."""

import csv
import json
import shutil

import imageio.v3 as iio
import numpy as np
import pytest

from tests.eval_standin import StandInVSR
from vsr_latent import cli
from vsr_latent.data.video_io import to_uint8
from vsr_latent.errors import ConfigError, InputError
from vsr_latent.evaluation import (
    METRICS,
    PROTOCOLS,
    evaluate_folders,
    evaluate_predictor,
    evaluate_sequences,
    get_protocol,
)
from vsr_latent.metrics import psnr, ssim
from vsr_latent.serving.predictors import KerasPredictor, bicubic_upscale, upscale_sequence

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
Y_GAIN = (65.481 + 128.553 + 24.966) / 255  # a uniform RGB offset d is a Y offset Y_GAIN * d


def _write_frames(folder, frames):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        iio.imwrite(folder / f"{i:08d}.png", np.asarray(f, np.uint8))
    return folder


def _run_cli(capsys, *argv):
    code = cli.main(["evaluate", "--no_progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- protocols on a synthetic sequence with known answers --------------------------------------


def _synthetic():
    """GT all zero (28x28); SR frame i is d_i inside the 8-pixel border and 200 on it."""
    d = np.array([90.0, 4.0, 10.0, 120.0, 150.0])
    sr = np.full((5, 28, 28, 3), 200.0)
    sr[:, 8:-8, 8:-8] = d[:, None, None, None]
    return d, sr, np.zeros((5, 28, 28, 3), np.uint8)


def test_paper_protocol_drops_first_and_last_two_and_crops_8():
    d, sr, gt = _synthetic()
    result = evaluate_sequences([("syn", sr, gt)], "paper")
    seq = result.sequences["syn"]
    assert seq.frames == [1, 2]  # 5 frames: the first and the last two are dropped
    kept = d[1:3]
    np.testing.assert_allclose(seq.scores["psnr_rgb"], 10 * np.log10(255**2 / kept**2), atol=1e-9)
    np.testing.assert_allclose(seq.scores["psnr_y"],
                               10 * np.log10(255**2 / (Y_GAIN * kept) ** 2), atol=1e-9)
    # Uniform frames: SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1) (variances are zero).
    np.testing.assert_allclose(seq.scores["ssim_rgb"], C1 / (kept**2 + C1), atol=1e-12)
    ya, yb = 16 + Y_GAIN * kept, 16.0
    np.testing.assert_allclose(seq.scores["ssim_y"], (2 * ya * yb + C1) / (ya**2 + yb**2 + C1),
                               atol=1e-12)
    mean = seq.mean()
    assert mean["psnr_rgb"] == pytest.approx(np.mean(10 * np.log10(255**2 / kept**2)))
    assert result.average() == pytest.approx(mean)


def test_standard_protocol_keeps_every_frame_uncropped():
    d, sr, gt = _synthetic()
    seq = evaluate_sequences([("syn", sr, gt)], "standard").sequences["syn"]
    assert seq.frames == [0, 1, 2, 3, 4]
    inner, total = 12 * 12, 28 * 28
    mse = ((total - inner) * 200.0**2 + inner * d**2) / total
    np.testing.assert_allclose(seq.scores["psnr_rgb"], 10 * np.log10(255**2 / mse), atol=1e-9)
    assert PROTOCOLS["standard"].primary_channel == "y"
    assert (PROTOCOLS["paper"].drop_first, PROTOCOLS["paper"].drop_last,
            PROTOCOLS["paper"].crop_border) == (1, 2, 8)


def test_average_is_over_sequences_and_sr_is_quantised():
    rng = np.random.default_rng(0)
    gt_a = rng.integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    gt_b = rng.integers(0, 256, (5, 16, 16, 3)).astype(np.uint8)
    sr_a = gt_a + rng.normal(0, 20, gt_a.shape)  # float, overshoots [0, 255]
    sr_b = gt_b + rng.normal(0, 5, gt_b.shape)
    result = evaluate_sequences([("a", sr_a, gt_a), ("b", sr_b, gt_b)], "standard")
    q = to_uint8(sr_a)
    assert q.min() == 0 and q.max() == 255
    assert result.sequences["a"].scores["psnr_y"][1] == pytest.approx(
        psnr(q[1], gt_a[1], y_channel=True), abs=1e-12)
    mean_a = np.mean([ssim(to_uint8(s), g) for s, g in zip(sr_a, gt_a)])
    assert result.sequences["a"].mean()["ssim_rgb"] == pytest.approx(mean_a, abs=1e-12)
    avg = result.average()
    for m in METRICS:
        assert avg[m] == pytest.approx(
            (result.sequences["a"].mean()[m] + result.sequences["b"].mean()[m]) / 2)


def test_protocol_errors():
    with pytest.raises(ConfigError, match="unknown protocol 'nope'.*paper"):
        get_protocol("nope")
    gt = np.zeros((3, 28, 28, 3), np.uint8)
    with pytest.raises(InputError, match="too few"):
        evaluate_sequences([("s", gt, gt)], "paper")
    with pytest.raises(InputError, match="2 SR frame.*3 ground-truth"):
        evaluate_sequences([("s", gt[:2], gt)], "standard")


# ---- folders via the command line --------------------------------------------------------------


@pytest.fixture(scope="module")
def calendar(shared_data):
    """4 GT frames of Vid4 calendar and the bicubic upscaling of their BIx4 frames."""
    from vsr_latent.data.vid4 import read_frame_folder

    lr_dir = shared_data / "Vid4" / "BIx4" / "calendar"
    if not lr_dir.is_dir():
        pytest.skip(f"{lr_dir} is absent")
    gt = read_frame_folder(shared_data / "Vid4" / "GT" / "calendar")[:4]
    lr = read_frame_folder(lr_dir)[:4]
    return lr, gt, to_uint8(bicubic_upscale(lr.astype(np.float32)))


def test_cli_sr_dir_gt_dir_json_matches_direct_metrics(tmp_path, capsys, calendar):
    _, gt, sr = calendar
    rng = np.random.default_rng(1)
    other_gt = rng.integers(0, 256, (4, 40, 48, 3)).astype(np.uint8)
    other_sr = np.clip(other_gt + rng.normal(0, 8, other_gt.shape), 0, 255).astype(np.uint8)
    _write_frames(tmp_path / "gt" / "calendar", gt)
    _write_frames(tmp_path / "gt" / "noise", other_gt)
    _write_frames(tmp_path / "sr" / "calendar", sr)
    _write_frames(tmp_path / "sr" / "noise", other_sr)
    out_dir = tmp_path / "report"
    code, out, err = _run_cli(capsys, "--sr_dir", str(tmp_path / "sr"), "--gt_dir",
                              str(tmp_path / "gt"), "--protocol", "paper", "--json",
                              "--out", str(out_dir))
    assert code == 0, err
    got = json.loads(out)
    assert got["protocol"] == "paper" and set(got["sequences"]) == {"calendar", "noise"}
    for name, s, g in (("calendar", sr, gt), ("noise", other_sr, other_gt)):
        entry = got["sequences"][name]
        assert entry["frames"] == 1  # 4 frames, first and last two dropped: frame 1 only
        assert entry["psnr_y"] == pytest.approx(psnr(s[1], g[1], crop_border=8, y_channel=True))
        assert entry["psnr_rgb"] == pytest.approx(psnr(s[1], g[1], crop_border=8))
        assert entry["ssim_y"] == pytest.approx(ssim(s[1], g[1], crop_border=8, y_channel=True))
        assert entry["ssim_rgb"] == pytest.approx(ssim(s[1], g[1], crop_border=8))
    for m in METRICS:
        assert got["average"][m] == pytest.approx(
            (got["sequences"]["calendar"][m] + got["sequences"]["noise"][m]) / 2)
    # Bicubic on calendar: about 20.5 dB Y under the paper protocol (20.52 on all 38 frames).
    assert 20.0 < got["sequences"]["calendar"]["psnr_y"] < 21.0
    # The report files: CSV per frame and per sequence, markdown, JSON; all agree.
    assert json.loads((out_dir / "results.json").read_text()) == got
    rows = list(csv.DictReader((out_dir / "frames.csv").open()))
    assert [(r["sequence"], r["frame"], r["file"]) for r in rows] == [
        ("calendar", "1", "00000001.png"), ("noise", "1", "00000001.png")]
    assert float(rows[0]["psnr_y"]) == pytest.approx(got["sequences"]["calendar"]["psnr_y"],
                                                     abs=1e-6)
    seq_rows = list(csv.DictReader((out_dir / "sequences.csv").open()))
    assert [r["sequence"] for r in seq_rows] == ["calendar", "noise", "average"]
    md = (out_dir / "results.md").read_text()
    assert "| calendar | 1 |" in md and "**average**" in md
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # no temp files left

    # One sequence folder each, standard protocol, --sequences, the markdown table on stdout.
    code, out, err = _run_cli(capsys, "--sr_dir", str(tmp_path / "sr" / "calendar"), "--gt_dir",
                              str(tmp_path / "gt" / "calendar"), "--protocol", "standard")
    assert code == 0, err
    want = np.mean([psnr(s, g, y_channel=True) for s, g in zip(sr, gt)])
    assert "| calendar | 4 |" in out and f"{want:.2f}" in out
    code, out, err = _run_cli(capsys, "--sr_dir", str(tmp_path / "sr"), "--gt_dir",
                              str(tmp_path / "gt"), "--sequences", "noise", "--json",
                              "--protocol", "standard")
    assert code == 0 and list(json.loads(out)["sequences"]) == ["noise"]


def test_cli_folder_errors(tmp_path, capsys):
    rng = np.random.default_rng(2)
    gt = rng.integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    _write_frames(tmp_path / "gt" / "seq", gt)
    _write_frames(tmp_path / "short" / "seq", gt[:3])
    _write_frames(tmp_path / "big" / "seq", np.zeros((4, 32, 36, 3), np.uint8))
    (tmp_path / "empty").mkdir()

    def error(*argv):
        code, out, err = _run_cli(capsys, *argv)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1, err
        return err

    err = error("--sr_dir", str(tmp_path / "short"), "--gt_dir", str(tmp_path / "gt"))
    assert "3 SR frame(s) but 4 ground-truth" in err and str(tmp_path / "gt" / "seq") in err
    err = error("--sr_dir", str(tmp_path / "big"), "--gt_dir", str(tmp_path / "gt"),
                "--protocol", "standard")
    assert str(tmp_path / "big" / "seq" / "00000000.png") in err
    assert str(tmp_path / "gt" / "seq" / "00000000.png") in err
    err = error("--sr_dir", str(tmp_path / "empty"), "--gt_dir", str(tmp_path / "gt"))
    assert "empty" in err and "image files" in err
    err = error("--sr_dir", str(tmp_path / "gt"), "--gt_dir", str(tmp_path / "nothere"))
    assert "nothere: no such folder" in err
    err = error("--sr_dir", str(tmp_path / "gt"), "--gt_dir", str(tmp_path / "gt"),
                "--protocol", "nope")
    assert "unknown protocol" in err
    err = error("--sr_dir", str(tmp_path / "gt"))
    assert "--gt_dir" in err
    err = error("--model", "bicubic", "--data_root", str(tmp_path / "empty"))
    assert "GT" in err and "empty" in err
    err = error("--sr_dir", str(tmp_path / "gt"), "--gt_dir", str(tmp_path / "gt"),
                "--sequences", "other")
    assert "other" in err


# ---- a model on a dataset ----------------------------------------------------------------------


def test_cli_model_on_vid4_layout(tmp_path, capsys, calendar):
    lr, gt, sr = calendar
    root = tmp_path / "vid4"
    _write_frames(root / "GT" / "calendar", gt)
    _write_frames(root / "BIx4" / "calendar", lr)
    code, out, err = _run_cli(capsys, "--model", "bicubic", "--data_root", str(root),
                              "--protocol", "standard", "--json")
    assert code == 0, err
    got = json.loads(out)["sequences"]["calendar"]
    assert got["frames"] == 4
    want = np.mean([psnr(s, g, y_channel=True) for s, g in zip(sr, gt)])
    assert got["psnr_y"] == pytest.approx(want, abs=1e-9)
    # The literature's bicubic on calendar, Y, all frames, no crop: 20.39 dB.
    assert 20.1 < got["psnr_y"] < 20.7
    # Without LR frames they are made with the MATLAB-style bicubic, which reproduces BIx4.
    shutil.rmtree(root / "BIx4")
    code, out, err = _run_cli(capsys, "--model", "bicubic", "--data_root", str(root),
                              "--protocol", "standard", "--json")
    assert code == 0, err
    assert json.loads(out)["sequences"]["calendar"]["psnr_y"] == pytest.approx(
        got["psnr_y"], abs=0.02)


def test_evaluate_predictor_matches_upscale_then_score():
    model = StandInVSR(seq_len=3)
    predictor = KerasPredictor(model, name="standin")
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 256, (5, 48, 48, 3)).astype(np.uint8)
    lr = to_uint8(gt.reshape(5, 12, 4, 12, 4, 3).mean(axis=(2, 4)))
    result = evaluate_predictor(predictor, [("clip", lr, gt)], "paper")
    sr = to_uint8(upscale_sequence(predictor, lr.astype(np.float32)))
    seq = result.sequences["clip"]
    assert seq.frames == [1, 2]
    np.testing.assert_allclose(seq.scores["psnr_rgb"],
                               [psnr(sr[i], gt[i], crop_border=8) for i in (1, 2)], atol=1e-12)
    np.testing.assert_allclose(seq.scores["ssim_y"],
                               [ssim(sr[i], gt[i], crop_border=8, y_channel=True) for i in (1, 2)],
                               atol=1e-12)


def test_several_protocols_upscale_once_and_score_as_each_alone(monkeypatch):
    from vsr_latent.evaluation import evaluate_predictor_protocols
    from vsr_latent.serving import predictors

    model = StandInVSR(seq_len=3)
    predictor = KerasPredictor(model, name="standin")
    rng = np.random.default_rng(4)
    gt = rng.integers(0, 256, (5, 48, 48, 3)).astype(np.uint8)
    lr = to_uint8(gt.reshape(5, 12, 4, 12, 4, 3).mean(axis=(2, 4)))
    data = [("clip", lr, gt)]
    calls = []
    upscale = predictors.upscale_sequence
    monkeypatch.setattr(predictors, "upscale_sequence",
                        lambda *a, **k: calls.append(1) or upscale(*a, **k))
    both = evaluate_predictor_protocols(predictor, data, ("paper", "standard"))
    assert len(calls) == 1
    for name in ("paper", "standard"):
        alone = evaluate_predictor(predictor, data, name).sequences["clip"]
        seq = both[name].sequences["clip"]
        assert seq.frames == alone.frames
        for metric, values in alone.scores.items():
            np.testing.assert_allclose(seq.scores[metric], values, atol=1e-12)
    assert both["paper"].sequences["clip"].frames == [1, 2]
    assert both["standard"].sequences["clip"].frames == [0, 1, 2, 3, 4]


def test_builtin_dataset_sequences():
    from vsr_latent.evaluation import dataset_sequences

    data = dataset_sequences("builtin", sequences=["builtin-validation-1"])
    assert [name for name, _, _ in data] == ["builtin-validation-1"]
    _, lr, gt = data[0]
    assert gt.dtype == lr.dtype == np.uint8
    assert lr.shape == (gt.shape[0], gt.shape[1] // 4, gt.shape[2] // 4, 3)
    with pytest.raises(ConfigError, match="unknown dataset"):
        dataset_sequences("div2k")


def test_folders_pair_frames_in_natural_order(tmp_path):
    # SR frames named 1.png .. 11.png (no zero padding), GT 00000001.png ...: frame i of SR must
    # meet frame i of GT, so each pair differs by exactly 3 everywhere.
    rng = np.random.default_rng(4)
    gt = rng.integers(10, 200, (11, 16, 16, 3)).astype(np.uint8)
    (tmp_path / "sr").mkdir()
    for i, f in enumerate(gt):
        iio.imwrite(tmp_path / "sr" / f"{i + 1}.png", f + 3)
    # Partial writes (hidden, or another program's ".tmp") are not frames.
    iio.imwrite(tmp_path / "sr" / ".12.png.x1.part.png", gt[0])
    iio.imwrite(tmp_path / "sr" / "12.tmp.png", gt[0])
    _write_frames(tmp_path / "gt", gt)
    result = evaluate_folders(tmp_path / "sr", tmp_path / "gt", "standard")
    (seq,) = result.sequences.values()
    assert seq.frames == list(range(11))
    np.testing.assert_allclose(seq.scores["psnr_rgb"], 10 * np.log10(255**2 / 9), atol=1e-9)


def test_16_bit_ground_truth_scores_like_its_8_bit_values(tmp_path):
    # Frames are read as video_io reads them: a 16-bit sample x * 257 is the 8-bit x.
    rng = np.random.default_rng(5)
    gt = rng.integers(0, 256, (3, 24, 24, 3)).astype(np.uint8)
    sr = np.clip(gt + rng.normal(0, 6, gt.shape), 0, 255).astype(np.uint8)
    _write_frames(tmp_path / "sr", sr)
    (tmp_path / "gt").mkdir()
    for i, f in enumerate(gt):
        iio.imwrite(tmp_path / "gt" / f"{i:08d}.tif", f.astype(np.uint16) * 257)
    (seq,) = evaluate_folders(tmp_path / "sr", tmp_path / "gt", "standard").sequences.values()
    np.testing.assert_allclose(seq.scores["psnr_rgb"], [psnr(s, g) for s, g in zip(sr, gt)],
                               atol=1e-12)
    np.testing.assert_allclose(seq.scores["ssim_y"],
                               [ssim(s, g, y_channel=True) for s, g in zip(sr, gt)], atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"model": "bicubic", "sr_dir": "a", "gt_dir": "b"}, "not both"),
    ({"sr_dir": "a"}, "go together"),
    ({}, "nothing to evaluate"),
    ({"model": "bicubic", "samples": 0}, "^samples must be >= 1, got 0$"),
    ({"model": "bicubic", "degradation": "nope"}, "nope"),
    ({"model": "bicubic", "protocol": "nope"}, "nope"),
])
def test_evaluate_options_are_checked_once_when_made(kwargs, message):
    """Every problem of an evaluate command line is one ConfigError from the library, raised
    before any data or model is read."""
    from vsr_latent.errors import ConfigError
    from vsr_latent.evaluation import EvaluateOptions

    with pytest.raises(ConfigError, match=message):
        EvaluateOptions(**kwargs)
