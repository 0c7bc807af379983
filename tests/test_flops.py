"""The FLOP counter (``vsr_latent.perf.flops``) against hand counts and TensorFlow's profiler."""

import pytest
import tensorflow as tf


def test_flops_of_one_conv3d_by_hand():
    import keras

    from vsr_latent.perf.flops import count_flops

    conv = keras.layers.Conv3D(4, 3, padding="same")
    conv.build((None, None, None, None, 3))
    report = count_flops(conv, (1, 2, 5, 6, 3))
    # 2 FLOPs per multiply-add, 60 output positions x 4 channels, each 27 taps x 3 channels.
    assert report.total == 2 * (2 * 5 * 6) * 4 * (27 * 3) == 38880
    assert [e.kind for e in report.layers] == ["conv"]
    assert report.layers[0].output_shape == (1, 2, 5, 6, 4)


@pytest.mark.parametrize("budget", [None, 64])
def test_flops_of_long_attention_block_by_hand(budget):
    from vsr_latent.layers import LongAttention
    from vsr_latent.perf.flops import count_flops

    c, ci, frames, h, w = 8, 4, 2, 8, 12
    block = LongAttention(c, inner_filters=ci, max_attention_elements=budget)
    block.build((None, None, None, None, c))
    report = count_flops(block, (1, frames, h, w, c))
    embed = 2 * (frames * h * w) * c * 27 * c              # Conv3D k3, c -> c, full resolution
    pooled = frames * (h // 2) * (w // 2)                  # query positions after pooling
    linear = 3 * 2 * pooled * c * ci                       # theta, phi, g (1x1)
    keys = frames * (h // 4) * (w // 4)                    # keys/values pooled once more
    attention = 2 * pooled * keys * ci + 2 * pooled * keys * ci   # Q K^T, then weights V
    restore = 2 * pooled * 16 * ci * c                     # transposed conv k4 s2, ci -> c
    # Chunking the queries (budget 64) changes the schedule, not the work.
    assert report.total == embed + linear + attention + restore == 731136
    assert report.by_kind()["attention"] == attention
    assert report.softmax_elements == pooled * keys


def test_flops_equal_tensorflow_profiler_on_tiny_model():
    from vsr_latent.models import build_model
    from vsr_latent.perf.flops import count_flops, profiler_flops

    # Unchunked attention: the profiler counts ops inside a tf.map_fn loop body only once.
    model = build_model("ours", filters=8, num_layers=5, max_attention_elements=None)
    shape = (1, 3, 16, 20, 3)
    report = count_flops(model, shape)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec(shape, tf.float32))
    assert profiler_flops(fn) == report.total
    kinds = report.by_kind()
    assert set(kinds) == {"conv", "conv_transpose", "dense", "attention"}
    assert all(v > 0 for v in kinds.values())


def test_bicubic_flops_formula():
    from vsr_latent.perf.flops import bicubic_flops

    # One 2x3 RGB frame to 8x12: rows (8x2 weights on 3 columns x 3 channels), then columns.
    assert bicubic_flops((1, 1, 2, 3, 3)) == 2 * 8 * 2 * 3 * 3 + 2 * 8 * 12 * 3 * 3
