"""How long the paper's training takes on this machine: ``vsr-latent benchmark --train``.

It times, on whatever devices are visible and through the package's own strategy
(`vsr_latent.training.strategy.default_strategy`: MirroredStrategy over several GPUs):

1. the trainer's real compiled step (`TrainStep.step_fn`: forward, loss, backward, all-reduce,
   clipping, Adam, the device-side metrics) of one config, stage 1 and, for a variational model,
   stage 2, fed a fixed global batch split over the replicas by a distributed dataset (each
   replica gets its share, so samples/s counts every replica's work once);
2. the config's input pipeline (`pipelines.train_dataset` with its source, L, degradation,
   patch and batch), per distinct (L, degradation) of the tables.

Each table's configs are projected from these: a config's step time is the timed config's,
scaled by the ratio of the models' forward FLOPs per sample (`vsr_latent.perf.flops`; exact for
the timed config, an estimate for the others, said in the output), and a step takes
``max(step, batch / pipeline rate)``: the slower of the two limits the run and is named.
"""

import dataclasses
import tempfile
import time

import tensorflow as tf

from vsr_latent.configs import get_config
from vsr_latent.configs.base import STAGE2_FORWARD_PASSES
from vsr_latent.configs.experiments import REGISTRY
from vsr_latent.data.pipelines import build_train_dataset
from vsr_latent.hardware import describe
from vsr_latent.models import build_model
from vsr_latent.perf.flops import count_flops
from vsr_latent.training.trainer import Trainer

STAGE_NAMES = {1: "stage1", 2: "stage2"}


def table_of(name):
    """The table or figure a registry config belongs to: ``table1``, ``figure6``, ``ours``."""
    return name.split("_", 1)[0]


def tables(names=None):
    """{table: [config names]} of the registry (or of ``names``), in registry order."""
    out = {}
    for name in names or REGISTRY:
        out.setdefault(table_of(name), []).append(name)
    return out


def fixed_batch_dataset(strategy, batch):
    """A distributed dataset repeating one global batch: each replica gets its part of it (a
    plain tensor passed to ``strategy.run`` would give every replica the whole batch)."""
    ds = tf.data.Dataset.from_tensors(batch).unbatch().batch(
        int(batch[0].shape[0]), drop_remainder=True).repeat()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return strategy.experimental_distribute_dataset(ds.with_options(options))


def _devices(strategy):
    try:
        return list(strategy.extended.worker_devices)
    except RuntimeError:  # the default (no-op) strategy: this process's default device

        gpus = tf.config.list_logical_devices("GPU")
        return [(gpus or tf.config.list_logical_devices("CPU"))[0].name]


def time_train_step(trainer, batch, stage, steps=5, warmup=1):
    """Seconds per step of the trainer's compiled step on ``batch`` (global): (first call with
    tracing, median of ``steps`` timed steps). Synchronises once per timed step by reading the
    step counter, as the loop does only at its log steps."""
    it = iter(fixed_batch_dataset(trainer.strategy, batch))
    fn = trainer.train_step.step_fn(stage)
    t0 = time.perf_counter()
    for _ in range(max(1, warmup)):
        fn(next(it))
    trainer.step.numpy()
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn(next(it))
        trainer.step.numpy()
        times.append(time.perf_counter() - t0)
    times.sort()
    return first, times[len(times) // 2]


def time_pipeline(ds, batches, warmup=2):
    """(samples/s over ``batches`` batches after ``warmup``, the last batch)."""
    it = iter(ds)
    for _ in range(warmup):
        batch = next(it)
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        batch = next(it)
        n += int(batch[0].shape[0])
    batch[1].numpy()
    return n / (time.perf_counter() - t0), batch


def config_dataset(config):
    """The config's training pipeline (one process, no sharding), prefetched."""
    ds = build_train_dataset(config.data, seq_len=config.model.seq_len, repeat=True,
                             scale=config.model.scale)
    return ds.prefetch(tf.data.AUTOTUNE)


def forward_flops_per_sample(config):
    """Forward FLOPs of one training sample (L frames of the config's LR patch)."""
    p = config.data.lr_patch
    model = build_model(config.model)
    return count_flops(model, (1, config.model.seq_len, p, p, 3)).total


@dataclasses.dataclass
class Projection:
    config: str
    table: str
    steps: dict  # {"stage1": n, "stage2": n}
    seconds_per_step: dict  # the step alone, per stage
    pipeline_seconds_per_step: float
    measured: bool  # the step was timed (else scaled by FLOPs from the timed config)

    @property
    def limit(self):
        worst = max(self.seconds_per_step.values(), default=0.0)
        return "pipeline" if self.pipeline_seconds_per_step > worst else "step"

    @property
    def hours(self):
        return sum(n * max(self.seconds_per_step[s], self.pipeline_seconds_per_step)
                   for s, n in self.steps.items() if n) / 3600.0

    def to_dict(self):
        return {**dataclasses.asdict(self), "limit": self.limit, "hours": self.hours}


def run_training_benchmark(config_name="ours", budget=None, overrides=(), steps=5,
                           pipeline_batches=10, table_names=None, strategy=None, log=print):
    """Times ``config_name``'s step and the pipelines, projects every table's full budget.

    ``budget`` and ``overrides`` change what is TIMED (e.g. a smaller batch on a CPU); the
    projections are always of the registry configs' full budget, with the timed config's
    seconds per sample scaled to each config's batch. Returns a JSON-able dict.
    """
    timed = get_config(config_name, budget=budget, overrides=list(overrides))
    result = {"machine": describe(), "timed_config": timed.name, "budget": budget or "full",
              "overrides": list(overrides), "precision": timed.precision,
              "jit_compile": timed.jit_compile, "batch": timed.data.batch_size,
              "lr_patch": timed.data.lr_patch, "seq_len": timed.model.seq_len}
    pipeline_rate, batch = time_pipeline(config_dataset(timed), pipeline_batches)
    result["pipeline_samples_per_s"] = pipeline_rate
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(timed, run_dir, strategy=strategy, progress=False, log=lambda m: None)
        result["replicas"] = trainer.num_replicas
        result["devices"] = _devices(trainer.strategy)
        variational = trainer.model.variational
        result["step"] = {}
        for stage in (1, 2) if variational else (1,):
            first, seconds = time_train_step(trainer, batch, stage, steps=steps)
            row = {"first_step_seconds": first, "seconds_per_step": seconds,
                   "samples_per_s": timed.data.batch_size / seconds}
            result["step"][STAGE_NAMES[stage]] = row
            if log:
                log(f"{timed.name} {STAGE_NAMES[stage]}: {seconds:.4f} s/step, "
                    f"{row['samples_per_s']:.1f} samples/s on {trainer.num_replicas} replica(s) "
                    f"(batch {timed.data.batch_size}); first step {first:.1f} s")
    slowest = min(row["samples_per_s"] for row in result["step"].values())
    result["limit"] = "pipeline" if pipeline_rate < slowest else "step"
    if log:
        log(f"input pipeline ({timed.data.source}, L={timed.model.seq_len}, "
            f"{timed.data.degradation}): {pipeline_rate:.1f} samples/s")
        log(f"this run is limited by the {result['limit']}: the pipeline makes "
            f"{pipeline_rate:.1f} samples/s, the slowest step takes {slowest:.1f} samples/s "
            f"({pipeline_rate / slowest:.1f}x)")
    result["projections"] = project_tables(timed, result, table_names, pipeline_batches, log)
    return result


def project_tables(timed, result, table_names, pipeline_batches, log):
    timed_flops = forward_flops_per_sample(timed)
    per_sample = {s: row["seconds_per_step"] / timed.data.batch_size
                  for s, row in result["step"].items()}
    # Stage 2 of a config: the timed stage-2 step scaled like stage 1 and by the ratio of the
    # two configs' forward passes per stage-2 step (`stage2_forward`); without a timed stage 2
    # (the timed model is not variational) a stage-1 step times the config's passes.
    timed_passes = STAGE2_FORWARD_PASSES[timed.stage2_forward]
    pipelines = {(timed.model.seq_len, timed.data.degradation, timed.data.source):
                 result["pipeline_samples_per_s"]}
    flops_cache = {}
    out = []
    wanted = tables(table_names and [n for n in REGISTRY if table_of(n) in table_names])
    for table, names in wanted.items():
        for name in names:
            config = get_config(name)
            key = (config.model, config.data.lr_patch)
            if key not in flops_cache:
                flops_cache[key] = forward_flops_per_sample(config)
            factor = flops_cache[key] / timed_flops
            measured = config.model == timed.model and config.data.lr_patch == timed.data.lr_patch
            b = config.data.batch_size
            seconds = {"stage1": per_sample["stage1"] * factor * b}
            passes = STAGE2_FORWARD_PASSES[config.stage2_forward]
            seconds["stage2"] = (seconds["stage1"] * passes if "stage2" not in per_sample
                                 else per_sample["stage2"] * factor * b * passes / timed_passes)
            pkey = (config.model.seq_len, config.data.degradation, timed.data.source)
            if pkey not in pipelines:
                probe = dataclasses.replace(
                    timed, model=timed.model.replace(seq_len=config.model.seq_len),
                    data=dataclasses.replace(timed.data, degradation=config.data.degradation))
                pipelines[pkey] = time_pipeline(config_dataset(probe), pipeline_batches)[0]
            projection = Projection(
                config=name, table=table,
                steps={"stage1": config.stage1_steps, "stage2": config.stage2_steps},
                seconds_per_step=seconds, pipeline_seconds_per_step=b / pipelines[pkey],
                measured=measured)
            out.append(projection.to_dict())
        if log:
            rows = [p for p in out if p["table"] == table]
            hours = sum(p["hours"] for p in rows)
            limits = sorted({p["limit"] for p in rows})
            timed_here = sum(p["measured"] for p in rows)
            log(f"{table}: {len(rows)} run(s), {hours:,.1f} h ({hours / 24:,.1f} days) in all on "
                f"this machine, limited by the {' and the '.join(limits)} ({timed_here} of the "
                f"runs' steps timed, the others scaled by forward FLOPs per sample)")
    return out
