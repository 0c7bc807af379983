"""Helper process for tests/test_crash_safety.py: writes one kind of output over and over.

    python tests/crash_writer.py KIND OUT_DIR

writes OUT_DIR/item_<i><ext> for i = 0, 1, 2, ... through the package's own writers and prints
``wrote <i>`` after each one is complete, until it is killed. The content of item i is a
deterministic function of i (see `expected_*` below, shared with the test), so the test can check
that every output present under its final name is complete and exactly what was meant.
"""

import sys
from pathlib import Path

import numpy as np

VIDEO_FRAMES, VIDEO_SIZE = 12, (32, 48)
JSON_VALUES = 40_000


def expected_frames(i):
    """(T, H, W, 3) uint8: flat grey frames whose level encodes (item, frame)."""
    h, w = VIDEO_SIZE
    levels = [(i * 7 + k * 13) % 200 + 20 for k in range(VIDEO_FRAMES)]
    return np.stack([np.full((h, w, 3), v, np.uint8) for v in levels])


def expected_json(i):
    return {"item": i, "values": [(i + k) % 1000 for k in range(JSON_VALUES)]}


def expected_results_sequences(i):
    rng = np.random.default_rng(i)
    gt = rng.integers(0, 256, (5, 40, 40, 3)).astype(np.float32)
    sr = np.clip(gt + rng.normal(0, 4 + i % 5, gt.shape), 0, 255)
    return [("seq", sr, gt)]


def tiny_model():
    from vsr_latent.models import build_model

    return build_model("res16", seq_len=2, filters=4, num_layers=1)


def set_item_weights(model, i):
    """Every weight of the model = its item number, so a reader can tell which item it got."""
    model.set_weights([np.full(w.shape, float(i), np.float32) for w in model.get_weights()])


def write(kind, out_dir, i, state):
    from vsr_latent import atomic

    if kind in ("video", "frames"):
        from vsr_latent.data.video_io import FrameWriter

        path = out_dir / (f"item_{i}.mp4" if kind == "video" else f"item_{i}")
        with FrameWriter(path, fps=25) as w:
            for f in expected_frames(i):
                w.write(f)
    elif kind == "json":
        atomic.write_json(out_dir / f"item_{i}.json", expected_json(i))
    elif kind == "results":
        from vsr_latent.evaluation import evaluate_sequences

        evaluate_sequences(expected_results_sequences(i)).write(out_dir / f"item_{i}")
    elif kind == "keras":
        from vsr_latent.serving.saved_model import save_keras

        set_item_weights(state["model"], i)
        save_keras(state["model"], out_dir / f"item_{i}.keras")
    elif kind == "savedmodel":
        from vsr_latent.serving.saved_model import export_saved_model

        set_item_weights(state["model"], i)
        export_saved_model(state["model"], out_dir / f"item_{i}")
    else:
        raise SystemExit(f"unknown kind {kind}")


def main():
    kind, out_dir = sys.argv[1], Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {}
    if kind in ("keras", "savedmodel"):
        state["model"] = tiny_model()
    i = 0
    while True:
        write(kind, out_dir, i, state)
        print(f"wrote {i}", flush=True)
        i += 1


if __name__ == "__main__":
    main()
