"""Converts a dataset root of PNG/JPEG frame files to raw clips, in place, clip by clip.

    python -m data_tools.convert_root ROOT [--keep_images]

Each clip's frames become one ``frames.npy`` (``vsr_latent.data.raw_frames``), which training
reads crop-first; the frame files are then removed (``--keep_images`` keeps them). Frames are
decoded with TensorFlow's ``decode_image``, the decoder the training pipeline uses on image
roots, so every training sample of the converted root equals the one the image root gave, bit for
bit (JPEG included). Key frames of Remote clips and the index are left as they are.

Resumable and safe to kill: a clip's array is written under a temporary name and renamed into
place when complete; a clip with a ``frames.npy`` is converted (its leftover image files, if the
run was killed before removing them, are removed by the next run).
"""

import sys

import tensorflow as tf
from tqdm import tqdm

from vsr_latent.atomic import atomic_path, write_json
from vsr_latent.command_runner import OneLineErrorParser, run_command
from vsr_latent.data.dataset_root import MANIFEST, list_clips
from vsr_latent.data.raw_frames import RAW_FRAMES, RawClipWriter
from vsr_latent.data.video_io import list_frame_files
from vsr_latent.errors import InputError


def convert_clip(clip, keep_images=False):
    """Writes ``clip``'s frames as its raw array; returns the frames written (0: already raw)."""
    target = clip.dir / RAW_FRAMES
    for leftover in clip.dir.glob(f".{RAW_FRAMES}.*.part*"):  # of a run killed while writing
        leftover.unlink()
    if clip.format == "raw":
        written = 0
    else:
        with atomic_path(target) as tmp, RawClipWriter(tmp, len(clip), clip.size) as writer:
            for path in clip.frames:
                try:
                    frame = tf.io.decode_image(tf.io.read_file(str(path)), channels=3,
                                               expand_animations=False).numpy()
                except tf.errors.OpError as e:
                    raise InputError(path, f"cannot decode frame ({e.message.splitlines()[0]})")
                writer.write(frame)
        written = len(clip)
    if clip.manifest.get("format") != "raw":
        manifest = {**clip.manifest, "format": "raw",
                    "converted_from": clip.manifest.get("format", "png")}
        write_json(clip.dir / MANIFEST, manifest)
    if not keep_images:
        for path in list_frame_files(clip.dir):
            path.unlink()
    return written


def convert_root(root, keep_images=False, progress=True):
    """Converts every finished clip of ``root``; returns {"converted": n, "already_raw": m}."""
    clips = list_clips(root)
    if not clips:
        raise InputError(root, "the dataset root has no finished clips")
    converted = 0
    with tqdm(total=sum(len(c) for c in clips), unit="frame", desc="convert",
              disable=not progress) as bar:
        for clip in clips:
            if convert_clip(clip, keep_images):
                converted += 1
            bar.update(len(clip))
    return {"converted": converted, "already_raw": len(clips) - converted}


def build_parser():
    p = OneLineErrorParser(prog="python -m data_tools.convert_root",
                           description=__doc__.split("\n\n")[0])
    p.add_argument("root", metavar="ROOT", help="dataset root made by data_tools.make_dataset")
    p.add_argument("--keep_images", action="store_true",
                   help="keep the PNG/JPEG frame files beside the raw arrays")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def work():
        r = convert_root(args.root, keep_images=args.keep_images, progress=not args.no_progress)
        print(f"{args.root}: {r['converted']} clips converted to raw, {r['already_raw']} were "
              f"raw already")

    return run_command("convert_root", work)


if __name__ == "__main__":
    sys.exit(main())
