"""Motion and scene-change statistics for the Remote selection (paper §6.2).

Measured per pair of consecutive frames, streaming:

- **mean absolute frame difference** (MAD) of luma (BT.601 weights, 0..255), on frames
  block-averaged to at most :data:`ANALYSIS_WIDTH` pixels wide (so values do not depend on the
  resolution and noise is averaged out) — the motion measure;
- **colour-histogram distance**: per-channel histograms of :data:`HIST_BINS` bins, normalised;
  distance = half the L1 difference averaged over R, G, B (0 = same colours, 1 = disjoint) — the
  scene-change measure.

A clip is "Remote" when its mean MAD reaches the motion threshold (strong motion) AND its largest
histogram jump reaches the scene threshold (a large scene change). Key frames are the frames right
after the largest histogram jumps. The paper extracted them with FFmpeg; this is the equivalent of
FFmpeg's scene-change filter ``select='gt(scene,T)'`` (which scores each frame against the previous
one and keeps those above T), computed here so that the decision values can be recorded.
"""

import numpy as np

ANALYSIS_WIDTH = 320
HIST_BINS = 16
#: Remote selection defaults (configurable on the command line).
MOTION_THRESHOLD = 6.0
SCENE_THRESHOLD = 0.3
NUM_KEY_FRAMES = 3


def _small_luma(frame):
    f = np.asarray(frame, dtype=np.float32)
    h, w = f.shape[:2]
    k = max(1, int(np.ceil(w / ANALYSIS_WIDTH)))
    if k > 1:
        f = f[: h // k * k, : w // k * k].reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))
    return f @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _histogram(frame):
    f = np.asarray(frame)
    hs = [np.bincount((f[..., c].ravel() // (256 // HIST_BINS)).astype(np.int64), minlength=HIST_BINS)
          for c in range(3)]
    h = np.stack(hs).astype(np.float64)
    return h / h.sum(axis=1, keepdims=True)


def frame_statistics(frames):
    """Iterable of uint8 (H, W, 3) frames -> {"mad": [...], "hist_distance": [...]} (T - 1 each)."""
    mad, dist = [], []
    prev_l = prev_h = None
    for f in frames:
        l, h = _small_luma(f), _histogram(f)
        if prev_l is not None:
            mad.append(float(np.mean(np.abs(l - prev_l))))
            dist.append(float(0.5 * np.abs(h - prev_h).sum(axis=1).mean()))
        prev_l, prev_h = l, h
    return {"mad": mad, "hist_distance": dist}


def key_frame_indices(hist_distance, num_key_frames=NUM_KEY_FRAMES):
    """Frames right after the ``num_key_frames`` largest histogram jumps, in time order."""
    d = np.asarray(hist_distance)
    order = np.argsort(-d, kind="stable")[:num_key_frames]
    return sorted(int(i) + 1 for i in order)


def remote_decision(stats, motion_threshold=MOTION_THRESHOLD, scene_threshold=SCENE_THRESHOLD,
                    num_key_frames=NUM_KEY_FRAMES):
    """Summary values, the decision and the key frames for one clip's statistics."""
    mad = np.asarray(stats["mad"])
    dist = np.asarray(stats["hist_distance"])
    motion = float(mad.mean()) if mad.size else 0.0
    scene = float(dist.max()) if dist.size else 0.0
    strong_motion = motion >= motion_threshold
    scene_change = scene >= scene_threshold
    selected = bool(strong_motion and scene_change)
    return {
        "mean_abs_frame_difference": motion,
        "max_hist_distance": scene,
        "max_hist_distance_at": int(dist.argmax()) + 1 if dist.size else None,
        "motion_threshold": motion_threshold,
        "scene_threshold": scene_threshold,
        "strong_motion": bool(strong_motion),
        "large_scene_change": bool(scene_change),
        "selected": selected,
        "key_frame_indices": key_frame_indices(dist, num_key_frames) if selected else [],
    }
