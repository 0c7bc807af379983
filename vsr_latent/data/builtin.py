"""A built-in dataset that needs no download: real photographs moved under a virtual camera.

The photographs ship inside scikit-image (``skimage.data`` images bundled with the package, which
load with no network). Each clip is a camera window sliding over one photograph: a linear pan, a
steady zoom and a small steady rotation, each drawn from a seeded generator and recorded per frame
(``motion``: centre x, y in source pixels, zoom factor, angle in degrees). Frames are rendered by an
affine warp with bicubic interpolation (``skimage.transform.warp``, order 3, reflect borders).

Two splits use different photographs, so the "validation" split is never seen in training:
:data:`TRAIN_IMAGES` and :data:`VALIDATION_IMAGES`.
"""

import functools

import numpy as np

from vsr_latent.data import scene
from vsr_latent.data.video_io import to_rgb8
from vsr_latent.errors import ConfigError

#: Photographs of the training split (bundled with scikit-image; ``camera`` is gray -> RGB).
TRAIN_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera")
#: Photographs of the built-in validation split (disjoint from the training ones).
VALIDATION_IMAGES = ("stereo_motorcycle", "hubble_deep_field", "colorwheel", "coins")
#: Per-frame motion ranges: pan (source pixels / frame), zoom (relative / frame), rotation (deg / frame).
MAX_PAN = 3.0
MAX_ZOOM = 0.01
MAX_ROTATION = 0.5
#: Range of the first frame's zoom (output pixels per source pixel).
START_ZOOM = (0.5, 0.9)


@functools.lru_cache(maxsize=None)
def load_image(name):
    """A bundled scikit-image photograph as uint8 (H, W, 3)."""
    import skimage.data

    img = getattr(skimage.data, name)()
    if isinstance(img, tuple):  # stereo pairs: the left view
        img = img[0]
    return to_rgb8(img, f"skimage.data.{name}")


def _render(img, cx, cy, zoom, angle, size):
    from skimage.transform import AffineTransform, warp

    h, w = size
    a = np.deg2rad(angle)
    # Output pixel (col, row) -> source point: centred, scaled by 1/zoom, rotated, moved to (cx, cy).
    c, s = np.cos(a) / zoom, np.sin(a) / zoom
    ox, oy = (w - 1) / 2.0, (h - 1) / 2.0
    matrix = np.array(
        [[c, -s, cx - c * ox + s * oy], [s, c, cy - s * ox - c * oy], [0.0, 0.0, 1.0]]
    )
    out = warp(img, AffineTransform(matrix=matrix), output_shape=(h, w), order=3, mode="reflect",
               preserve_range=True)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def make_clip(image, num_frames, size, rng):
    """One clip from one photograph: returns (frames uint8 (T, H, W, 3), motion float (T, 4))."""
    ih, iw = image.shape[:2]
    h, w = size
    # Zoom <= 1 where possible (the window shows the photograph at or below its own resolution,
    # so HR frames keep real detail); larger only when the window would not fit with room to move.
    fit = max(h / (0.6 * ih), w / (0.6 * iw))
    zoom0 = max(fit, rng.uniform(*START_ZOOM))
    pan = rng.uniform(-MAX_PAN, MAX_PAN, size=2)
    dzoom = rng.uniform(-MAX_ZOOM, MAX_ZOOM)
    drot = rng.uniform(-MAX_ROTATION, MAX_ROTATION)
    cx = rng.uniform(0.3 * iw, 0.7 * iw) - pan[0] * (num_frames - 1) / 2.0
    cy = rng.uniform(0.3 * ih, 0.7 * ih) - pan[1] * (num_frames - 1) / 2.0
    frames, motion = [], []
    for t in range(num_frames):
        m = (cx + pan[0] * t, cy + pan[1] * t, zoom0 * (1.0 + dzoom) ** t, drot * t)
        frames.append(_render(image, *m, size))
        motion.append(m)
    return np.stack(frames), np.asarray(motion, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _clips(num_clips, num_frames, size, seed, split):
    names = TRAIN_IMAGES if split == "train" else VALIDATION_IMAGES
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    clips, motions = [], []
    for i in range(num_clips):
        frames, motion = make_clip(load_image(names[i % len(names)]), num_frames, size, rng)
        frames.setflags(write=False)
        clips.append(frames)
        motions.append(motion)
    return tuple(clips), tuple(motions)


def builtin_clips(num_clips=8, num_frames=21, size=(128, 128), seed=0, *, split="train",
                  return_motion=False):
    """List of ``num_clips`` uint8 (T, H, W, 3) clips (no download); deterministic for a seed.

    ``split`` is "train" or "validation" (different photographs). With ``return_motion`` also a
    list of (T, 4) arrays: camera centre x, y (source pixels), zoom and angle (degrees) per frame.
    Results are cached and read-only.
    """
    if split not in ("train", "validation"):
        raise ConfigError(f"unknown built-in split {split!r} (train, validation)")
    clips, motions = _clips(int(num_clips), int(num_frames), tuple(int(v) for v in size), int(seed), split)
    if return_motion:
        return list(clips), list(motions)
    return list(clips)


#: Built-in Remote clips: how many, frames, size (HR). Each joins two validation-split camera
#: moves with a cut in the middle, so it has both motion and a scene change.
BUILTIN_REMOTE_CLIPS = 2
BUILTIN_REMOTE_FRAMES = 14


def builtin_remote_clips(num_clips=BUILTIN_REMOTE_CLIPS, num_frames=BUILTIN_REMOTE_FRAMES,
                         size=(128, 128), seed=0):
    """List of (frames uint8 (T, H, W, 3), key_frames uint8 (N, H, W, 3)) with a scene cut each.

    Key frames are chosen from the same clip by the Remote selection's scene-change rule
    (:func:`vsr_latent.data.scene.key_frame_indices`); :func:`builtin_remote_key_frame_indices`
    gives their frame indices.
    """
    return [(frames, frames[keys]) for frames, keys in
            _builtin_remote(num_clips, num_frames, size, seed)]


def builtin_remote_key_frame_indices(num_clips=BUILTIN_REMOTE_CLIPS,
                                     num_frames=BUILTIN_REMOTE_FRAMES, size=(128, 128), seed=0):
    """The frame index of each key frame of :func:`builtin_remote_clips` (same arguments), per
    clip, in the order of its key frames."""
    return [keys for _, keys in _builtin_remote(num_clips, num_frames, size, seed)]


def _builtin_remote(num_clips, num_frames, size, seed):
    parts = builtin_clips(num_clips + 1, num_frames, size, seed, split="validation")
    half = num_frames // 2
    out = []
    for i in range(num_clips):
        frames = np.concatenate([parts[i][:half], parts[i + 1][half:]])
        stats = scene.frame_statistics(frames)
        keys = scene.key_frame_indices(stats["hist_distance"])
        out.append((frames, keys))
    return out
