"""Remote selection (paper §6.2): validation clips with strong motion and a large scene change.

    python -m data_tools.select_remote ROOT [--motion_threshold 6] [--scene_threshold 0.3]

For every validation clip of a dataset root (made by ``data_tools.make_dataset``) it measures, per
pair of consecutive frames, the mean absolute luma difference (motion) and the colour-histogram
distance (scene change) — definitions in ``vsr_latent.data.scene``. A clip is Remote when its mean
frame difference >= ``--motion_threshold`` AND its largest histogram jump >= ``--scene_threshold``.

For each Remote clip, the frames right after its ``--num_key_frames`` largest histogram jumps are
its external key frames, copied from the same clip into ``clips/<id>/key_frames/`` (named by
their frame index). The paper extracted key frames with FFmpeg; this is the equivalent of FFmpeg's
scene-change select (``select='gt(scene,T)'``), done here so every value behind the decision is
recorded: each clip's ``manifest.json`` gets a ``remote`` entry (per-pair values, summary values,
thresholds, decision, key frame indices) and ``ROOT/remote.json`` lists them all. Reruns with other
thresholds replace earlier decisions (key frames of clips no longer selected are removed).
"""

import shutil
import sys
from pathlib import Path

from tqdm import tqdm

from vsr_latent.atomic import atomic_dir, write_json
from vsr_latent.command_runner import OneLineErrorParser, run_command
from vsr_latent.data import scene
from vsr_latent.data.dataset_root import KEY_FRAMES_DIR, MANIFEST, REMOTE_REPORT, list_clips
from vsr_latent.errors import InputError


def select_remote(root, *, motion_threshold=scene.MOTION_THRESHOLD,
                  scene_threshold=scene.SCENE_THRESHOLD, num_key_frames=scene.NUM_KEY_FRAMES,
                  split="validation", progress=True):
    """Measures, decides and writes; returns the report dict (also in ``ROOT/remote.json``)."""
    import imageio.v3 as iio

    clips = list_clips(root, split)
    if not clips:
        raise InputError(root, f"no finished {split!r} clips to select from")
    report = {
        "split": split,
        "motion_threshold": motion_threshold,
        "scene_threshold": scene_threshold,
        "num_key_frames": num_key_frames,
        "method": "mean absolute luma frame difference; colour-histogram distance "
                  f"({scene.HIST_BINS} bins per channel, half L1); key frames after the largest "
                  "histogram jumps (equivalent of ffmpeg select='gt(scene,T)')",
        "clips": {},
        "selected": [],
    }
    for clip in tqdm(clips, desc="remote", unit="clip", disable=not progress):
        stats = scene.frame_statistics(clip.iter_frames())
        decision = scene.remote_decision(stats, motion_threshold, scene_threshold, num_key_frames)
        kdir = clip.dir / KEY_FRAMES_DIR
        if decision["selected"]:
            with atomic_dir(kdir) as tmp:
                for i in decision["key_frame_indices"]:
                    if clip.format == "raw":  # key frames as lossless PNG files of their own
                        iio.imwrite(tmp / f"{i:08d}.png", clip.read_frame(i), extension=".png")
                    else:
                        src_file = clip.frames[i]
                        shutil.copyfile(src_file, tmp / f"{i:08d}{src_file.suffix}")
            report["selected"].append(clip.id)
        elif kdir.exists():
            shutil.rmtree(kdir)
        manifest = dict(clip.manifest)
        manifest["remote"] = {**decision, "mad": stats["mad"], "hist_distance": stats["hist_distance"]}
        write_json(clip.dir / MANIFEST, manifest)
        report["clips"][clip.id] = decision
    write_json(Path(root) / REMOTE_REPORT, report)
    return report


def build_parser():
    p = OneLineErrorParser(
        prog="python -m data_tools.select_remote",
        description=__doc__.split("\n\n")[0] + " Key frames are extracted from the same clip.",
    )
    p.add_argument("root", metavar="ROOT", help="dataset root made by data_tools.make_dataset")
    p.add_argument("--motion_threshold", type=float, default=scene.MOTION_THRESHOLD,
                   help=f"minimum mean absolute frame difference, 0..255 (default {scene.MOTION_THRESHOLD})")
    p.add_argument("--scene_threshold", type=float, default=scene.SCENE_THRESHOLD,
                   help=f"minimum largest histogram distance, 0..1 (default {scene.SCENE_THRESHOLD})")
    p.add_argument("--num_key_frames", type=int, default=scene.NUM_KEY_FRAMES,
                   help=f"external key frames per Remote clip (default {scene.NUM_KEY_FRAMES})")
    p.add_argument("--split", default="validation", help="split to select from (default validation)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    return run_command("select_remote", lambda: _select_and_report(args))


def _select_and_report(args):
    r = select_remote(args.root, motion_threshold=args.motion_threshold,
                      scene_threshold=args.scene_threshold, num_key_frames=args.num_key_frames,
                      split=args.split, progress=not args.no_progress)
    print(f"{args.root}: {len(r['selected'])} of {len(r['clips'])} {args.split} clips are Remote")
    for cid, d in r["clips"].items():
        print(f"  {cid}: motion {d['mean_abs_frame_difference']:.2f}, largest scene jump "
              f"{d['max_hist_distance']:.3f} -> {'Remote' if d['selected'] else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
