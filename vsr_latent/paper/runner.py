"""``python -m vsr_latent.paper NAME [options]``: reproduce one table or figure, or ``all``.

Used by ``reproduce/<name>.sh`` and by ``vsr-latent quickstart``.
"""

import sys
import time

from vsr_latent.command_runner import OneLineErrorParser, flag_error, run_command
from vsr_latent.configs.budgets import BUDGET_NAMES, budgets_help
from vsr_latent.configs.overrides import OverrideError
from vsr_latent.data.dataset_root import check_training_root
from vsr_latent.native_logs import quiet_native_logs
from vsr_latent.paper import NAMES


def add_arguments(parser, *, defaults_out="results", defaults_runs="runs"):
    parser.add_argument("--budget", "--scale", dest="budget", choices=BUDGET_NAMES, default=None,
                        help=f"how much compute each run gets (--scale is its old name): "
                             f"{budgets_help()}. full trains on --data_root; cpu on --data_root "
                             f"(default data/cpu_root, made from ../shared/data/train_clips). "
                             f"Default: full when --data_root is given and a GPU is visible, "
                             f"else smoke")
    parser.add_argument("--data_root", default=None,
                        help="dataset root made by data_tools (the paper's Normal/Remote data)")
    parser.add_argument("--vid4_root", default=None,
                        help="Vid4 folder with GT/<sequence>/ frames (Tables 4, 5); default "
                             "../shared/data/Vid4 when present")
    parser.add_argument("--out", default=defaults_out,
                        help=f"where results/<name>.md, .csv and figures go (default {defaults_out})")
    parser.add_argument("--runs", default=defaults_runs,
                        help=f"training runs folder (default {defaults_runs}; runs of another "
                             f"budget than full go to <runs>/<budget>/<config>)")
    parser.add_argument("--steps", type=int, default=None,
                        help="tiny and smoke budgets only: training steps per run (stage 2 gets "
                             "half)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="training setting for every config, as `vsr-latent train --set` "
                             "(e.g. data.batch_size=8 where the default batch does not fit); "
                             "repeatable")
    parser.add_argument("--model", default=None, metavar="SPEC",
                        help="figure9 only: the model shown as ours (a run folder, .keras file, "
                             "SavedModel or registry name); default: the `ours` config's run, "
                             "trained or reused as for Table 4")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")


def build_parser():
    parser = OneLineErrorParser(
        prog="python -m vsr_latent.paper",
        description="Reproduce a table or figure of the paper: train what it needs (or reuse "
                    "finished runs), evaluate, write results/<name>.md and .csv.")
    parser.add_argument("name", choices=NAMES + ("all",))
    add_arguments(parser)
    parser.add_argument("--verbose", action="store_true",
                        help="show full tracebacks on errors and TensorFlow's own log lines")
    return parser


def run_one(name, ctx):
    """Runs one driver; returns the list of files written."""
    from vsr_latent.paper import figures, tables

    out = ctx.out_dir
    if name == "figure6":
        t, cache = tables.figure6_table(ctx)
        png = figures.plot_figure6(t, out / "figure6.png", t.label)
        t.figures.append(png.name)
        ctx.fill_meta(t, runs=tables.FIGURE6_CONFIGS.values(),
                      data=tables._validation_description(ctx, cache),
                      protocol=tables._protocol_line(),
                      extra={"Bicubic": tables._bicubic_line(cache)})
        return list(t.write(out)) + [png]
    if name == "figure7_8":
        from vsr_latent.paper import attention_figures

        return attention_figures.figure7_8(ctx)
    if name == "figure9":
        from vsr_latent.paper.figure9 import figure9

        return figure9(ctx)
    t = getattr(tables, name)(ctx)
    return list(t.write(out))


def configs_of(name, ctx):
    """The configs driver ``name`` trains first (Table 3's stage-2 rows and Figures 7-8 continue
    these with the same data and batch), checked before any is trained (:func:`check_start`)."""
    from vsr_latent.paper import tables

    if name == "table1":
        return list(tables.TABLE1_CONFIGS.values())
    if name == "table2":
        return list(tables.TABLE2_CONFIGS.values())
    if name in ("table3", "figure7_8"):
        return [tables.TABLE3_CONFIGS[k] for k in ("latn10_7", "satn10_7")]
    if name == "figure6":
        return list(tables.FIGURE6_CONFIGS.values())
    if name == "figure9" and ctx.model:
        return []
    return [tables.OURS_CONFIG]


def check_start(names, contexts):
    """Fails at once, in one line naming the setting and the fix, when any config of ``names``
    could not train here (a batch the replicas do not divide, the built-in clips at the full
    budget, a training root that cannot serve it), before the first model trains for hours."""
    from vsr_latent.paper.runs import resolve_config
    from vsr_latent.training.strategy import default_strategy
    from vsr_latent.training.trainer import check_start as check_config

    replicas = default_strategy().num_replicas_in_sync
    for name, ctx in zip(names, contexts):
        configs = [resolve_config(ctx, c) for c in configs_of(name, ctx)]
        for config in configs:
            check_config(config, replicas)
        if configs and not measure_builtin(ctx):
            check_training_root(ctx.budget.data_source, max(c.model.seq_len for c in configs),
                                field="--data_root", val_clips=ctx.budget.val_max_clips or 0)


def measure_builtin(ctx):
    return ctx.budget.data_source == "builtin"


def reproduce(names, settings=None, *, shared_runs=None, **keywords):
    """Runs the named drivers in order with one
    :class:`~vsr_latent.paper.context.ReproduceSettings` (or its fields as keyword arguments),
    sharing runs between them (and with other calls given the same ``shared_runs`` dict);
    returns ``(files written, failures)``."""
    from vsr_latent.paper.context import make_context, settings_from
    from vsr_latent.training.strategy import configure_devices

    settings = settings_from(settings, **keywords)

    configure_devices()  # before anything starts TensorFlow's devices
    shared = {} if shared_runs is None else shared_runs
    written, failures = [], []
    info = None
    contexts = []
    for name in names:
        ctx = make_context(name, settings, hardware_info=info, shared_runs=shared)
        info = ctx.hardware
        contexts.append(ctx)
    check_start(names, contexts)
    for name, ctx in zip(names, contexts):
        ctx.started = time.monotonic()
        files = run_one(name, ctx)
        for f in files:
            ctx.log(f"wrote {f}")
        written += files
        failures += ctx.failures
    return written, failures


def main(argv=None):
    """Runs the command line ``argv`` and returns its exit code. Without ``argv`` it is this
    process's own (``sys.argv[1:]``), and only then is the process's stderr filtered."""
    own_process = argv is None
    argv = sys.argv[1:] if own_process else list(argv)
    args = build_parser().parse_args(argv)
    if not args.verbose:
        quiet_native_logs(filter_stderr=own_process)
    return run_command(f"reproduce {args.name}", lambda: _run(args, argv), verbose=args.verbose)


def _run(args, argv):
    names = NAMES if args.name == "all" else (args.name,)
    t0 = time.monotonic()
    from vsr_latent.paper.context import ReproduceSettings

    try:
        written, failures = reproduce(names, ReproduceSettings.from_args(args, argv))
    except OverrideError as e:
        raise flag_error("--set", e) from None
    print(f"reproduce {args.name}: done in {time.monotonic() - t0:.0f} s; results in {args.out}/")
    for f in written:
        print(f"  {f}")
    if failures:
        print(f"{len(failures)} row(s) failed (written as 'not run'):", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0
