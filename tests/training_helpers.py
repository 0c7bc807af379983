"""Shared by the training tests: the tiny model overrides and the one two-replica strategy."""

import functools

import pytest
import tensorflow as tf

from vsr_latent.configs import get_config

TINY = ["model.seq_len=3", "model.num_layers=2", 'model.blocks=["long"]',
        # Start far from the bicubic optimum (Glorot upscaler) so that learning shows in a few steps.
        "model.upscaler_init_scale=1.0"]


def tiny_config(name, *overrides):
    return get_config(name, budget="tiny", overrides=TINY + list(overrides))


@functools.cache
def two_replicas():
    # One strategy object for the whole test process: two live MirroredStrategy objects in one
    # process collide in their collectives (the second one's first all-reduce fails).
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < 2:
        pytest.skip("needs the two logical CPU devices that conftest sets up")
    return tf.distribute.MirroredStrategy([d.name for d in cpus[:2]])
