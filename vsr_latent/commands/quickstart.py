"""``vsr-latent quickstart``: a first run that reproduces every table and figure (smoke budget).

Tiny models are trained for a few steps on the built-in clips (no download) and evaluated; Tables
4 and 5 use Vid4 when it is found (``--vid4_root`` or ``../shared/data/Vid4``). The numbers of
those tiny models check that everything works end to end; they are labelled as smoke scale and
are not comparable to the paper's (use ``reproduce/<table>.sh --budget full --data_root DIR`` on
GPUs for those). One row of Tables 4 and 5 is real: the shipped ``ours_cpu``, scored on whole Vid4
sequences and timed in the inference default precision. On 2 CPU cores the whole run takes
under 10 minutes (README gives the measured time).
"""

import time
from pathlib import Path

from vsr_latent.configs.paper_numbers import PRETRAINED_LABEL
from vsr_latent.paper.runner import reproduce

# Every table and figure in under 10 minutes on 2 CPU cores.
BUDGET = "smoke"
STEPS = [
    ("table1", "Table 1: Res16 / Satn10 / Latn10 (L = 4) on Normal and Remote validation clips"),
    ("figure6", "Figure 6: Latn10_n and Satn10_n for n = 3..11 (16 more small models)"),
    ("table2", "Table 2: five ways of combining long and short attention"),
    ("table3", "Table 3: variational attention, stage 2 from the L = 7 models"),
    ("table4", "Table 4: the final model on Vid4 (paper and standard protocols)"),
    ("table5", "Table 5: parameters and seconds per frame"),
    ("figure7_8", "Figures 7 and 8: attention pictures"),
    ("figure9", "Figure 9: bicubic / ours / ground-truth crops on Vid4"),
]


def register(subparsers):
    p = subparsers.add_parser(
        "quickstart", help="reproduce every table and figure at the smoke budget (minutes, CPU)",
        description=__doc__.split("\n\n")[1])
    p.add_argument("--out", default="results", help="where the tables and figures go (default ./results)")
    p.add_argument("--runs", default="runs",
                   help="where training runs go (default ./runs; smoke runs in <runs>/smoke/)")
    p.add_argument("--vid4_root", default=None,
                   help="Vid4 folder with GT/<sequence>/ (default ../shared/data/Vid4 if present)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per model (default: the smoke budget's)")
    p.add_argument("--only", nargs="+", choices=[n for n, _ in STEPS], default=None,
                   help="run only these tables/figures")
    p.set_defaults(func=run)


def run(args):
    from vsr_latent.paper.context import default_vid4_root
    from vsr_latent.paper.reproduction_budget import reproduction_budget

    t0 = time.monotonic()
    steps = [(n, d) for n, d in STEPS if args.only is None or n in args.only]
    s = reproduction_budget(BUDGET, steps=args.steps)
    vid4 = args.vid4_root or default_vid4_root()
    print("vsr-latent quickstart: reproducing the paper's tables and figures at SMOKE scale")
    print(f"  tiny models, {s.stage1_steps} training steps each ({s.stage2_steps} more for "
          "variational stage 2), built-in clips, CPU")
    print("  the numbers show the pipeline works; they are NOT comparable to the paper's,")
    print("  except Tables 4 and 5's row of the shipped ours_cpu, measured on whole Vid4")
    print(f"  Vid4 (Tables 4, 5): {vid4 if vid4 else 'not found - those rows will say not run'}")
    print(f"  runs -> {Path(args.runs) / BUDGET}/, results -> {args.out}/")
    failures = []
    shared = {}
    command = "vsr-latent quickstart " + " ".join(
        f"{k} {v}" for k, v in (("--out", args.out), ("--runs", args.runs),
                                ("--vid4_root", args.vid4_root), ("--steps", args.steps)) if v)
    for i, (name, what) in enumerate(steps, 1):
        print(f"\n[{i}/{len(steps)}] {what}  ({time.monotonic() - t0:.0f} s so far)", flush=True)
        written, failed = reproduce(
            [name], budget=BUDGET, vid4_root=vid4, out=args.out, runs=args.runs,
            steps=args.steps, quiet=False,
            shared_runs=shared, command=command,
            budget_reason="vsr-latent quickstart always runs at smoke scale")
        failures += failed
        for f in written:
            print(f"    wrote {f}")
    total = time.monotonic() - t0
    print(f"\nquickstart finished in {total / 60:.1f} min.")
    print(f"Tables (paper number beside ours, how each was made): {args.out}/table1.md ... "
          f"table5.md, figure6.md, figure7_8.md, figure9.md")
    print(f"Figures: {args.out}/figure6.png, figure7.png, figure8.png, figure9.png")
    real = [n for n in ("table4", "table5") if any(n == name for name, _ in steps)]
    if real and vid4:
        print(f"Real rows: {' and '.join(f'{args.out}/{n}.md' for n in real)} row "
              f"'{PRETRAINED_LABEL}' is the shipped trained model measured on Vid4 at full "
              "size; every other number is smoke scale.")
    else:
        print("Every number is smoke scale (the shipped model's real rows in Tables 4 and 5 "
              "need Vid4).")
    print("At the paper's scale: reproduce/all.sh --budget full --data_root DATASET_ROOT (GPUs).")
    if failures:
        print(f"{len(failures)} row(s) failed and are written as 'not run':")
        for f in failures:
            print(f"  {f}")
        return 1
    return 0
