"""vsr_latent: Efficient Video Super-Resolution with Latent Attention in TensorFlow 2 / Keras 3.

Reference implementation of Wang, Dong, Gong, Chen, "Efficient Video Super-Resolution with
Latent Attention", Computer Science 50(11A), 2023. Importing the package is cheap: TensorFlow is
imported by the submodules that need it.
"""

__version__ = "0.1.0"
