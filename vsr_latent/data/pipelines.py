"""tf.data pipelines: training samples, whole-frame validation, Remote clips with key frames.

A training sample (paper §7): L consecutive frames of one clip, the same sH x sW crop box in every
frame with its corner drawn uniformly, augmented (the config's ``data.augmentation``, by default
`vsr_latent.configs.base.DEFAULT_AUGMENTATION`), then each crop degraded to H x W
(``degradation``: "bi" by default, see :mod:`vsr_latent.data.degrade`): alone, as the paper
writes it, or with the frame around it (``degrade_context``). LR frames are rounded and
clipped to 8-bit values (:data:`QUANTIZE_LR`), like stored LR frames.

Order and determinism: every sample is a pure function of (seed, its index in the stream). The
stream is a sequence of windows; window w visits clip ``order[w % n]`` of epoch ``w // n`` (a
permutation of the n clips drawn from (seed, epoch)), starts at a frame drawn from (seed, w) and
gives ``crops_per_window`` (K) consecutive samples, each with its own crop corner and
augmentation drawn from seeds split off (seed, w). Global batch b is samples ``b*B .. (b+1)*B - 1``
(windows ``b*B/K ..``), so a run resumed at step k builds its pipeline from batch k on
(``start_batch``) and computes nothing it skips. Nothing depends on parallelism or on what was
made before. With an ``input_context`` (``strategy.distribute_datasets_from_function``) pipeline
i of N makes the i-th consecutive share of every global batch, batched with the per-replica batch
size; under the tf.data service the workers split the same window numbers. Batches are complete
(``drop_remainder``) so shapes are static.

Reading (:mod:`.raw_frames`): a raw root (``frames.npy`` per clip, what ``make_dataset`` writes)
is read crop-first, each sample's box straight from the memory-mapped clip, one sample a window;
a root of PNG/JPEG frames (older roots; ``python -m data_tools.convert_root`` converts one) decodes
the window's L whole frames and cuts up to :data:`ROOT_CROPS_PER_WINDOW` samples from them. Both
give the same sample for the same (clip, start, box).

Sources: ``"builtin"`` (photographs moved under a virtual camera, :mod:`.builtin`, no download) or a
dataset root made by ``python -m data_tools.make_dataset`` (:mod:`.dataset_root`).
"""

import itertools
import warnings

import numpy as np
import tensorflow as tf

from vsr_latent.configs.base import DEFAULT_AUGMENTATION, check_augmentation
from vsr_latent.data import builtin as builtin_mod
from vsr_latent.data import dataset_root, raw_frames, transforms
from vsr_latent.data.chunks import pad_chunk
from vsr_latent.data.degrade import check_method, context_margin, crop_to_multiple, degrade
from vsr_latent.data.vid4 import read_frame_folder
from vsr_latent.errors import ConfigError, InputError

#: Round and clip LR frames to integers on [0, 255] (as 8-bit stored LR frames are).
QUANTIZE_LR = True
#: Built-in training data: clips, frames per clip, and the margin (HR pixels) added around the
#: crop so the crop corner can move.
BUILTIN_TRAIN_CLIPS = 8
BUILTIN_NUM_FRAMES = 21
BUILTIN_MARGIN = 32
#: Built-in validation split: clips and size (HR) — different photographs from training.
BUILTIN_VALIDATION_CLIPS = 4
BUILTIN_VALIDATION_SIZE = (128, 128)
#: At most this many samples cut from each decoded window of L frames of a root of image files
#: (each with its own crop corner and augmentation): decoding whole HD/4K frames costs far more
#: than cropping them. Raw roots and the built-in clips read crop-first and cut one sample a window.
ROOT_CROPS_PER_WINDOW = 8
# Windows a repeating training stream can number: about 4.6e18 (no run reaches it).
UNENDING_WINDOWS = 2**62


def _check_seq_len(seq_len):
    if not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise ConfigError(f"seq_len must be a positive integer, got {seq_len!r}")
    return int(seq_len)


class _BuiltinFrames:
    def __init__(self, crop, seq_len, seed):
        size = (max(128, crop[0] + BUILTIN_MARGIN), max(128, crop[1] + BUILTIN_MARGIN))
        num_frames = max(BUILTIN_NUM_FRAMES, seq_len)
        clips = builtin_mod.builtin_clips(BUILTIN_TRAIN_CLIPS, num_frames, size, seed=0)
        self.array = np.stack(clips)
        self.num_clips = len(clips)
        self.lengths = [num_frames] * self.num_clips
        self.sizes = [size] * self.num_clips
        self.names = [f"builtin:{i}" for i in range(self.num_clips)]
        self.crop_first = True

    def make_reader(self, seq_len, cut):
        data = tf.constant(self.array)

        def read(clip, start, tops, lefts):
            return tf.stack([
                tf.slice(data, tf.stack([tf.cast(clip, tf.int32), start, tops[k], lefts[k], 0]),
                         [1, seq_len, cut[0], cut[1], 3])[0]
                for k in range(tops.shape[0])])

        return read


class _RootFrames:
    """A dataset root's clips. Raw clips (``frames.npy``) are read crop-first: each box straight
    from the memory-mapped file (:func:`raw_frames.read_boxes`). Clips of image files (roots
    made before the raw format) decode the window's L whole frames, then cut the boxes."""

    def __init__(self, root, split):
        clips = dataset_root.list_clips(root, split)
        if not clips:
            raise InputError(root, f"the dataset root has no finished {split!r} clips")
        self.clips = clips
        self.num_clips = len(clips)
        self.lengths = [len(c) for c in clips]
        self.sizes = [c.size for c in clips]
        self.names = [str(c.dir) for c in clips]
        self.crop_first = all(c.format == "raw" for c in clips)

    def make_reader(self, seq_len, cut):
        def image_branch(clip):
            files = tf.constant([str(p) for p in clip.frames])

            def read(start, tops, lefts):
                frames = tf.map_fn(
                    lambda f: tf.io.decode_image(tf.io.read_file(f), channels=3,
                                                 expand_animations=False),
                    files[start:start + seq_len],
                    fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
                return tf.stack([frames[:, tops[k]:tops[k] + cut[0], lefts[k]:lefts[k] + cut[1]]
                                 for k in range(tops.shape[0])])

            return read

        def raw_branch(clip):
            def read(start, tops, lefts):
                return raw_frames.tf_read_boxes([clip.raw_path], 0, start, tops, lefts, seq_len,
                                                *cut)
            return read

        if self.crop_first:  # all raw: one NumPy reader, the clip's file picked by its index
            paths = [c.raw_path for c in self.clips]

            def read_raw(clip, start, tops, lefts):
                return raw_frames.tf_read_boxes(paths, clip, start, tops, lefts, seq_len, *cut)

            return read_raw
        branches = [raw_branch(c) if c.format == "raw" else image_branch(c) for c in self.clips]

        def read(clip, start, tops, lefts):
            k = tops.shape[0]
            boxes = tf.switch_case(
                tf.cast(clip, tf.int32),
                [lambda b=b: b(start, tops, lefts) for b in branches])
            return tf.ensure_shape(boxes, [k, seq_len, cut[0], cut[1], 3])

        return read


def _frames_source(source, crop, seq_len, split):
    if source == "builtin":
        return _BuiltinFrames(crop, seq_len, 0)
    if isinstance(source, str) and source.startswith("builtin"):
        raise ConfigError(f"unknown data source {source!r}: 'builtin' or a dataset root folder")
    return _RootFrames(source, split)


def _check_clips(src, seq_len, crop, context=0):
    """Every clip has ``seq_len`` frames and room for the HR ``crop`` with ``context`` HR pixels
    around it."""
    around = f" with the {context} pixels around it that degrade_context needs" if context else ""
    for name, n, size in zip(src.names, src.lengths, src.sizes):
        if n < seq_len:
            raise InputError(name, f"clip has {n} frames, fewer than the sequence length {seq_len}")
        if size[0] < crop[0] + 2 * context or size[1] < crop[1] + 2 * context:
            raise InputError(name, f"frames are {size[1]}x{size[0]}, smaller than the "
                                   f"{crop[1]}x{crop[0]} HR crop{around}")


def default_crops_per_window(source, per_pipeline_batch):
    """Samples cut from one window when ``data.crops_per_window`` is None: 1 where reading is
    crop-first (built-in clips, raw roots), else the largest divisor of the pipeline's share of
    the global batch up to :data:`ROOT_CROPS_PER_WINDOW` (whole PNG frames are decoded once for
    that many samples)."""
    if source.crop_first:
        return 1
    return max(k for k in range(1, ROOT_CROPS_PER_WINDOW + 1) if per_pipeline_batch % k == 0)


def window_numbers(start_batch, windows_per_batch, num_pipelines, pipeline_id):
    """The global window numbers pipeline ``pipeline_id`` of ``num_pipelines`` makes, from global
    batch ``start_batch`` on, as a function of its local count j = 0, 1, ...: global batch b is
    windows ``b * W .. (b + 1) * W - 1`` (W = ``windows_per_batch``), each pipeline the
    consecutive ``W / num_pipelines`` of them at its place. A tf.int64 function of j."""
    share = windows_per_batch // num_pipelines

    def number(j):
        j = j + start_batch * share
        return (j // share) * windows_per_batch + pipeline_id * share + j % share

    return number


def train_dataset(source="builtin", *, seq_len, lr_size=(32, 32), scale=4, degradation="bi",
                  batch_size, seed=0, input_context=None, repeat=True, augment=DEFAULT_AUGMENTATION,
                  quantize=QUANTIZE_LR, crops_per_window=None, degrade_context=False,
                  start_batch=0):
    """Training (lr, hr) batches: lr float32 (B, L, h, w, 3), hr (B, L, s*h, s*w, 3), on [0, 255].

    See the module docstring for sampling, determinism and sharding. ``augment`` is a subset of
    ``configs.base.AUGMENTATIONS`` (the config's ``data.augmentation``); ``repeat=False`` gives
    one pass (each clip visited once).
    ``crops_per_window`` (K): samples cut from each window of L frames (None:
    :func:`default_crops_per_window`); K must divide this pipeline's share of the global batch.
    ``start_batch``: the first global batch made (a resumed run starts where it stopped; nothing
    before it is computed).

    ``degrade_context``: False degrades each HR crop alone, as the paper describes (§7), so the
    LR pixels near its edges see the degradation's border padding instead of the frame around
    the crop; True degrades the crop with ``degrade.context_margin`` LR pixels (times ``scale``
    HR pixels) of the frame around it and keeps the middle, so every LR pixel equals the same
    pixel of the degraded whole frame, as at test time. The crop box is then drawn among the
    positions that leave that margin inside the frame.
    """
    check_method(degradation)
    seq_len = _check_seq_len(seq_len)
    lr_size = (int(lr_size[0]), int(lr_size[1]))
    augment = check_augmentation(augment, lr_size)
    crop = (lr_size[0] * scale, lr_size[1] * scale)
    # The crop cut from the frame: the HR crop and, with degrade_context, the margin around it.
    margin = context_margin(degradation, scale) if degrade_context else 0
    cut = (crop[0] + 2 * margin * scale, crop[1] + 2 * margin * scale)
    src = _frames_source(source, cut, seq_len, "train")
    _check_clips(src, seq_len, crop, context=margin * scale)
    num_pipelines, pipeline_id, per_batch = 1, 0, batch_size
    if input_context is not None:
        num_pipelines = input_context.num_input_pipelines
        pipeline_id = input_context.input_pipeline_id
        per_batch = input_context.get_per_replica_batch_size(batch_size)
    if batch_size % num_pipelines:
        raise ConfigError(f"data.batch_size={batch_size} does not split among "
                          f"{num_pipelines} input pipelines")
    share = batch_size // num_pipelines
    k_crops = (default_crops_per_window(src, share) if crops_per_window is None
               else int(crops_per_window))
    if k_crops < 1:
        raise ConfigError(f"data.crops_per_window must be >= 1, got {crops_per_window}")
    if share % k_crops:
        raise ConfigError(f"data.crops_per_window={k_crops} must divide each input pipeline's "
                          f"share of data.batch_size ({share}), so that a global batch is "
                          f"whole windows")
    read = src.make_reader(seq_len, cut)
    lengths = tf.constant(src.lengths, tf.int32)
    sizes = tf.constant(np.array(src.sizes, np.int32))
    num_clips = src.num_clips

    def window(w):
        # Window w visits clip order[w % n] of epoch w // n, a permutation drawn from
        # (seed, epoch); its start frame from (seed, w), and crop k's corner and augmentation
        # from the k-th seed split off that: a pure function of (seed, w).
        clip = tf.random.experimental.index_shuffle(
            w % num_clips, tf.stack([tf.constant(seed, tf.int64), w // num_clips]), num_clips - 1)
        window_seed = tf.stack([tf.constant(seed, tf.int64), w])
        start = transforms.draw_sample_params(window_seed, lengths[clip], sizes[clip], seq_len,
                                              cut)["start"]
        crop_seeds = tf.random.experimental.stateless_split(window_seed, num=k_crops)
        params = [transforms.draw_sample_params(crop_seeds[k], seq_len, sizes[clip], seq_len, cut)
                  for k in range(k_crops)]
        boxes = read(clip, start, tf.stack([p["top"] for p in params]),
                     tf.stack([p["left"] for p in params]))
        lrs, hrs = [], []
        for k in range(k_crops):
            # The margin is the same on every side, so augmenting before the middle is cut is
            # augmenting the crop.
            lr, hr = transforms.make_pair(transforms.augment(boxes[k], params[k], augment),
                                          margin, degradation, scale, quantize)
            lrs.append(lr)
            hrs.append(hr)
        return tf.stack(lrs), tf.stack(hrs)

    windows_per_batch = batch_size // k_crops
    number = window_numbers(start_batch, windows_per_batch, num_pipelines, pipeline_id)
    # A range, not Dataset.counter(): the tf.data service splits a range among its workers
    # (each would run a counter of its own), and every element is a window's local count j.
    share_windows = windows_per_batch // num_pipelines
    if repeat:
        ds = tf.data.Dataset.range(UNENDING_WINDOWS).map(number)
    else:  # one pass: windows 0 .. n-1, each clip once
        batches = -(-num_clips // windows_per_batch)
        ds = tf.data.Dataset.range(batches * share_windows).map(number)
        ds = ds.filter(lambda w: w < num_clips)
    ds = ds.map(window, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.unbatch()
    ds = ds.batch(per_batch, drop_remainder=True)
    if repeat:
        ds = endless(ds)
    return ds.prefetch(tf.data.AUTOTUNE)


def endless(ds):
    """``ds`` declared unending (its range ends after 2**62 windows, the filter and unbatch hide
    even that). A distributed iterator over a stream of unknown length checks on every batch,
    across the workers, whether all still have one: an eager all-reduce per step under several
    workers, which a worker lost during it leaves hanging open."""
    return ds.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))


def build_train_dataset(data, *, seq_len, input_context=None, repeat=True, scale=4,
                        start_batch=0):
    """:func:`train_dataset` of a :class:`~vsr_latent.configs.base.DataConfig` (its source, LR
    patch, global batch, degradation, augmentation, seed, crops per window and degrade context),
    for clips of ``seq_len`` frames, sharded by ``input_context``: the one place the config's
    fields become the pipeline's arguments (Model Garden's ``build_inputs(params,
    input_context)``). ``start_batch``: the first global batch (a resumed run's data position)."""
    return train_dataset(
        data.source, seq_len=seq_len, lr_size=(data.lr_patch, data.lr_patch), scale=scale,
        degradation=data.degradation, batch_size=data.batch_size,
        seed=data.seed, input_context=input_context, repeat=repeat,
        augment=tuple(data.augmentation), crops_per_window=data.crops_per_window,
        degrade_context=data.degrade_context, start_batch=start_batch)


def build_validation_crops(data, *, seq_len, scale=4):
    """:func:`validation_crops` of a DataConfig (``val_clips`` clips, ``val_lr_crop`` LR pixels,
    its degradation and degrade context); none when ``data.val_clips`` is 0."""
    if not data.val_clips:
        return []
    return validation_crops(data.source, seq_len=seq_len, lr_crop=data.val_lr_crop, scale=scale,
                            degradation=data.degradation, max_clips=data.val_clips,
                            degrade_context=data.degrade_context)


def _lr_frames(hr, degradation, scale, quantize):
    """LR frames of HR frames (NumPy ``degrade``), rounded and clipped to 8-bit values when
    ``quantize`` (as stored LR frames are)."""
    lr = degrade(hr, degradation, scale)
    return np.clip(np.round(lr), 0, 255) if quantize else lr


def _chunk(buf, seq_len, degradation, scale, quantize, name):
    """One chunk ``(lr, hr, mask)`` (batch 1) from up to L HR frames: the frames are degraded,
    then both sides zero-padded to L (``chunks.pad_chunk``, the rule Vid4 inference follows,
    §6.2); ``mask`` (1, L) is 1 for real frames and 0 for padding, so scores can skip padding."""
    hr = crop_to_multiple(np.stack(buf), scale, path=name, warn=False).astype(np.float32)
    lr, real = pad_chunk(_lr_frames(hr, degradation, scale, quantize), seq_len)
    hr, _ = pad_chunk(hr, seq_len)
    mask = (np.arange(seq_len) < real).astype(np.float32)
    return lr[None], hr[None], mask[None]


def _chunks(frames_hr, seq_len, degradation, scale, quantize, name):
    """Consecutive chunks of L frames from an iterable of frames (streamed: L frames in memory);
    the last, shorter chunk is padded to L rather than dropped, so every frame is scored."""
    buf = []
    for f in frames_hr:
        buf.append(f)
        if len(buf) == seq_len:
            yield _chunk(buf, seq_len, degradation, scale, quantize, name)
            buf = []
    if buf:
        yield _chunk(buf, seq_len, degradation, scale, quantize, name)


def real_frames(x, mask):
    """The real frames of one batch-1 chunk: ``x`` (1, L, ...) -> (T, ...) with the padding
    frames (``mask`` 0) dropped. Use it on model outputs and ground truth before scoring."""
    keep = np.asarray(mask)[0] > 0
    return np.asarray(x)[0][keep]


class _Lazy:
    """A validation clip: name, frame count, size, and a way to stream its frames."""

    def __init__(self, name, num_frames, size, frames):
        self.name, self.num_frames, self.size, self._frames = name, num_frames, size, frames

    def frames(self):
        if callable(self._frames):
            return self._frames()
        return iter(self._frames)


def _validation_clips(source, max_clips):
    if source == "builtin":
        clips = builtin_mod.builtin_clips(
            BUILTIN_VALIDATION_CLIPS, BUILTIN_NUM_FRAMES, BUILTIN_VALIDATION_SIZE, split="validation"
        )
        return [_Lazy(f"builtin-validation:{i}", c.shape[0], c.shape[1:3], c)
                for i, c in enumerate(clips[:max_clips])]
    clips = dataset_root.list_clips(source, "validation")
    if not clips:
        raise InputError(source, "the dataset root has no finished 'validation' clips")
    return [_Lazy(str(c.dir), len(c), c.size, c.iter_frames) for c in clips[:max_clips]]


def _check_lengths(clips, seq_len, scale):
    for c in clips:
        if c.num_frames < seq_len:
            raise InputError(
                c.name, f"clip has {c.num_frames} frames, fewer than the sequence length {seq_len}"
            )
        h, w = c.size
        if h % scale or w % scale:
            warnings.warn(f"{c.name}: frame size {w}x{h} is not a multiple of {scale}; cropped to "
                          f"{w - w % scale}x{h - h % scale}", stacklevel=3)


def validation_chunks(source="builtin", *, seq_len, scale=4, degradation="bi", max_clips=None,
                      quantize=QUANTIZE_LR, max_frames=None):
    """:func:`validation_dataset`'s chunks as NumPy arrays, from a plain generator function: a
    pass holds one chunk (tf.data's autotuned prefetching would read several whole-frame chunks
    ahead, about 100 MB each at 1080p). Clips are checked when it is called. ``max_frames``:
    only the first frames of each clip (None: all)."""
    check_method(degradation)
    seq_len = _check_seq_len(seq_len)
    clips = _validation_clips(source, max_clips)
    _check_lengths(clips, seq_len, scale)

    def gen():
        for c in clips:
            yield from _chunks(itertools.islice(c.frames(), max_frames), seq_len, degradation,
                               scale, quantize, c.name)

    return gen


def validation_dataset(source="builtin", *, seq_len, scale=4, degradation="bi", max_clips=None,
                       quantize=QUANTIZE_LR):
    """(lr, hr, mask) of whole frames, each clip cut into consecutive chunks of L frames (batch 1).

    A clip's last frames that do not fill a chunk are zero-padded to L (paper §6.2, as Vid4
    inference does); ``mask`` (1, L) float32 is 1 on real frames and 0 on padding — Keras reads it
    as a per-frame sample weight, and scores must keep only the real frames (:func:`real_frames`).
    Clips are streamed from disk, L frames at a time. LR frames come from the NumPy ``degrade``
    (same weights as the training pipeline's TF version).
    """
    gen = validation_chunks(source, seq_len=seq_len, scale=scale, degradation=degradation,
                            max_clips=max_clips, quantize=quantize)
    spec = (
        tf.TensorSpec([1, seq_len, None, None, 3], tf.float32),
        tf.TensorSpec([1, seq_len, None, None, 3], tf.float32),
        tf.TensorSpec([1, seq_len], tf.float32),
    )
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def validation_crops(source="builtin", *, seq_len, lr_crop, scale=4, degradation="bi",
                     max_clips=4, quantize=QUANTIZE_LR, degrade_context=False):
    """[(lr (1, L, c, c, 3), hr (1, L, s*c, s*c, 3))]: a fixed, cheap validation set for training.

    The first L frames of ``max_clips`` validation clips spread evenly over the split (clips of
    one source are neighbours in it), each cut to a centre crop of ``lr_crop`` LR pixels (the
    whole frame where it is smaller) and degraded like the training samples: the crop alone, or
    with ``degrade_context`` the whole frames (the LR crop is then the crop of the degraded
    frames, as at test time).
    """
    check_method(degradation)
    seq_len = _check_seq_len(seq_len)
    clips = _validation_clips(source, None)
    if max_clips and len(clips) > max_clips:
        picks = np.linspace(0, len(clips) - 1, int(max_clips)).round().astype(int)
        clips = [clips[i] for i in sorted(set(picks))]
    _check_lengths(clips, seq_len, scale)
    out = []
    for c in clips:
        frames = []
        for f in c.frames():
            frames.append(f)
            if len(frames) == seq_len:
                break
        hr = crop_to_multiple(np.stack(frames), scale, path=c.name, warn=False)
        h, w = hr.shape[1:3]
        ch, cw = min(h, lr_crop * scale), min(w, lr_crop * scale)
        top, left = (h - ch) // 2 // scale * scale, (w - cw) // 2 // scale * scale
        box = np.s_[:, top : top + ch, left : left + cw]
        if degrade_context:
            lr = _lr_frames(hr.astype(np.float32), degradation, scale, quantize)[
                :, top // scale : (top + ch) // scale, left // scale : (left + cw) // scale]
        else:
            lr = _lr_frames(hr[box].astype(np.float32), degradation, scale, quantize)
        out.append((lr[None].astype(np.float32), hr[box][None].astype(np.float32)))
    return out


#: GAP decision (§6.2: external key frames are "来自同一视频但不同序列的关键帧", key frames from the
#: same video but a different sequence): a Remote chunk gets only its clip's key frames that lie
#: outside the chunk's L frames; a chunk with none outside it (all of its clip's key frames fall
#: inside it) gets NO external key frames, ``key_frames`` of shape (1, 0, h, w, 3), and long
#: attention then attends within the chunk alone, as on Normal. Not its own frames again (§6.2
#: says "different sequence"), and not dropped (every frame of a Remote clip stays scored).
CHUNK_WITHOUT_OUTSIDE_KEY_FRAMES = "no_key_frames"


def _key_frame_indices(clip):
    """The frame index of each of a Remote clip's key frames, in the order of its key frame
    files: the manifest's ``remote.key_frame_indices`` (``select_remote``), checked against the
    files' names (``select_remote`` names each by its frame index)."""
    names = [p.stem for p in clip.key_frames]
    recorded = clip.manifest.get("remote", {}).get("key_frame_indices")
    from_names = [int(n) for n in names] if all(n.isdigit() for n in names) else None
    indices = recorded if recorded is not None else from_names
    if indices is None or (from_names is not None and sorted(indices) != from_names) or len(
            indices) != len(names):
        raise InputError(clip.dir, f"key frames {names} do not match the manifest's "
                                   f"key_frame_indices {recorded}; rerun "
                                   "`python -m data_tools.select_remote`")
    return sorted(int(i) for i in indices)


def _remote_clips(root, max_clips):
    """[(clip, key frames or a function reading them, key frame indices)] of the Remote
    validation clips."""
    if root == "builtin":
        return [(_Lazy(f"builtin-remote:{i}", f.shape[0], f.shape[1:3], f), keys, where)
                for i, ((f, keys), where) in enumerate(
                    zip(builtin_mod.builtin_remote_clips()[:max_clips],
                        builtin_mod.builtin_remote_key_frame_indices()[:max_clips]))]
    clips = [c for c in dataset_root.list_clips(root, "validation") if c.remote]
    if not clips:
        raise InputError(root, "no Remote clips: run `python -m data_tools.select_remote` first")
    out = []
    for c in clips[:max_clips]:
        if not c.key_frames:
            raise InputError(c.dir, "a Remote clip without key frames")
        # Key frames are read when their clip is scored, not all clips' up front.
        keys_dir = c.dir / dataset_root.KEY_FRAMES_DIR
        out.append((_Lazy(str(c.dir), len(c), c.size, c.iter_frames),
                    lambda d=keys_dir: read_frame_folder(d), _key_frame_indices(c)))
    return out


def remote_chunks(root, *, seq_len, scale=4, degradation="bi", max_clips=None,
                  quantize=QUANTIZE_LR, max_frames=None):
    """:func:`remote_dataset`'s chunks as NumPy arrays from a plain generator function (one chunk
    and its clip's key frames in memory at a time; see :func:`validation_chunks`). Chunk i holds
    frames i·L to i·L + L − 1 of its clip; its ``key_frames`` are the clip's key frames outside
    that range (:data:`CHUNK_WITHOUT_OUTSIDE_KEY_FRAMES`)."""
    check_method(degradation)
    seq_len = _check_seq_len(seq_len)
    clips = _remote_clips(root, max_clips)
    _check_lengths([c for c, _, _ in clips], seq_len, scale)

    def gen():
        for c, keys, where in clips:
            keys = keys() if callable(keys) else keys
            k = crop_to_multiple(keys, scale, path=c.name, warn=False).astype(np.float32)
            lr_keys = _lr_frames(k, degradation, scale, quantize)
            where = np.asarray(where, dtype=np.int64)
            frames = itertools.islice(c.frames(), max_frames)
            for i, (lr, hr, mask) in enumerate(
                    _chunks(frames, seq_len, degradation, scale, quantize, c.name)):
                first = i * seq_len
                outside = (where < first) | (where >= first + seq_len)
                yield {"frames": lr, "key_frames": lr_keys[outside][None]}, hr, mask

    return gen


def remote_dataset(root, *, seq_len, scale=4, degradation="bi", max_clips=None,
                   quantize=QUANTIZE_LR):
    """Remote clips (paper §6.2): ``({"frames": lr, "key_frames": lr_keys}, hr, mask)``, batch 1.

    Each Remote validation clip is chunked to L like :func:`validation_dataset` (the last chunk
    zero-padded, ``mask`` marking its real frames); every chunk comes with its clip's key frames
    that lie outside it (§6.2: key frames "from the same video but a different sequence"; LR,
    (1, N, h, w, 3)) for long attention to use as extra keys / values; N is 0 for a chunk with
    none outside it (:data:`CHUNK_WITHOUT_OUTSIDE_KEY_FRAMES`). ``root`` is a dataset root after
    ``select_remote``, or "builtin".
    """
    gen = remote_chunks(root, seq_len=seq_len, scale=scale, degradation=degradation,
                        max_clips=max_clips, quantize=quantize)
    spec = (
        {
            "frames": tf.TensorSpec([1, seq_len, None, None, 3], tf.float32),
            "key_frames": tf.TensorSpec([1, None, None, None, 3], tf.float32),
        },
        tf.TensorSpec([1, seq_len, None, None, 3], tf.float32),
        tf.TensorSpec([1, seq_len], tf.float32),
    )
    return tf.data.Dataset.from_generator(gen, output_signature=spec)
