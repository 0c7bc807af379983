"""``vsr-latent evaluate``: PSNR/SSIM (RGB and Y) of a model on a dataset, or of SR frame folders."""

import json
import sys

from vsr_latent import evaluation
from vsr_latent.precision import (
    DEFAULT_INFERENCE_PRECISION,
    INFERENCE_PRECISION_HELP,
    INFERENCE_PRECISIONS,
)

PROTOCOL_NAMES = ("paper", "standard")  # vsr_latent.evaluation.PROTOCOLS (not imported: --help)

#: How this command spells the settings of EvaluateOptions and load_predictor that their errors
#: name.
FIELD_FLAGS = {
    "model": "--model", "dataset": "--dataset", "data_root": "--data_root", "sr_dir": "--sr_dir",
    "gt_dir": "--gt_dir", "samples": "--samples", "seq_len": "--seq_len",
}


def register(subparsers):
    p = subparsers.add_parser(
        "evaluate",
        help="PSNR/SSIM of a model on a dataset, or of upscaled frames against ground truth",
        description=(
            "Score a model on a dataset (--model SPEC --dataset vid4|builtin) or folders of "
            "already-upscaled frames (--sr_dir DIR --gt_dir DIR, each one sequence folder or a "
            "folder of sequence sub-folders) with PSNR and SSIM on RGB and on Y (BT.601). SR "
            "frames are clipped to [0, 255] and rounded to 8 bits before scoring. Protocol "
            "'paper' (Table 4): first frame and last two dropped, 8-pixel border cropped; "
            "'standard' (BasicSR/mmagic): all frames, no crop, Y headlined."
        ),
    )
    src = p.add_argument_group("a model on a dataset")
    src.add_argument("--model", metavar="SPEC",
                     help="run folder, .keras file, SavedModel folder, .onnx file, pretrained "
                          "name (ours_cpu), registry model name, or 'bicubic'")
    src.add_argument("--dataset", default="vid4", choices=("vid4", "builtin"),
                     help="vid4: DATA_ROOT/GT/<seq>/ frames (LR from DATA_ROOT/BIx4/<seq>/ when "
                          "present, else made with --degradation); builtin: the built-in "
                          "validation clips (default vid4)")
    src.add_argument("--data_root", metavar="DIR",
                     help="dataset folder (default for vid4: the shared test data's Vid4)")
    src.add_argument("--degradation", default="bi", metavar="NAME",
                     help="how missing LR frames are made: bi, bd or scipy (default bi)")
    src.add_argument("--seq_len", type=int, default=None, metavar="L",
                     help="frames per chunk (default: the model's)")
    src.add_argument("--precision", default=DEFAULT_INFERENCE_PRECISION,
                     choices=INFERENCE_PRECISIONS, help=INFERENCE_PRECISION_HELP)
    src.add_argument("--samples", type=int, default=1, metavar="K",
                     help="variational models: score the mean of K sampled draws (default 1)")
    folders = p.add_argument_group("upscaled frames against ground truth")
    folders.add_argument("--sr_dir", metavar="DIR", help="super-resolved frames")
    folders.add_argument("--gt_dir", metavar="DIR", help="ground-truth frames")
    p.add_argument("--protocol", default="paper", metavar="NAME",
                   help=f"{' or '.join(PROTOCOL_NAMES)} (default paper)")
    p.add_argument("--sequences", nargs="+", metavar="NAME",
                   help="evaluate only these sequences (names or comma-separated lists)")
    p.add_argument("--out", metavar="DIR",
                   help="write frames.csv, sequences.csv, results.md and results.json here")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object {protocol, sequences, average} instead of a table")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _sequence_names(values):
    if not values:
        return None
    return [n for v in values for n in v.split(",") if n]


def run(args):
    options = evaluation.EvaluateOptions(
        model=args.model, dataset=args.dataset, data_root=args.data_root,
        degradation=args.degradation, sr_dir=args.sr_dir, gt_dir=args.gt_dir,
        protocol=args.protocol, sequences=_sequence_names(args.sequences), seq_len=args.seq_len,
        precision=args.precision, samples=args.samples, progress=not args.no_progress)
    result, title = evaluation.evaluate(options)
    if args.out:
        result.write(args.out, title=title)
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        sys.stdout.write(result.markdown(title))
    return 0
