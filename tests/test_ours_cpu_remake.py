"""`vsr-latent remake ours_cpu`'s parts (reproduce/ours_cpu.sh): one upscale per sequence scored
under both protocols, the training curves read back from real event files, the model card's
numbers, and the command's errors."""

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from vsr_latent import evaluation
from vsr_latent.paper import ours_cpu
from vsr_latent.serving.loading import load_predictor


@pytest.fixture(scope="module")
def builtin_scores():
    data = evaluation.dataset_sequences("builtin")
    results, seconds = ours_cpu.score_on_vid4(load_predictor("bicubic", seq_len=7), data)
    return data, results, seconds


def test_one_upscale_scored_under_both_protocols_equals_evaluate_predictor(builtin_scores):
    data, results, seconds = builtin_scores
    assert set(results) == {"standard", "paper"} and seconds > 0
    for protocol in ("standard", "paper"):
        want = evaluation.evaluate_predictor(load_predictor("bicubic", seq_len=7), data, protocol)
        assert results[protocol].to_dict() == want.to_dict()


def test_scalars_read_back_last_value_wins_and_figure(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    with writer.as_default():
        for step, value in ((1, 0.5), (2, 0.4), (2, 0.3), (3, 0.2)):  # step 2 again: a resume
            tf.summary.scalar("loss/re", value, step=step)
        tf.summary.scalar("psnr/validation", 25.0, step=3)
    writer.close()
    scalars = ours_cpu.read_scalars(tmp_path / "logs")
    steps, values, walls = scalars["loss/re"]
    assert steps.tolist() == [1, 2, 3]
    np.testing.assert_allclose(values, [0.5, 0.3, 0.2], rtol=1e-6)
    assert (np.diff(walls) >= 0).all() and "loss/vae" not in scalars
    png = ours_cpu.training_curve_figure(scalars, tmp_path / "curve.png", stage1_steps=2,
                                         bicubic=24.0)
    assert iio.imread(png).shape[:2] == (400, 1100)
    # The loss axis names the loss the run trained on (the picture differs only in that label).
    other = ours_cpu.training_curve_figure(scalars, tmp_path / "charb.png", stage1_steps=2,
                                           bicubic=24.0, loss="charbonnier")
    assert not np.array_equal(iio.imread(png), iio.imread(other))


def _run(steps, stage1, stage2, patch, wall_s):
    return {
        "config": {"stage1_steps": stage1, "stage2_steps": stage2, "model": {"seq_len": 7},
                   "precision": "float32", "init_from": None,
                   "data": {"batch_size": 8, "lr_patch": patch, "augmentation": ["hflip"],
                            "degradation": "bi"},
                   "optimizer": {"learning_rate": 4e-4, "warmup_steps": 5, "schedule": "cosine",
                                 "min_learning_rate": 4e-6, "global_clipnorm": 3.0}},
        "training": {"steps": steps, "wall_s": wall_s, "steps_per_s": steps / wall_s,
                     "median_logged_steps_per_s": {"stage 1": 0.7}, "final_val_psnr": 25.0,
                     "stopped_s": 0.0},
    }


def test_the_card_names_the_data_command_of_the_root_the_run_used():
    from vsr_latent.configs.budgets import CPU_DATA_CLIP_LEN, CPU_DATA_COMMAND, CPU_DATA_MAX_SIZE

    default = {"clip_len": CPU_DATA_CLIP_LEN, "max_size": CPU_DATA_MAX_SIZE}
    assert ours_cpu._data_command(default) == CPU_DATA_COMMAND
    assert ours_cpu._data_command({"clip_len": 20, "max_size": None}).endswith(
        "data/cpu_root --clip_len 20")


def _index(root, clip_len, max_size):
    import json

    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps({"clip_len": clip_len, "max_size": max_size}))
    return root


def test_a_default_cpu_root_made_with_other_settings_is_named_before_training(tmp_path, capsys):
    from vsr_latent.commands.train import _warn_if_cpu_root_differs
    from vsr_latent.configs.budgets import CPU_DATA_COMMAND, cpu_root_difference
    from vsr_latent.data.dataset_root import root_settings

    same = _index(tmp_path / "same", 40, [360, 640])  # the index stores [H, W]
    assert root_settings(same) == {"clip_len": 40, "max_size": "640x360"}
    assert cpu_root_difference(root_settings(same)) is None
    _warn_if_cpu_root_differs(same)
    assert capsys.readouterr().err == ""

    other = _index(tmp_path / "other", 40, [270, 480])
    _warn_if_cpu_root_differs(other)
    err = capsys.readouterr().err
    assert err.startswith(f"Warning: {other}: made with max_size 480x270 (the cpu budget's: "
                          "640x360); remake it with") and CPU_DATA_COMMAND in err
    logged = []
    assert ours_cpu.ensure_dataset(other, log=logged.append) == other
    assert len(logged) == 1 and "max_size 480x270" in logged[0]
    assert "clip_len 20 (the cpu budget's: 40)" in cpu_root_difference(
        {"clip_len": 20, "max_size": None})


def _train_clips(shared, frames):
    """``shared/train_clips`` with two frame-folder sources of ``frames`` frames each."""
    rng = np.random.default_rng(0)
    for name in ("s0", "s1"):
        folder = shared / "train_clips" / name
        folder.mkdir(parents=True)
        for t in range(frames):
            iio.imwrite(folder / f"{t:03d}.png", rng.integers(0, 256, (16, 24, 3), np.uint8))
    return shared


def test_a_missing_cpu_root_is_made_by_the_data_tool_with_the_budgets_settings(tmp_path,
                                                                              monkeypatch):
    import json

    from vsr_latent.configs.budgets import CPU_DATA_CLIP_LEN
    from vsr_latent.data.dataset_root import cpu_root_warning, root_settings

    monkeypatch.setenv("VSR_SHARED_DATA", str(_train_clips(tmp_path / "shared",
                                                           CPU_DATA_CLIP_LEN)))
    root = tmp_path / "cpu_root"
    logged = []
    assert ours_cpu.ensure_dataset(root, log=logged.append) == root
    assert logged[0] == f"Making the dataset root {root} from {tmp_path / 'shared' / 'train_clips'}"
    assert logged[1].startswith(f"{root}: 2 clips (1 train, 1 validation, split by source)")
    assert root_settings(root) == {"clip_len": 40, "max_size": "640x360"}
    assert cpu_root_warning(root) is None
    index = json.loads((root / "dataset.json").read_text())
    assert sorted(index["sources"]) == ["s0", "s1"]
    clips = sorted(index["splits"]["train"] + index["splits"]["validation"])
    assert clips == ["s0_000000", "s1_000000"]
    frames = np.load(root / "clips" / "s0_000000" / "frames.npy")
    want = iio.imread(tmp_path / "shared" / "train_clips" / "s0" / "039.png")
    np.testing.assert_array_equal(frames[39], want)
    # Made once: the next remake finds it and says nothing.
    logged.clear()
    assert ours_cpu.ensure_dataset(root, log=logged.append) == root and logged == []


def test_a_cpu_root_that_cannot_be_made_is_an_input_error_naming_it(tmp_path, monkeypatch):
    from vsr_latent.errors import InputError

    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setenv("VSR_SHARED_DATA", str(shared))
    root = tmp_path / "cpu_root"
    with pytest.raises(InputError, match=f"^{root}: no dataset root, and no "
                                         r"\.\./shared/data/train_clips to make it from"):
        ours_cpu.ensure_dataset(root, log=lambda line: None)
    _train_clips(shared, 5)  # shorter than one clip of the budget's 40 frames
    with pytest.raises(InputError) as error:
        ours_cpu.ensure_dataset(root, log=lambda line: None)
    message = str(error.value)
    assert message.startswith(f"{root}: `python -m data_tools.make_dataset {shared}/train_clips "
                              f"{root} --clip_len 40 --max_size 640x360` failed: ")
    assert message.endswith("train_clips: no source has 40 frames or more")
    assert not (root / "dataset.json").exists()


def test_root_settings_errors_name_the_index(tmp_path):
    from vsr_latent.data.dataset_root import root_settings
    from vsr_latent.errors import InputError

    with pytest.raises(InputError, match=r"dataset\.json: no dataset index"):
        root_settings(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(InputError, match=r"dataset\.json: dataset index is not valid JSON"):
        root_settings(tmp_path)
    _index(tmp_path, "forty", None)
    with pytest.raises(InputError, match="'clip_len' must be a positive integer, got 'forty'"):
        root_settings(tmp_path)
    _index(tmp_path, 40, [640])
    with pytest.raises(InputError, match=r"'max_size' must be \[H, W\] or null, got \[640\]"):
        root_settings(tmp_path)


def test_model_card_prints_the_measured_numbers(builtin_scores):
    _, results, _ = builtin_scores
    run = _run(44, 40, 4, 32, 5400.0)
    info = {
        "config": run["config"],
        "training": {**run["training"], "validation_bicubic_psnr": 23.0},
        "vid4": {"bicubic": results, "float32": results, "mixed_bfloat16": results},
        "seconds_per_frame": {"float32": 0.5, "mixed_bfloat16": 0.25},
        "commit": "abc1234", "command": "reproduce/ours_cpu.sh --install",
        "data_command": "make", "hardware": {"cpu": "x", "cores": 2, "gpus": [],
                                             "tensorflow": "2", "keras": "3", "python": "3"},
        "data": {"train": 44, "validation": 7, "validation_sources": ["a", "b"],
                 "clip_len": 40, "max_size": "480x270"},
    }
    card = ours_cpu.model_card(info)
    assert "Frames larger than 480x270 were reduced" in card
    avg = results["standard"].average()
    assert f"**{avg['psnr_y']:.2f} / {avg['ssim_y']:.4f}**" in card
    assert "CPU SCALE" in card and "abc1234" in card and "+0.00 dB" in card
    assert "0.500 s/frame in float32" in card and "**1.50 h** of training (from the first" in card
    assert "- Steps: 44 (40 stage 1 on L_re, 4 stage 2 on L_re + L_vae), batch 8" in card
    assert "LR patch 32x32" in card and "0.01 steps/s on average" in card
    assert "comparable to the paper's 26.44 dB" in card
    assert "initialised at variance scale" not in card  # the Glorot default is not remarked on
    info["config"] = {**run["config"], "model": {"seq_len": 7, "residual_init_scale": 0.01}}
    assert ("L = 7, residual layers initialised at variance scale 0.01 (Glorot: 1), augmentation"
            in ours_cpu.model_card(info))
    # A run folder without reconstruction_loss trained on the paper's L2: nothing is remarked on.
    info["config"] = {**run["config"], "reconstruction_loss": "charbonnier"}
    assert ("(40 stage 1 on L_re, 4 stage 2 on L_re + L_vae (charbonnier loss, not the paper's "
            "L2)), batch 8" in ours_cpu.model_card(info))
    assert "degraded with the frame around it" not in card  # older runs: crops degraded alone
    info["config"] = {**run["config"], "data": {**run["config"]["data"], "degrade_context": True}}
    assert ("LR patch 32x32 (degraded with the frame around it, as whole frames are), L = "
            in ours_cpu.model_card(info))


def test_remake_is_a_command_with_one_line_errors(tmp_path, capsys):
    """A run folder without a model is the user's to fix: one line naming it, exit code 2."""
    from vsr_latent.cli import main

    code = main(["remake", "ours_cpu", "--no_train", "--run_dir", str(tmp_path / "none"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("vsr-latent remake: error: ") and str(tmp_path) in err
    assert len(err.strip().splitlines()) == 1
