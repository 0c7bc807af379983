"""Data: video reading and writing, degradations, built-in clips, Vid4 helpers, tf.data pipelines.

Importing this package is cheap; TensorFlow is imported only by ``pipelines`` and by the TF half of
``degrade`` (``tf_degrade``).
"""
