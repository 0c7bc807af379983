"""``vsr-latent train``: train a named config (Algorithm 1) into a run folder, resuming if possible.

    vsr-latent train --list
    vsr-latent train --config table1_latn10 [--run_dir runs/table1_latn10] [--budget tiny]
                     [--set data.batch_size=8 --set model.filters=16 ...]

The run folder defaults to ``runs/<config name>``. If it already has checkpoints the run resumes
from the latest one (and says so); the resolved config is written to ``RUN/config.json``.
"""

import sys
from pathlib import Path

from vsr_latent import run_folder
from vsr_latent.command_runner import flag_error
from vsr_latent.configs import (
    CONFIG_NAMES,
    CPU_DATA_COMMAND,
    CPU_DATA_ROOT,
    describe,
    get_config,
)
from vsr_latent.configs.budgets import BUDGET_NAMES, budgets_help
from vsr_latent.configs.overrides import OverrideError
from vsr_latent.data.dataset_root import cpu_root_warning
from vsr_latent.errors import ConfigError


def register(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a model of the paper's experiments (resumes an interrupted run)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--config", help="config name (see --list)")
    p.add_argument("--run_dir", dest="run_dir",
                   help="run folder (default runs/<config name>)")
    p.add_argument("--budget", "--scale", dest="budget", choices=BUDGET_NAMES, default=None,
                   help=f"how much compute the run gets (--scale is its old name): "
                        f"{budgets_help()}. Default: full (tiny for --config smoke)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, dotted keys (e.g. data.batch_size=8, "
                        "model.filters=16, model.seq_len=5); repeatable")
    p.add_argument("--list", action="store_true", help="list the config names and exit")
    p.add_argument("--describe", action="store_true",
                   help="print what the config reproduces and its resolved fields, then exit")
    p.add_argument("--no_progress", dest="progress", action="store_false",
                   help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    if args.list:
        for name in CONFIG_NAMES:
            first = describe(name).splitlines()[0] if describe(name) else ""
            print(f"{name:24s} {first}")
        return 0
    if not args.config:
        raise ConfigError("--config NAME is required (see vsr-latent train --list)")
    try:
        config = get_config(args.config, budget=args.budget, overrides=args.overrides)
    except OverrideError as e:
        raise flag_error("--set", e) from None
    if args.describe:
        print(describe(args.config))
        print(config.to_json())
        return 0
    run_dir = Path(args.run_dir or Path("runs") / config.name)
    if config.budget == "cpu" and not Path(config.data.source).is_dir():
        raise ConfigError(f"{config.data.source}: the cpu budget's dataset root does not exist; "
                          f"make it with `{CPU_DATA_COMMAND}` or pass --set data.source=DIR")
    if config.budget == "cpu" and Path(config.data.source) == Path(CPU_DATA_ROOT):
        _warn_if_cpu_root_differs(config.data.source)

    from vsr_latent.training.trainer import train

    metrics = train(config, run_dir, progress=args.progress,
                    log=lambda msg: print(msg, flush=True))
    summary = ", ".join(
        f"{k}={v:.4g}" for k, v in metrics.items() if k != "step" and isinstance(v, float)
    )
    model_file = run_folder.model_path(run_dir)  # absent on a non-chief worker: chief writes it
    print(f"Finished {config.name} at step {metrics['step']}"
          + (f": {summary}" if summary else "")
          + (f"; model: {model_file}" if model_file.is_file() else ""),
          flush=True)
    return 0


def _warn_if_cpu_root_differs(root):
    """Said before hours of training rather than found later on the model card."""
    warning = cpu_root_warning(root)
    if warning:
        print(warning, file=sys.stderr, flush=True)
