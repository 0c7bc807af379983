"""Train a config, or reuse its finished run: ``<runs>/<config name>/`` (``<runs>/<budget>/...``
at a budget other than full).

A run folder whose ``config.json`` describes the config asked for (older forms of config.json
included) and which holds ``model.keras`` is complete and reused as it is; one with the same config
but no ``model.keras`` is an interrupted run, which training resumes from its last checkpoint. A
folder made with different settings is never silently reused or overwritten: that is an error
naming both.
"""

import dataclasses
import json
import time
from pathlib import Path

from vsr_latent.configs import apply_overrides, config_from_dict, get_config
from vsr_latent.errors import ConfigError
from vsr_latent.paper.context import RunInfo
from vsr_latent.training import train
from vsr_latent.training.strategy import default_strategy

# Fields of a run's config that do not change what is trained.
IGNORED_CONFIG_KEYS = ("log_every", "image_every", "checkpoint_every", "keep_checkpoints")

# Configs of different tables that train the same model: Table 3's L = 7 models are Figure 6's
# n = 7 ones, and Figure 6's n = 4 ones are Table 1's (L = 4). The first is trained under the
# second's name, after checking that the two configs agree in everything but name (if a config
# changes, each is trained on its own).
SAME_RUN = {
    "table3_latn10_7": "figure6_latn10_n7",
    "table3_satn10_7": "figure6_satn10_n7",
    "figure6_latn10_n4": "table1_latn10",
    "figure6_satn10_n4": "table1_satn10",
}


def _comparable(d):
    return {k: v for k, v in d.items() if k not in IGNORED_CONFIG_KEYS}


def _user_overrides(ctx, config):
    """The user's ``--set`` items for ``config``: a step count of a stage the config does not
    have is left alone (0 stays 0), so ``--set stage2_steps=N`` can be given to every table."""
    out = []
    for item in ctx.overrides:
        key = item.split("=", 1)[0].strip()
        if key in ("stage1_steps", "stage2_steps") and getattr(config, key) == 0:
            continue
        out.append(item)
    return out


def resolve_config(ctx, name, changes=None):
    """The config ``name`` at the context's budget with the user's ``--set`` items, then
    ``changes`` (ExperimentConfig fields, e.g. Table 3's ``init_from`` of a stage 2); checked, as
    every ExperimentConfig is when made."""
    config = get_config(name, budget=ctx.budget)
    config = apply_overrides(config, _user_overrides(ctx, config))
    return dataclasses.replace(config, **(changes or {}))


def _same_model(a, b):
    skip = ("name",) + IGNORED_CONFIG_KEYS
    da, db = a.to_dict(), b.to_dict()
    return {k: v for k, v in da.items() if k not in skip} == {
        k: v for k, v in db.items() if k not in skip}


def training_degradation(run_dir, fallback):
    """The degradation a run's model was trained on: ``data.degradation`` of ``RUN/config.json``
    (what actually ran), else ``fallback`` (the config's, or the Vid4 default for a bare model).
    Figures feed a model LR frames made the way its training LR frames were: a model trained on
    "scipy" LR frames is not shown "bi" ones."""
    try:
        saved = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
        degradation = saved["data"]["degradation"]
    except (OSError, ValueError, KeyError, TypeError):
        return fallback
    return degradation if isinstance(degradation, str) and degradation else fallback


def run_is_complete(run_dir, config):
    """True when ``run_dir`` holds a finished run of exactly ``config``.

    Raises ConfigError when it holds a run of different settings.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        return False
    try:
        saved = config_from_dict(json.loads(cfg_path.read_text(encoding="utf-8"))).to_dict()
    except (OSError, ValueError, ConfigError) as e:
        raise ConfigError(f"{cfg_path}: unreadable run config ({e}); remove the folder or pass "
                          "another --runs") from None
    want = config.to_dict()
    if _comparable(saved) != _comparable(want):
        diff = sorted(k for k in set(saved) | set(want)
                      if k not in IGNORED_CONFIG_KEYS and saved.get(k) != want.get(k))
        raise ConfigError(f"{run_dir} holds a run of {saved.get('name')!r} with other settings "
                          f"(differs in {', '.join(diff)}); remove it or pass another --runs")
    return (run_dir / "model.keras").is_file()


def _finished_here(ctx, name, config):
    try:
        return run_is_complete(ctx.runs_dir / name, config)
    except ConfigError:
        return False


def ensure_run(ctx, name, changes=None):
    """A finished run of config ``name`` (trained now, resumed, or reused): :class:`RunInfo`.
    ``changes``: see :func:`resolve_config`."""
    if name in ctx.runs:
        return ctx.runs[name]
    config = resolve_config(ctx, name, changes)
    other = SAME_RUN.get(name)
    if other is not None and not changes and _finished_here(ctx, name, config):
        other = None  # a finished run under its own name (e.g. `vsr-latent train`) is used
    if other is not None and not changes:
        other_config = resolve_config(ctx, other)
        if _same_model(config, other_config):
            ctx.log(f"{name}: same model and settings as {other}; using that run")
            info = ensure_run(ctx, other)
            ctx.runs[name] = info
            return info
    run_dir = ctx.runs_dir / name
    steps = config.stage1_steps + config.stage2_steps
    if run_is_complete(run_dir, config):
        ctx.log(f"{name}: reusing the finished run {run_dir}")
        info = RunInfo(name, run_dir, config, steps, trained_now=False, wall_s=0.0)
    else:
        # The process's one strategy (vsr_latent.training.strategy): every model of every table
        # trains on it; a second MirroredStrategy's all-reduces would fail.
        strategy = default_strategy()
        replicas = strategy.num_replicas_in_sync
        ctx.log(f"{name}: training {config.model.name} (L={config.model.seq_len}) for {steps} "
                f"steps on {replicas} replica(s) -> {run_dir}")
        t0 = time.monotonic()
        train(config, run_dir, strategy=strategy, progress=not ctx.quiet, log=ctx.log)
        wall = time.monotonic() - t0
        ctx.log(f"{name}: trained in {wall:.0f} s")
        info = RunInfo(name, run_dir, config, steps, trained_now=True, wall_s=wall,
                       replicas=replicas)
    ctx.runs[name] = info
    return info
