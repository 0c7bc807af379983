"""Training crops degraded with the frame around them (``data.degrade_context``): their LR pixels
equal the same pixels of the degraded whole frame, which crops degraded alone do not near edges."""

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from vsr_latent.configs import get_config
from vsr_latent.data import pipelines, transforms
from vsr_latent.data.builtin import builtin_clips
from vsr_latent.data.degrade import DEGRADATIONS, context_margin, degrade
from vsr_latent.errors import InputError
from vsr_latent.training.trainer import config_validation_crops

L = 3


def _frame():
    return builtin_clips(1, 1, (96, 128), seed=4)[0][0].astype(np.float32)


@pytest.mark.parametrize("method", DEGRADATIONS)
def test_context_margin_is_the_smallest_margin_that_matches_the_whole_frame(method):
    m = context_margin(method, 4)
    assert m == 2  # the Keys / Pillow kernels reach 2 LR pixels (8 HR) at x4; bd's 13 taps too
    frame = _frame()
    whole = degrade(frame, method, 4)
    top, left, size = 32, 40, 32  # an HR crop well inside the 96x128 frame
    lr_box = np.s_[top // 4:(top + size) // 4, left // 4:(left + size) // 4]
    with_m = degrade(frame[top - 4 * m:top + size + 4 * m, left - 4 * m:left + size + 4 * m],
                     method, 4)[m:-m, m:-m]
    np.testing.assert_allclose(with_m, whole[lr_box], rtol=0, atol=1e-3)
    k = m - 1  # one LR pixel less context: the outer ring differs
    with_less = degrade(frame[top - 4 * k:top + size + 4 * k, left - 4 * k:left + size + 4 * k],
                        method, 4)
    with_less = with_less[k:-k, k:-k] if k else with_less
    assert np.abs(with_less - whole[lr_box]).max() > 0.05  # bd: only its faint tails reach


def test_make_pair_eager_equals_in_map_and_numpy():
    frames = tf.constant(np.stack([_frame()[:48, :56]] * L))
    eager = transforms.make_pair(frames, 2, "bi", 4)
    mapped = next(iter(tf.data.Dataset.from_tensors(frames).map(
        lambda f: transforms.make_pair(f, 2, "bi", 4))))
    for e, m in zip(eager, mapped):
        np.testing.assert_array_equal(e.numpy(), m.numpy())
    lr, hr = (t.numpy() for t in eager)
    assert lr.shape == (L, 8, 10, 3) and hr.shape == (L, 32, 40, 3)
    np.testing.assert_array_equal(hr, frames.numpy()[:, 8:-8, 8:-8])
    ref = np.clip(np.round(degrade(frames.numpy(), "bi", 4)), 0, 255)[:, 2:-2, 2:-2]
    assert np.abs(lr - ref).max() <= 1 and np.mean(lr != ref) < 0.01  # float32 ties may round apart
    lr0, hr0 = (t.numpy() for t in transforms.make_pair(frames, 0, "bi", 4))
    np.testing.assert_array_equal(hr0, frames.numpy())


def _find(clips, hr):
    """(clip, start frame, top, left) of the box of ``clips`` equal to ``hr`` (L, h, w, 3)."""
    h, w = hr.shape[1:3]
    for c in range(clips.shape[0]):
        for t in range(clips.shape[1] - L + 1):
            win = clips[c, t:t + L]
            ys, xs = np.where(np.all(win[0, :-h + 1 or None, :-w + 1 or None] == hr[0, 0, 0], -1))
            for y, x in zip(ys, xs):
                if np.array_equal(win[:, y:y + h, x:x + w], hr):
                    return c, t, y, x
    raise AssertionError("sample is not a crop of a built-in clip")


def test_train_samples_with_context_are_crops_of_the_degraded_frames():
    ds = pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=2, seed=1, augment=(),
                                 degrade_context=True)
    lr, hr = (t.numpy() for t in next(iter(ds)))
    clips = np.stack(builtin_clips(pipelines.BUILTIN_TRAIN_CLIPS, pipelines.BUILTIN_NUM_FRAMES,
                                   (128, 128))).astype(np.float32)
    alone = np.clip(np.round(degrade(hr, "bi", 4)), 0, 255)
    for b in range(2):
        c, t, y, x = _find(clips, hr[b])
        assert 8 <= y <= 128 - 32 - 8 and 8 <= x <= 128 - 32 - 8  # room for the margin
        ref = np.clip(np.round(degrade(clips[c, t:t + L], "bi", 4)), 0, 255)
        ref = ref[:, y // 4:y // 4 + 8, x // 4:x // 4 + 8] if y % 4 == 0 and x % 4 == 0 else None
        if ref is None:  # the frame's own LR grid is not the crop's: degrade around the crop
            box = clips[c, t:t + L, y - 8:y + 40, x - 8:x + 40]
            ref = np.clip(np.round(degrade(box, "bi", 4)), 0, 255)[:, 2:-2, 2:-2]
        assert np.abs(lr[b] - ref).max() <= 1 and np.mean(lr[b] != ref) < 0.01
        # Degraded alone, the crop's outer LR pixels are different ones.
        assert np.abs(lr[b] - alone[b]).max() > 2
        np.testing.assert_allclose(lr[b, :, 2:-2, 2:-2], alone[b, :, 2:-2, 2:-2], atol=1)


def test_validation_crops_with_context_are_crops_of_the_degraded_frames():
    plain = pipelines.validation_crops("builtin", seq_len=L, lr_crop=16, max_clips=2)
    context = pipelines.validation_crops("builtin", seq_len=L, lr_crop=16, max_clips=2,
                                         degrade_context=True)
    frames = builtin_clips(pipelines.BUILTIN_VALIDATION_CLIPS, pipelines.BUILTIN_NUM_FRAMES,
                           pipelines.BUILTIN_VALIDATION_SIZE, split="validation")
    for (lr_p, hr_p), (lr_c, hr_c) in zip(plain, context):
        np.testing.assert_array_equal(hr_p, hr_c)
        assert lr_c.shape == (1, L, 16, 16, 3) and hr_c.shape == (1, L, 64, 64, 3)
        assert np.abs(lr_p - lr_c).max() > 2
        np.testing.assert_array_equal(lr_p[..., 2:-2, 2:-2, :], lr_c[..., 2:-2, 2:-2, :])
    # The first clip's crop is the 128x128 frame's centre: LR rows and columns 8..24.
    whole = np.clip(np.round(degrade(frames[0][:L].astype(np.float32), "bi", 4)), 0, 255)
    np.testing.assert_array_equal(context[0][0][0], whole[:, 8:24, 8:24])


def test_config_setting_reaches_the_validation_crops():
    crop = "data.val_lr_crop=16"  # the built-in validation frames are 32x32 LR pixels
    config = get_config("ours", budget="tiny", overrides=["data.degrade_context=true", crop])
    assert config.data.degrade_context is True
    plain = config_validation_crops(get_config("ours", budget="tiny", overrides=[crop]))
    context = config_validation_crops(config)
    assert np.abs(plain[0][0] - context[0][0]).max() > 2


def test_frames_too_small_for_the_margin_name_the_clip(tmp_path):
    from data_tools import make_dataset

    src = tmp_path / "src"
    for i, clip in enumerate(builtin_clips(3, 8, (48, 64), seed=9)):
        (src / f"seq{i}").mkdir(parents=True)
        for t, f in enumerate(clip):
            iio.imwrite(src / f"seq{i}" / f"{t}.png", f)
    root = tmp_path / "root"
    assert make_dataset.main([str(src), str(root), "--clip_len", "8", "--no_progress",
                              "--num_train", "2", "--num_val", "1"]) == 0
    # 32x32 HR crops and 8 pixels around them fit 48x64 frames; 40x40 ones do not.
    pipelines.train_dataset(str(root), seq_len=L, lr_size=(8, 8), batch_size=2,
                            degrade_context=True)
    with pytest.raises(InputError, match="smaller than the 40x40 HR crop with the 8 pixels "
                                         "around it that degrade_context needs") as e:
        pipelines.train_dataset(str(root), seq_len=L, lr_size=(10, 10), batch_size=2,
                                degrade_context=True)
    assert "seq" in str(e.value)


def test_trainer_batches_follow_the_setting(tmp_path):
    from vsr_latent.training.trainer import Trainer

    overrides = ["data.degrade_context=true", "data.augmentation=none", "stage1_steps=1",
                 "stage2_steps=0"]
    config = get_config("ours", budget="tiny", overrides=overrides)
    trainer = Trainer(config, tmp_path / "run", progress=False, log=lambda m: None)
    batch = next(iter(trainer.distributed_dataset(0)))
    lr, hr = (trainer.strategy.experimental_local_results(t)[0].numpy() for t in batch)
    want_lr, want_hr = next(iter(pipelines.train_dataset(
        "builtin", seq_len=config.model.seq_len, lr_size=(8, 8), batch_size=2,
        seed=config.data.seed, augment=(), degrade_context=True)))
    np.testing.assert_array_equal(hr, want_hr.numpy())
    np.testing.assert_array_equal(lr, want_lr.numpy())
    assert np.abs(lr - np.clip(np.round(degrade(hr, "bi", 4)), 0, 255)).max() > 2
