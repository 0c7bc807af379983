"""The training batches of a run, from a data position on: made in this process, or by the
workers of a tf.data service.

Every training sample is a pure function of (seed, its index) (`vsr_latent.data.pipelines`), so
a pipeline that starts at data position ``p`` (global batches consumed) computes nothing before
it and serves the batches an uninterrupted run would serve from there.

Input on other machines: with ``data_service="grpc://HOST:PORT"`` the training pipeline runs on
the workers of a tf.data service dispatcher (`_through_data_service`); this process only
receives batches.
"""

import tensorflow as tf

from vsr_latent.data.pipelines import build_train_dataset, endless
from vsr_latent.scale import SCALE


def dataset_fn(config, position):
    """The per-worker dataset function of ``config``'s training data, starting at global batch
    ``position`` (the batches before it are not made: each sample is a function of its index)."""
    data = config.data

    def fn(input_context):
        return build_train_dataset(data, seq_len=config.model.seq_len,
                                   input_context=input_context, repeat=True, scale=SCALE,
                                   start_batch=position)

    return fn


def distributed_dataset(config, strategy, position=0):
    """The endless stream of global training batches from ``position`` on, split over
    ``strategy``'s replicas."""
    fn = dataset_fn(config, position)
    if config.data_service:
        fn = _through_data_service(config, fn, position)
    return strategy.distribute_datasets_from_function(fn)


def _through_data_service(config, fn, position):
    """``fn``'s pipeline run by the tf.data service workers of ``config.data_service``.

    "distributed_epoch": the dispatcher hands each window of the (splittable) pipeline to
    one worker, so no sample is made twice; the workers' batches reach this process in the
    order they finish, so the stream is the same samples as without the service but not
    in the same order. One job per (run, data position): a resumed run starts a new job.
    """
    service = config.data_service
    job = f"{config.name}-seed{config.data.seed}-pos{position}"

    def through_service(input_context):
        ds = fn(input_context).apply(tf.data.experimental.service.distribute(
            processing_mode="distributed_epoch", service=service, job_name=job))
        return endless(ds).prefetch(tf.data.AUTOTUNE)

    return through_service
