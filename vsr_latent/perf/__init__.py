"""Performance measurement: FLOP counting, timing, peak memory, the inference benchmark.

* ``flops``: ``count_flops(model, input_shape)`` walks the convolution, dense and long-attention
  calls of a traced forward pass; ``profiler_flops`` is TensorFlow's profiler count.
* ``timing``: ``time_call`` (median of repeats after warm-up), ``matmul_peak``.
* ``memory``: sampled RSS / GPU allocator peaks, ``run_child_max_rss`` for subprocesses.
* ``components``: parts of a model timed alone on their own activations.
* ``backends``: ``BACKENDS``, a dict of the backends (TensorFlow with XLA on/off, onnxruntime).
* ``inference``: ``run_benchmark(BenchSettings(...))`` -> rows (dicts), one per
  model x size x backend x XLA setting.
"""
