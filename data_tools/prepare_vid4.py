"""Vid4 test layout: ground-truth frames -> GT plus generated BI and BD low-resolution inputs.

    python -m data_tools.prepare_vid4 GT_DIR OUT [--scale 4] [--sequences calendar city ...]

GT_DIR holds one frame folder per sequence (e.g. ``shared/data/Vid4/GT``). OUT receives
``GT/<seq>/%08d.png`` (RGB 8-bit copies), ``BIx4/<seq>`` (MATLAB bicubic ``imresize(x, 1/4)``) and
``BDx4/<seq>`` (Gaussian blur sigma 1.6, 13x13, then every 4th pixel from pixel 0); see
``vsr_latent.data.degrade``. Each folder appears only when complete; existing ones are kept (rerun
to finish an interrupted run, ``--overwrite`` to redo).
"""

import sys
from pathlib import Path

from tqdm import tqdm

from vsr_latent.command_runner import OneLineErrorParser, run_command
from vsr_latent.data.degrade import check_method, degrade
from vsr_latent.data.vid4 import VID4_SEQUENCES, read_frame_folder
from vsr_latent.data.video_io import FrameWriter
from vsr_latent.errors import InputError

PROTOCOLS = {"bi": "BI", "bd": "BD"}


def prepare_vid4(gt_dir, out, *, scale=4, sequences=None, methods=("bi", "bd"), overwrite=False,
                 progress=True):
    for m in methods:
        check_method(m)
    gt_dir, out = Path(gt_dir), Path(out)
    sequences = list(sequences or VID4_SEQUENCES)
    missing = [s for s in sequences if not (gt_dir / s).is_dir()]
    if missing:
        raise InputError(gt_dir, f"missing sequence folder(s): {', '.join(missing)}")
    done = []
    for seq in tqdm(sequences, desc="vid4", unit="seq", disable=not progress):
        frames = read_frame_folder(gt_dir / seq)
        targets = [("GT", None)] + [(f"{PROTOCOLS.get(m, m.upper())}x{scale}", m) for m in methods]
        for folder, method in targets:
            dest = out / folder / seq
            if dest.is_dir() and not overwrite:
                continue
            with FrameWriter(dest) as w:
                for f in frames:
                    if method is None:
                        w.write(f)
                    else:
                        w.write(degrade(f, method, scale, path=gt_dir / seq))
            done.append(str(dest))
    return done


def build_parser():
    p = OneLineErrorParser(prog="python -m data_tools.prepare_vid4",
                           description=__doc__.split("\n\n")[0])
    p.add_argument("gt_dir", metavar="GT_DIR", help="folder with one frame folder per sequence")
    p.add_argument("out", metavar="OUT", help="output root (GT/, BIx4/, BDx4/)")
    p.add_argument("--scale", type=int, default=4, help="downscaling factor (default 4)")
    p.add_argument("--sequences", nargs="+", default=None, help="default: calendar city foliage walk")
    p.add_argument("--methods", nargs="+", default=["bi", "bd"], help="degradations (default bi bd)")
    p.add_argument("--overwrite", action="store_true", help="redo existing folders")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def work():
        done = prepare_vid4(args.gt_dir, args.out, scale=args.scale, sequences=args.sequences,
                            methods=args.methods, overwrite=args.overwrite,
                            progress=not args.no_progress)
        print(f"{args.out}: wrote {len(done)} folder(s)")

    return run_command("prepare_vid4", work)


if __name__ == "__main__":
    sys.exit(main())
