"""Quality, not speed: `ours_cpu` on whole validation frames against the same frames upscaled in
tiles by the package's tiler, `upscale --tile` (docs/cpu_scale.md, "whole frames against tiles").

    python benchmarks/tiled_inference_psnr.py      # needs the cpu dataset root (docs/cpu_scale.md)

The frames are the first L frames of the cpu budget's validation clips, degraded whole; PSNR is
`crops_psnr`'s (RGB, 8-bit). Vid4 is not used. Prints one line per inference.
"""

import sys
import time

import vsr_latent  # noqa: F401 - before TensorFlow: the package's CPU kernels


class _Predictor:
    """The model's mean path on (L, h, w, 3), as `serving.video.predict_window` calls it."""

    scale = 4

    def __init__(self, graph):
        self.graph = graph

    def __call__(self, window):
        return self.graph(window[None])[0].numpy()


def tiled(predictor, tile, overlap):
    """``predict(lr)`` for (1, L, h, w, 3) through the package's tiler (`upscale --tile`)."""
    from vsr_latent.serving.video import predict_window

    return lambda lr: predict_window(predictor, lr[0], tile=tile, overlap=overlap)[None]


def main():
    import tensorflow as tf

    from vsr_latent import run_folder
    from vsr_latent.configs import get_config
    from vsr_latent.metrics import crops_psnr
    from vsr_latent.pretrained import pretrained_path
    from vsr_latent.training.trainer import config_validation_crops

    model = run_folder.load_keras_model(pretrained_path("ours_cpu"))  # mean path: no sampling
    config = get_config("ours", budget="cpu",
                        overrides=["data.degrade_context=true", "data.val_lr_crop=100000"])
    frames = config_validation_crops(config)
    graph = tf.function(lambda lr: model.dual_forward(lr, training=False)[0],
                        reduce_retracing=True)

    predictor = _Predictor(graph)
    for name, predict in [("whole frames", tiled(predictor, None, 0)),
                          ("32x32 tiles, 16 px overlap", tiled(predictor, 32, 16)),
                          ("64x64 tiles, 16 px overlap", tiled(predictor, 64, 16))]:
        start = time.perf_counter()
        print(f"{name}: {crops_psnr(predict, frames):.4f} dB "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
