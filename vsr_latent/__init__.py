"""vsr_latent: Efficient Video Super-Resolution with Latent Attention in TensorFlow 2 / Keras 3.

Reference implementation of Wang, Dong, Gong, Chen, "Efficient Video Super-Resolution with
Latent Attention", Computer Science 50(11A), 2023. Importing the package is cheap: TensorFlow is
imported by the submodules that need it.
"""

from vsr_latent.cpu_backend import prefer_onednn

# Before any TensorFlow import: TensorFlow reads the variable once (see vsr_latent.cpu_backend).
prefer_onednn()

__version__ = "0.1.0"
