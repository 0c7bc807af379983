"""``vsr-latent remake ours_cpu``: remake a shipped pretrained model, from its data to its card.

    vsr-latent remake ours_cpu [--run_dir runs/ours_cpu] [--data_root data/cpu_root]
                               [--out results] [--install]

``reproduce/ours_cpu.sh`` runs it. The steps are those of ``vsr_latent.paper.ours_cpu``.
"""

from vsr_latent.configs import CPU_DATA_ROOT

#: The shipped models this command remakes, by name (see vsr_latent/pretrained/).
REMAKES = ("ours_cpu",)

#: How this command spells the settings its errors name: the Vid4 dataset's root.
FIELD_FLAGS = {"data_root": "--vid4_root"}


def register(subparsers):
    p = subparsers.add_parser(
        "remake",
        help="remake a shipped pretrained model: data, training, Vid4 scores, model card",
        description=(
            "Remake the shipped ours_cpu: the dataset root from ../shared/data/train_clips "
            "(made when missing), `ours` trained at the cpu budget into --run_dir (resumed, or "
            "reused when finished), Vid4 BI x4 scores under the standard and paper protocols in "
            "float32 and mixed_bfloat16 with bicubic beside, and into --out the model card "
            "(ours_cpu.md), ours_cpu.json, the training-curve figure and the weights."),
    )
    p.add_argument("name", choices=REMAKES, help="the pretrained model to remake")
    p.add_argument("--run_dir", default="runs/ours_cpu", help="run folder (default runs/ours_cpu)")
    p.add_argument("--data_root", default=CPU_DATA_ROOT, metavar="DIR",
                   help=f"training dataset root, made when missing (default: the cpu budget's, "
                        f"{CPU_DATA_ROOT})")
    p.add_argument("--vid4_root", default=None, metavar="DIR",
                   help="Vid4 folder (default: ../shared/data/Vid4)")
    p.add_argument("--out", default="results", metavar="DIR",
                   help="results folder (default results)")
    p.add_argument("--install", action="store_true",
                   help="copy the weights and the card into vsr_latent/pretrained/")
    p.add_argument("--note", default="",
                   help="a sentence for the card's 'How it was made' (e.g. pauses of the run)")
    p.add_argument("--stopped_s", type=float, default=0.0,
                   help="seconds the run was stopped between its first and last logged step "
                        "(paused, or between a kill and its resume): left out of the wall time, "
                        "and stated")
    p.add_argument("--no_train", action="store_true",
                   help="score the run as it is (its model.keras) without training")
    p.set_defaults(func=run)


def run(args):
    from vsr_latent.paper.ours_cpu import remake

    card = remake(args.run_dir, args.data_root, vid4_root=args.vid4_root, out=args.out,
                  install=args.install, note=args.note, stopped_s=args.stopped_s,
                  train=not args.no_train, log=lambda message: print(message, flush=True))
    print(card)
    return 0
