"""The upscaling factor of the paper's experiments (x4), defined once.

``VSRNetConfig.scale`` defaults to it; the modules that use the factor without a model at hand (the
training data, Vid4's LR frames, the bicubic baseline and the ONNX predictor, which must not import
Keras or TensorFlow) read it here.
"""

SCALE = 4
