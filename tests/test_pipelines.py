"""tf.data pipelines: transforms eager == in Dataset.map, determinism, MirroredStrategy, sources."""

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from vsr_latent.data import pipelines, transforms
from vsr_latent.data.builtin import (
    builtin_clips,
    builtin_remote_clips,
    builtin_remote_key_frame_indices,
)
from vsr_latent.data.degrade import degrade
from vsr_latent.errors import ConfigError, InputError

L = 3
#: draw_sample_params([7, 11], 21 frames, 100x90, L, 64x48) before vflip / transpose existed.
_OLD_DRAW = {"start": 14, "top": 36, "left": 9, "hflip": True, "reverse": False}


def _take(ds, n):
    return [(lr.numpy(), hr.numpy()) for lr, hr in ds.take(n)]


def test_builtin_clips_real_motion():
    clips, motion = builtin_clips(2, 6, (48, 64), seed=3, return_motion=True)
    assert len(clips) == 2 and clips[0].shape == (6, 48, 64, 3) and clips[0].dtype == np.uint8
    assert motion[0].shape == (6, 4)
    # Recorded motion is linear pan, geometric zoom, linear rotation.
    np.testing.assert_allclose(np.diff(motion[0][:, 0], 2), 0, atol=1e-9)
    np.testing.assert_allclose(motion[0][1:, 2] / motion[0][:-1, 2], motion[0][1, 2] / motion[0][0, 2])
    assert np.abs(np.diff(clips[0].astype(float), axis=0)).mean() > 1  # the camera moves
    val = builtin_clips(2, 6, (48, 64), seed=3, split="validation")
    assert not np.array_equal(val[0], clips[0])
    with pytest.raises(ConfigError):
        builtin_clips(split="test")


def test_transforms_eager_equal_in_map():
    seed = tf.constant([7, 11], tf.int64)
    eager = transforms.draw_sample_params(seed, 21, (100, 90), L, (64, 48))
    ds = tf.data.Dataset.from_tensors(seed).map(
        lambda s: transforms.draw_sample_params(s, 21, (100, 90), L, (64, 48)))
    mapped = next(iter(ds))
    for k in eager:
        assert eager[k].numpy() == mapped[k].numpy(), k
    assert 0 <= eager["start"] <= 21 - L and 0 <= eager["top"] <= 36 and 0 <= eager["left"] <= 42

    hr = tf.constant(np.random.default_rng(0).integers(0, 256, (L, 16, 20, 3)), tf.float32)
    for flip in (True, False):
        for rev in (True, False):
            p = {"hflip": tf.constant(flip), "reverse": tf.constant(rev)}
            e = transforms.augment(hr, p).numpy()
            m = next(iter(tf.data.Dataset.from_tensors(hr).map(lambda x: transforms.augment(x, p)))).numpy()
            np.testing.assert_array_equal(e, m)
            ref = hr.numpy()
            ref = ref[:, :, ::-1] if flip else ref
            ref = ref[::-1] if rev else ref
            np.testing.assert_array_equal(e, ref)
    e = transforms.make_lr(hr, "bi", 4).numpy()
    m = next(iter(tf.data.Dataset.from_tensors(hr).map(lambda x: transforms.make_lr(x, "bi", 4)))).numpy()
    np.testing.assert_array_equal(e, m)
    ref = np.clip(np.round(degrade(hr.numpy(), "bi", 4)), 0, 255)
    assert np.abs(e - ref).max() <= 1 and np.mean(e != ref) < 0.01  # float32 ties may round apart


def test_train_samples_are_crops_of_builtin_clips_and_degraded():
    ds = pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=2, seed=1, augment=())
    lr, hr = _take(ds, 1)[0]
    assert lr.shape == (2, L, 8, 8, 3) and hr.shape == (2, L, 32, 32, 3)
    assert lr.dtype == hr.dtype == np.float32
    clips = np.stack(builtin_clips(pipelines.BUILTIN_TRAIN_CLIPS, pipelines.BUILTIN_NUM_FRAMES, (128, 128)))
    # Each HR sample is L consecutive frames of one clip, the same crop box in every frame.
    for b in range(2):
        hits = []
        for c in range(clips.shape[0]):
            for t in range(clips.shape[1] - L + 1):
                win = clips[c, t : t + L].astype(np.float32)
                for y in range(0, 128 - 32 + 1):
                    row = win[0, y : y + 32]
                    xs = np.where(np.all(row[0, :97] == hr[b, 0, 0, 0], axis=-1))[0]
                    for x in xs:
                        if np.array_equal(win[:, y : y + 32, x : x + 32], hr[b]):
                            hits.append((c, t, y, x))
        assert hits, "sample is not a crop of a built-in clip"
    np.testing.assert_allclose(lr, np.clip(np.round(degrade(hr, "bi", 4)), 0, 255), atol=1.0)


def test_same_seed_same_samples():
    a = _take(pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=2, seed=5), 3)
    b = _take(pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=2, seed=5), 3)
    c = _take(pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=2, seed=6), 3)
    for (la, ha), (lb, hb) in zip(a, b):
        np.testing.assert_array_equal(la, lb)
        np.testing.assert_array_equal(ha, hb)
    assert not all(np.array_equal(ha, hc) for (_, ha), (_, hc) in zip(a, c))


def test_one_pass_visits_each_clip_once():
    ds = pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=1, seed=0, repeat=False,
                                 augment=())
    assert sum(1 for _ in ds) == pipelines.BUILTIN_TRAIN_CLIPS


def test_sharding_by_input_context():
    ctxs = [tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=2)
            for i in range(2)]
    full = _take(pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=1, seed=2), 8)
    shards = [_take(pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=4, seed=2,
                                            input_context=c), 2) for c in ctxs]
    # Per-replica batch 4 / 2 = 2; global batch b is samples 4b .. 4b + 3 of the unsharded
    # stream, pipeline i its consecutive share: 4b + 2i and 4b + 2i + 1.
    assert shards[0][0][1].shape[0] == 2
    for b in range(2):
        for i in range(2):
            for r in range(2):
                np.testing.assert_array_equal(shards[i][b][1][r], full[4 * b + 2 * i + r][1][0])


def test_mirrored_strategy_distribute_datasets_from_function():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2
    strategy = tf.distribute.MirroredStrategy(devices)
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=4, seed=0,
                                            input_context=ctx))
    lr, hr = next(iter(dist))
    locals_lr = strategy.experimental_local_results(lr)
    locals_hr = strategy.experimental_local_results(hr)
    assert len(locals_lr) == 2
    assert all(t.shape == (2, L, 8, 8, 3) for t in locals_lr)
    assert all(t.shape == (2, L, 32, 32, 3) for t in locals_hr)

    @tf.function
    def step(lr, hr):
        def replica_fn(a, b):
            return tf.reduce_mean(tf.abs(b[:, :, ::4, ::4] - a))
        return strategy.reduce("SUM", strategy.run(replica_fn, args=(lr, hr)), axis=None)

    assert np.isfinite(step(lr, hr).numpy())


def test_validation_dataset_builtin_whole_frames():
    ds = pipelines.validation_dataset(seq_len=7)
    items = list(ds)
    n_chunks = pipelines.BUILTIN_NUM_FRAMES // 7
    assert len(items) == pipelines.BUILTIN_VALIDATION_CLIPS * n_chunks
    lr, hr, mask = items[1]
    assert mask.numpy().tolist() == [[1.0] * 7]
    assert lr.shape == (1, 7, 32, 32, 3) and hr.shape == (1, 7, 128, 128, 3)
    clips = builtin_clips(pipelines.BUILTIN_VALIDATION_CLIPS, pipelines.BUILTIN_NUM_FRAMES,
                          pipelines.BUILTIN_VALIDATION_SIZE, split="validation")
    np.testing.assert_array_equal(hr.numpy()[0], clips[0][7:14])
    np.testing.assert_array_equal(lr.numpy()[0], np.clip(np.round(degrade(clips[0][7:14], "bi", 4)), 0, 255))
    with pytest.raises(InputError, match="fewer than the sequence length"):
        pipelines.validation_dataset(seq_len=50)


def test_validation_last_chunk_padded_and_every_frame_scored():
    """A 10-frame clip at L=4: chunks 4 + 4 + 2 real frames (the last zero-padded to 4); the
    validation score is the mean PSNR of all 10 frames, and the padding never enters it."""
    from vsr_latent import metrics
    from vsr_latent.data.video_io import to_uint8
    from vsr_latent.paper import measure
    from vsr_latent.serving.loading import load_predictor

    clip = builtin_clips(1, 10, (32, 32), seed=5, split="validation")[0]
    chunks = list(pipelines._chunks(iter(clip), 4, "bi", 4, True, "clip"))
    assert [c[0].shape for c in chunks] == [(1, 4, 8, 8, 3)] * 3
    assert [c[2].tolist() for c in chunks] == [[[1, 1, 1, 1]]] * 2 + [[[1, 1, 0, 0]]]
    np.testing.assert_array_equal(chunks[2][1][0, 2:], 0)  # zero padding
    np.testing.assert_array_equal(pipelines.real_frames(chunks[2][1], chunks[2][2]), clip[8:])
    bicubic = load_predictor("bicubic", seq_len=4)
    data = measure.chunk_data(chunks)
    assert sum(len(gt) for _, _, gt in data) == 10
    # Hand computation: bicubic upscaling of each LR frame, PSNR (RGB, uncropped) of each of the
    # 10 frames against the clip, averaged over frames.
    lr = np.clip(np.round(degrade(clip.astype(np.float32), "bi", 4)), 0, 255)
    hand = np.mean([metrics.psnr(to_uint8(bicubic(lr[t:t + 1])[0]), clip[t])
                    for t in range(10)])
    assert measure.score_validation(bicubic, data) == pytest.approx(hand, abs=1e-9)
    # Garbage in the padding slots changes nothing: they are dropped before scoring.
    lr3, hr3, mask3 = (np.array(a) for a in chunks[2])
    lr3[0, 2:], hr3[0, 2:] = 255, 17
    spoiled = measure.chunk_data(chunks[:2] + [(lr3, hr3, mask3)])
    assert measure.score_validation(bicubic, spoiled) == pytest.approx(hand, abs=1e-9)
    # Through tf.data: 21 built-in frames at L=4 -> 6 chunks whose masks count all 21 frames.
    items = list(pipelines.validation_dataset(seq_len=4, max_clips=1))
    assert len(items) == 6 and sum(float(m.numpy().sum()) for _, _, m in items) == 21


def test_remote_dataset_builtin_key_frames():
    (frames, keys), _ = builtin_remote_clips()
    (where, _) = builtin_remote_key_frame_indices()
    np.testing.assert_array_equal(keys, frames[where])
    ds = pipelines.remote_dataset("builtin", seq_len=7, max_clips=1)
    items = list(ds)
    assert len(items) == frames.shape[0] // 7
    lr_keys = np.clip(np.round(degrade(keys, "bi", 4)), 0, 255)
    for i, (x, hr, _) in enumerate(items):
        assert set(x) == {"frames", "key_frames"}
        # Each chunk gets the clip's key frames outside its own frames i*7 .. i*7 + 6 (§6.2).
        outside = [j for j, w in enumerate(where) if not 7 * i <= w < 7 * i + 7]
        assert x["frames"].shape == (1, 7, 32, 32, 3)
        assert x["key_frames"].shape == (1, len(outside), 32, 32, 3)
        np.testing.assert_array_equal(x["key_frames"].numpy()[0], lr_keys[outside])
    # Key frames come from the same clip; one starts the second scene (frame 7 of 14), so the
    # first chunk sees it as an external key frame.
    assert 7 in where and any(np.array_equal(k, frames[7]) for k in keys)


def assert_no_chunk_sees_its_own_frames(chunks):
    """No external key frame of any chunk of ``chunks`` (remote_chunks' items) is one of the
    chunk's own (LR) frames; returns the key-frame counts per chunk."""
    counts = []
    for x, hr, mask in chunks:
        own = pipelines.real_frames(x["frames"], mask)
        for k in np.asarray(x["key_frames"])[0]:
            assert not any(np.array_equal(k, f) for f in own), "a chunk sees its own frame"
        counts.append(np.asarray(x["key_frames"]).shape[1])
    return counts


@pytest.mark.parametrize("seq_len", [3, 4, 5, 7, 14])
def test_remote_chunks_never_see_their_own_frames_as_key_frames(seq_len):
    clips = builtin_remote_clips()
    chunks = list(pipelines.remote_chunks("builtin", seq_len=seq_len)())
    counts = assert_no_chunk_sees_its_own_frames(chunks)
    # Each key frame of a clip lies in exactly one chunk: that chunk misses it, the others see it.
    n_keys = [len(w) for w in builtin_remote_key_frame_indices()]
    per_clip = -(-clips[0][0].shape[0] // seq_len)
    for c, n in enumerate(n_keys):
        mine = counts[c * per_clip:(c + 1) * per_clip]
        assert sum(n - m for m in mine) == n
    if seq_len == 14:
        # One chunk holds the whole clip and all its key frames: none outside it
        # (CHUNK_WITHOUT_OUTSIDE_KEY_FRAMES), and a model takes the empty set as no key frames.
        assert pipelines.CHUNK_WITHOUT_OUTSIDE_KEY_FRAMES == "no_key_frames"
        assert counts == [0, 0]
        from vsr_latent.models import build_model, model_config

        model = build_model(model_config("latn10", seq_len=seq_len).replace(filters=8))
        x = chunks[0][0]
        np.testing.assert_array_equal(model(x).numpy(), model(x["frames"]).numpy())


def test_dihedral_augmentations_against_numpy():
    """vflip and transpose, eager and in Dataset.map, against NumPy; with all four coins a sample
    takes each of the 16 dihedral-times-time variants, and the older draws of a seed are kept."""
    every = ("hflip", "reverse", "vflip", "transpose")
    hr = tf.constant(np.random.default_rng(1).integers(0, 256, (L, 6, 6, 3)), tf.float32)
    for bits in range(16):
        p = {k: tf.constant(bool(bits >> i & 1)) for i, k in enumerate(every)}
        e = transforms.augment(hr, p, every).numpy()
        m = next(iter(tf.data.Dataset.from_tensors(hr).map(lambda x: transforms.augment(x, p, every)))).numpy()
        np.testing.assert_array_equal(e, m)
        ref = hr.numpy()
        ref = ref.transpose(0, 2, 1, 3) if bits >> 3 & 1 else ref
        ref = ref[:, ::-1] if bits >> 2 & 1 else ref
        ref = ref[:, :, ::-1] if bits & 1 else ref
        ref = ref[::-1] if bits >> 1 & 1 else ref
        np.testing.assert_array_equal(e, ref)
    outputs = {transforms.augment(hr, transforms.draw_sample_params(tf.constant([3, i]), 9, (20, 20), L, (6, 6)),
                                  every).numpy().tobytes() for i in range(120)}
    assert len(outputs) == 16  # a square crop with no symmetry of its own: all 16 variants drawn
    # The coins added for vflip / transpose leave a seed's earlier draws as they were.
    p = transforms.draw_sample_params(tf.constant([7, 11], tf.int64), 21, (100, 90), L, (64, 48))
    assert [int(p["start"]), int(p["top"]), int(p["left"])] == [_OLD_DRAW[k] for k in ("start", "top", "left")]
    assert [bool(p["hflip"]), bool(p["reverse"])] == [_OLD_DRAW["hflip"], _OLD_DRAW["reverse"]]
    with pytest.raises(ValueError, match="square"):
        transforms.augment(tf.zeros([L, 6, 8, 3]), p, ("transpose",))
    with pytest.raises(ConfigError, match="square"):
        pipelines.train_dataset(seq_len=L, lr_size=(8, 12), batch_size=2, augment=("transpose",))
    lr, hr_batch = next(iter(pipelines.train_dataset(seq_len=L, lr_size=(8, 8), batch_size=2, seed=1,
                                                     augment=every)))
    assert lr.shape == (2, L, 8, 8, 3) and hr_batch.shape == (2, L, 32, 32, 3)


def test_bad_configuration():
    with pytest.raises(ConfigError):
        pipelines.train_dataset(seq_len=L, batch_size=2, degradation="nearest")
    with pytest.raises(ConfigError):
        pipelines.train_dataset(seq_len=0, batch_size=2)
    with pytest.raises(ConfigError):
        pipelines.train_dataset(seq_len=L, batch_size=2, augment=("rotate",))
    with pytest.raises(InputError, match="not a dataset root"):
        pipelines.train_dataset("/nonexistent/root", seq_len=L, batch_size=2)


def test_dataset_root_source(tmp_path):
    from data_tools import make_dataset

    src = tmp_path / "src"
    clips = builtin_clips(3, 8, (48, 64), seed=9)
    for i, c in enumerate(clips):
        d = src / f"seq{i}"
        d.mkdir(parents=True)
        for t, f in enumerate(c):
            iio.imwrite(d / f"{t}.png", f)
    root = tmp_path / "root"
    assert make_dataset.main([str(src), str(root), "--clip_len", "8", "--no_progress",
                              "--num_train", "2", "--num_val", "1"]) == 0
    ds = pipelines.train_dataset(str(root), seq_len=L, lr_size=(8, 8), batch_size=2, seed=0, augment=())
    lr, hr = _take(ds, 1)[0]
    assert hr.shape == (2, L, 32, 32, 3)
    stack = np.stack(clips).astype(np.float32)
    found = False
    for c in range(3):
        for t in range(8 - L + 1):
            for y in range(48 - 32 + 1):
                for x in range(64 - 32 + 1):
                    if np.array_equal(stack[c, t : t + L, y : y + 32, x : x + 32], hr[0]):
                        found = True
    assert found
    np.testing.assert_allclose(lr, np.clip(np.round(degrade(hr, "bi", 4)), 0, 255), atol=1.0)
    # Several crops per decoded window: still seeded, and one pass yields K samples per clip.
    again = _take(pipelines.train_dataset(str(root), seq_len=L, lr_size=(8, 8), batch_size=2,
                                          seed=0, augment=()), 1)[0]
    np.testing.assert_array_equal(again[1], hr)
    one_pass = pipelines.train_dataset(str(root), seq_len=L, lr_size=(8, 8), batch_size=3,
                                       repeat=False, crops_per_window=3)
    n_train = len([c for c in (root / "clips").iterdir() if "validation" not in (c / "manifest.json").read_text()])
    assert sum(int(b[0].shape[0]) for b in one_pass) == 3 * n_train
    val = list(pipelines.validation_dataset(str(root), seq_len=4))
    assert len(val) == 2 and val[0][1].shape == (1, 4, 48, 64, 3)
    # The DataConfig path (what the trainer builds): every field reaches the pipeline, the crops
    # per window included; the same batches as the keywords spelled out.
    from vsr_latent.configs.base import DataConfig

    data = DataConfig(source=str(root), lr_patch=8, batch_size=2, degradation="bi",
                      augmentation=("hflip",), seed=3, crops_per_window=2)
    by_config = _take(pipelines.build_train_dataset(data, seq_len=L), 2)
    by_keywords = _take(pipelines.train_dataset(str(root), seq_len=L, lr_size=(8, 8),
                                                batch_size=2, seed=3, augment=("hflip",),
                                                crops_per_window=2), 2)
    for a, b in zip(by_config, by_keywords):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    default_k = _take(pipelines.build_train_dataset(
        DataConfig(source=str(root), lr_patch=8, batch_size=2, degradation="bi",
                   augmentation=("hflip",), seed=3), seq_len=L), 1)
    assert not np.array_equal(default_k[0][1], by_config[0][1])  # K = 1 by default, not 2
    one_pass_k2 = pipelines.build_train_dataset(
        DataConfig(source=str(root), lr_patch=8, batch_size=2, crops_per_window=2), seq_len=L,
        repeat=False)
    assert sum(int(b[0].shape[0]) for b in one_pass_k2) == 2 * n_train
    # Clips shorter than L, frames smaller than the crop: clear errors naming the clip.
    with pytest.raises(InputError, match="fewer than the sequence length") as e:
        pipelines.train_dataset(str(root), seq_len=9, lr_size=(8, 8), batch_size=2)
    assert "seq" in str(e.value)
    with pytest.raises(InputError, match="smaller than the 64x64 HR crop"):
        pipelines.train_dataset(str(root), seq_len=L, lr_size=(16, 16), batch_size=2)
