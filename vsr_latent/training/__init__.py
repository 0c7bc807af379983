"""Training (Algorithm 1) with a custom `tf.distribute` loop, checkpoints and TensorBoard logs.

    from vsr_latent.configs import get_config
    from vsr_latent.run_folder import restore_model
    from vsr_latent.training import train
    metrics = train(get_config("table1_latn10", budget="tiny"), "runs/try")
    model = restore_model("runs/try")

The run folder's layout and reading a model back out of it are `vsr_latent.run_folder`, shared
with serving.
"""


from vsr_latent.training.strategy import default_strategy
from vsr_latent.training.trainer import train

__all__ = ["default_strategy", "train"]
