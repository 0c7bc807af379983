"""``vsr-latent benchmark``: inference speed, memory and FLOP efficiency of the paper's models;
with ``--train``, the training step and input pipeline of a config and the projected wall time of
every table's full budget on this machine (`vsr_latent.perf.training_benchmark`)."""

import json
import sys

from vsr_latent.atomic import write_json
from vsr_latent.command_runner import flag_error
from vsr_latent.configs import get_config
from vsr_latent.configs.overrides import OverrideError
from vsr_latent.errors import ConfigError
from vsr_latent.precision import PRECISIONS, native_bfloat16

MODEL_CHOICES = ("ours", "res16", "satn10", "latn10", "bicubic", "ours_cpu")

#: How this command spells the settings of load_predictor that its errors name.
FIELD_FLAGS = {"seq_len": "--seq_len", "backend": "--backend"}


def register(subparsers):
    p = subparsers.add_parser(
        "benchmark",
        help="time the models (s/frame, peak memory, FLOPs, share of the matmul peak)",
        description=(
            "Time ours, res16, satn10, latn10 and bicubic at Vid4 (144x180 LR) and REDS (180x320 "
            "LR) size, L = 7: seconds per frame (median of repeats after warm-up), peak memory, "
            "FLOPs per frame counted from the layers, achieved FLOP/s and its ratio to a large "
            "float32 matmul measured in the same run, with XLA off and on, and the share of the "
            "time spent in long attention. Models have fresh weights (speed does not depend on "
            "them)."),
    )
    p.add_argument("--json", action="store_true",
                   help="print a JSON array of objects, one per model x size x backend x xla")
    p.add_argument("--quick", action="store_true",
                   help="tiny models on tiny frames, one repeat (a fast check that it all runs)")
    p.add_argument("--models", nargs="+", default=None, choices=MODEL_CHOICES, metavar="NAME",
                   help=f"models to time (default: all of {', '.join(MODEL_CHOICES)})")
    p.add_argument("--sizes", nargs="+", default=None, choices=("vid4", "reds", "tiny"),
                   help="frame sizes (default: vid4 reds; --quick: tiny)")
    p.add_argument("--xla", choices=("off", "on", "both"), default="both",
                   help="time with jit_compile off, on or both (default both)")
    p.add_argument("--backend", nargs="+", default=["tensorflow"], metavar="NAME",
                   help="inference backends (default: tensorflow)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 3; quick 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up calls (default 1)")
    p.add_argument("--seq_len", type=int, default=None, help="frames per clip (default 7)")
    p.add_argument("--attention_budget", type=int, default=-1, metavar="N",
                   help="long attention: at most N logits at a time (0: unchunked; default: "
                        "the model's)")
    p.add_argument("--precision", nargs="+", default=None,
                   choices=PRECISIONS,
                   help="Keras dtype policies of the models, one row each (mixed: layers compute "
                        "in float16 or bfloat16, output float32; default: float32, and "
                        "mixed_bfloat16 too on a CPU with native bfloat16, except with --quick)")
    p.add_argument("--breakdown", action="store_true",
                   help="also time the conv layers and attention blocks alone (where time goes)")
    p.add_argument("--output", default=None, metavar="FILE",
                   help="also write the JSON array to FILE (atomically)")
    train = p.add_argument_group(
        "training (--train)",
        "time the real training step of a config on all visible devices (the package's "
        "strategy) and its input pipeline; print each table's projected full-budget wall time "
        "here and whether the pipeline or the step limits it")
    train.add_argument("--train", action="store_true",
                       help="benchmark training instead of inference (run this first on GPUs)")
    train.add_argument("--config", default="ours", help="config whose step is timed (ours)")
    train.add_argument("--budget", default=None,
                       help="budget of the TIMED config (projections are of the full budget)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       dest="overrides",
                       help="override of the timed config, e.g. precision=mixed_float16, "
                            "jit_compile=true, data.batch_size=4 (repeatable)")
    train.add_argument("--steps", type=int, default=None,
                       help="timed training steps per stage (default 5; --quick 2)")
    train.add_argument("--tables", nargs="+", default=None, metavar="TABLE",
                       help="tables to project (table1 figure6 table2 table3 ours; default all; "
                            "--quick: table1 ours)")
    p.set_defaults(func=run)


def run_train(args):
    budget = args.budget or ("tiny" if args.quick else None)
    # The timed config is made here first so that a bad --set item is named by its flag, before
    # TensorFlow loads.
    try:
        get_config(args.config, budget=budget, overrides=args.overrides)
    except OverrideError as e:
        raise flag_error("--set", e) from None

    from vsr_latent.perf.training_benchmark import run_training_benchmark, tables

    steps = args.steps if args.steps is not None else (2 if args.quick else 5)
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    known = list(tables())
    chosen = args.tables or (["table1", "ours"] if args.quick else None)
    unknown = [t for t in chosen or () if t not in known]
    if unknown:
        raise ConfigError(f"--tables: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    log = None if args.json else (lambda line: print(line, flush=True))
    result = run_training_benchmark(args.config, budget=budget, overrides=args.overrides,
                                    steps=steps, pipeline_batches=3 if args.quick else 10,
                                    table_names=chosen, log=log)
    if args.output:
        write_json(args.output, result)
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


def run(args):
    if args.train:
        return run_train(args)

    from vsr_latent.perf.backends import BACKENDS
    from vsr_latent.perf.inference_benchmark import BenchSettings, run_benchmark

    unknown = [b for b in args.backend if b not in BACKENDS]
    if unknown:
        raise ConfigError(f"unknown backend(s) {unknown}; known: {sorted(BACKENDS)}")
    if args.repeats is not None and args.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {args.repeats}")
    if args.warmup < 0:
        raise ConfigError(f"--warmup must be >= 0, got {args.warmup}")
    xla = {"off": (False,), "on": (True,), "both": (False, True)}[args.xla]
    precisions = args.precision
    if precisions is None:
        # --quick checks that everything runs: one precision is enough.
        precisions = ["float32"] + (["mixed_bfloat16"] if native_bfloat16() and not args.quick
                                    else [])
    kwargs = {"xla": xla, "backends": tuple(args.backend), "warmup": args.warmup,
              "breakdown": args.breakdown, "attention_budget": args.attention_budget}
    if args.models:
        kwargs["models"] = tuple(args.models)
    if args.sizes:
        kwargs["sizes"] = tuple(args.sizes)
    if args.repeats is not None:
        kwargs["repeats"] = args.repeats
    if args.seq_len is not None:
        kwargs["seq_len"] = args.seq_len
    if args.attention_budget == 0:
        kwargs["attention_budget"] = None
    all_settings = [
        BenchSettings.quick_settings(precision=p, **kwargs) if args.quick
        else BenchSettings(precision=p, **kwargs)
        for p in dict.fromkeys(precisions)
    ]

    log = None if args.json else (lambda line: print(line, flush=True))
    # Partial results are saved after every row: a long run stopped midway keeps what it measured.
    save = (lambda rows: write_json(args.output, rows)) if args.output else None
    rows = []
    for settings in all_settings:
        done = list(rows)
        rows += run_benchmark(settings, log=log,
                              on_row=(lambda new, done=done: save(done + new)) if save else None)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 1 if any(r.get("error") for r in rows) else 0
