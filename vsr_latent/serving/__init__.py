"""Serving: running a trained model on frames and videos, and exporting it for other runtimes.

* ``loading``: ``load_predictor(spec)`` / ``load_model(spec)``, the one resolver of model specs
  (run folder, ``.keras`` file, SavedModel folder, ``.onnx`` file, registry or pretrained name,
  ``bicubic``).
* ``predictors``: ``Predictor`` and its TensorFlow kinds (bicubic, Keras, SavedModel),
  ``upscale_sequence`` (the paper's chunking, §6.2).
* ``onnx_runtime``: ``OnnxPredictor``, an ``.onnx`` file in onnxruntime without TensorFlow.
* ``video``: ``upscale_video``, streaming and tiling a video of any length and frame size.
* ``saved_model``, ``onnx_export``: writing ``.keras`` files, SavedModels and ONNX files;
  ``export``: ``export_model(spec, out)``, what ``vsr-latent export`` does.

Serving reads run folders through ``vsr_latent.run_folder`` and never imports training. Importing
this package or any module of it does not import TensorFlow; loading a Keras model does.
"""
