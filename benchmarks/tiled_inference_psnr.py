"""Quality, not speed: `ours_cpu` on whole validation frames against the same frames upscaled in
tiles with context (docs/cpu_scale.md, "whole frames against tiles").

    python benchmarks/tiled_inference_psnr.py      # needs the cpu dataset root (docs/cpu_scale.md)

The frames are the first L frames of the cpu budget's validation clips, degraded whole; PSNR is
`crops_psnr`'s (RGB, 8-bit). Vid4 is not used. Prints one line per inference.
"""

import sys
import time

import numpy as np

import vsr_latent  # noqa: F401 - before TensorFlow: the package's CPU kernels


def tiled(fn, tile, margin, scale=4):
    """``predict(lr)`` that upscales (1, L, h, w, 3) in ``tile``-pixel tiles, each with ``margin``
    LR pixels of context on every side that the frame has, and keeps the tiles' middles."""
    def predict(lr):
        _, length, h, w, _ = lr.shape
        out = np.zeros((1, length, scale * h, scale * w, 3), np.float32)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                t0, l0 = max(0, top - margin), max(0, left - margin)
                t1, l1 = min(h, top + tile + margin), min(w, left + tile + margin)
                sr = fn(lr[:, :, t0:t1, l0:l1])
                bh, bw = min(tile, h - top), min(tile, w - left)
                out[:, :, scale * top:scale * (top + bh), scale * left:scale * (left + bw)] = sr[
                    :, :, scale * (top - t0):scale * (top - t0 + bh),
                    scale * (left - l0):scale * (left - l0 + bw)]
        return out
    return predict


def main():
    import tensorflow as tf

    from vsr_latent import run_folder
    from vsr_latent.configs import get_config
    from vsr_latent.pretrained import pretrained_path
    from vsr_latent.training.trainer import config_validation_crops, crops_psnr

    model = run_folder.load_keras_model(pretrained_path("ours_cpu"))
    run_folder.set_sampling(model, False)
    config = get_config("ours", budget="cpu",
                        overrides=["data.degrade_context=true", "data.val_lr_crop=100000"])
    frames = config_validation_crops(config)
    graph = tf.function(lambda lr: model.dual_forward(lr, training=False)[0],
                        reduce_retracing=True)

    def whole(lr):
        return graph(tf.constant(lr)).numpy()

    for name, predict in [("whole frames", whole),
                          ("32x32 tiles, 16 px context", tiled(whole, 32, 16)),
                          ("64x64 tiles, 16 px context", tiled(whole, 64, 16))]:
        start = time.perf_counter()
        print(f"{name}: {crops_psnr(predict, frames):.4f} dB "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
