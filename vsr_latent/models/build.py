"""Building registry models: ``build_model`` (a ``VSRNet`` with fresh weights) and
``count_params``. The registry itself (names and architectures) is `vsr_latent.architecture`."""

from vsr_latent.architecture import VSRNetConfig, model_config
from vsr_latent.models.vsr_net import VSRNet


def build_model(model, seq_len=None, **overrides):
    """A built ``VSRNet`` (fresh weights) of ``model``: a registry name, or a ``ModelConfig`` /
    ``VSRNetConfig`` (e.g. ``ExperimentConfig.model``).

    ``seq_len`` and ``overrides`` (``VSRNetConfig`` fields, e.g. ``filters=8, num_layers=2`` for
    tiny tests) change the architecture before it is built.
    """
    if isinstance(model, VSRNetConfig):
        if seq_len is not None:
            overrides["seq_len"] = int(seq_len)
        config = model.replace(**overrides)
    else:
        config = model_config(model, seq_len, **overrides)
    net = VSRNet(config)
    net.build((None, None, None, None, 3))
    return net


def count_params(model_or_name, **overrides):
    """Trainable parameters of a model (or of registry ``name`` built with ``overrides``).

    The variational mode flags (non-trainable scalars) are not counted.
    """
    if isinstance(model_or_name, (str, VSRNetConfig)):
        model_or_name = build_model(model_or_name, **overrides)
    return int(sum(int(w.numpy().size) for w in model_or_name.trainable_weights))
