"""The rehearsal's dataset root: real HD footage at native size, linked as a download tree.

    python -m data_tools.rehearsal_root ROOT [--shared ../shared/data] [--uhd_frames 105]

Makes ``ROOT.sources/`` (links to the shared clips, as a researcher links downloads) and, from it,
the dataset root ``ROOT`` with ``make_dataset`` and ``select_remote``:

- ``openh264_drive1080``: the 1920x1080 raw H.264 stream (54 frames: shorter than one 105-frame
  clip, so kept whole through ``--min_clip_len``); linked as a file;
- the four 1280x720 H.264 clips of SAM 2 (247-300 frames: two 105-frame clips each); linked as
  folders;
- ``sjtu_synthetic_3840x2160_10bit.yuv``: ``--uhd_frames`` frames of FFmpeg's ``testsrc2`` at
  3840x2160 in 10-bit 4:2:0, standing in for an SJTU 4K source (made here; nothing of it is
  real footage).

Frames keep their native size (no ``--max_size``). The split seed (``REHEARSAL_SEED``) puts the
1080p stream alone in validation, as the paper validates on HD clips, so the rehearsal scores
1080p frames; every validation clip is Remote (thresholds 0), so Table 1's Remote rows score too.
Rerunning completes a root that an interrupted run left (both tools resume).
"""

import json
import subprocess
import sys
from pathlib import Path

from data_tools import make_dataset, select_remote
from vsr_latent.atomic import atomic_path
from vsr_latent.command_runner import OneLineErrorParser, run_command
from vsr_latent.errors import InputError

#: The 1080p stream's 54 frames: the shortest source kept (longer than every model's L).
MIN_CLIP_LEN = 54
#: make_dataset's split seed for this root: validation is the 1080p stream alone.
REHEARSAL_SEED = 8
UHD_NAME = "sjtu_synthetic_3840x2160_10bit.yuv"
UHD_FRAMES = 105
#: Shared sources linked into the download tree: (link name, path under train_clips).
LINKED = (
    ("openh264_drive1080.264", "openh264_drive1080/VID_1920x1080_cabac_temporal_direct.264"),
    ("sam2_dog", "sam2_dog"),
    ("sam2_cups", "sam2_cups"),
    ("sam2_blocks", "sam2_blocks"),
    ("sam2_juggle", "sam2_juggle"),
)
VALIDATION_SOURCE = "openh264_drive1080.264"


def default_shared():
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_uhd_source(path, frames):
    """``frames`` frames of testsrc2 at 3840x2160, 10-bit 4:2:0 little-endian raw YUV (atomic)."""
    import imageio_ffmpeg

    if path.is_file():
        return
    with atomic_path(path) as tmp:
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi",
               "-i", f"testsrc2=size=3840x2160:rate=25:duration={frames / 25}",
               "-frames:v", str(frames), "-pix_fmt", "yuv420p10le", "-f", "rawvideo", str(tmp)]
        subprocess.run(cmd, check=True, timeout=1800)


def make_sources(sources, shared, uhd_frames):
    clips = shared / "train_clips"
    if not clips.is_dir():
        raise InputError(clips, "no such folder: --shared must hold train_clips/")
    sources.mkdir(parents=True, exist_ok=True)
    for name, rel in LINKED:
        target, link = clips / rel, sources / name
        if not target.exists():
            raise InputError(target, "missing from the shared training clips")
        if not link.is_symlink():
            link.symlink_to(target.resolve(), target_is_directory=target.is_dir())
    write_uhd_source(sources / UHD_NAME, uhd_frames)


def make_root(root, shared, uhd_frames=UHD_FRAMES, progress=True):
    """Sources, dataset root and Remote selection; returns make_dataset's report."""
    root = Path(root)
    sources = root.with_name(root.name + ".sources")
    make_sources(sources, Path(shared), uhd_frames)
    args = make_dataset.build_parser().parse_args(
        [str(sources), str(root), "--min_clip_len", str(MIN_CLIP_LEN), "--seed",
         str(REHEARSAL_SEED)] + ([] if progress else ["--no_progress"]))
    report = make_dataset.make_dataset(args)
    index = json.loads((root / "dataset.json").read_text())
    if [s for s, side in index["source_splits"].items() if side == "validation"] != [
            VALIDATION_SOURCE]:
        raise InputError(root, f"the split (seed {REHEARSAL_SEED}) did not put "
                               f"{VALIDATION_SOURCE} alone in validation: {index['source_splits']}")
    select_remote.select_remote(root, motion_threshold=0, scene_threshold=0, progress=progress)
    return report


def main(argv=None):
    p = OneLineErrorParser(prog="python -m data_tools.rehearsal_root",
                           description=__doc__.split("\n\n")[0])
    p.add_argument("root", metavar="ROOT", help="dataset root to make or complete")
    p.add_argument("--shared", default=str(default_shared()),
                   help="folder holding train_clips/ (default ../shared/data)")
    p.add_argument("--uhd_frames", type=int, default=UHD_FRAMES,
                   help=f"frames of the synthetic 4K source (default {UHD_FRAMES})")
    p.add_argument("--no_progress", action="store_true")
    args = p.parse_args(argv)

    def work():
        r = make_root(args.root, args.shared, args.uhd_frames, progress=not args.no_progress)
        print(f"{args.root}: {r['clips']} clips ({r['train']} train, {r['validation']} "
              f"validation); not ingested: {r['not_ingested'] or 'none'}")

    return run_command("rehearsal_root", work)


if __name__ == "__main__":
    sys.exit(main())
