"""Data: video reading and writing, degradations, built-in clips, Vid4 helpers, tf.data pipelines.

Importing this package is cheap; TensorFlow is imported only by ``pipelines`` and, when they are
called, by the TF halves of ``degrade`` (``tf_degrade``) and ``raw_frames`` (``tf_read_boxes``):
the data tools and the ONNX runtime path read and write video without it (docs/architecture.md).
"""
