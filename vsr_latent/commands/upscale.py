"""``vsr-latent upscale IN OUT --model SPEC``: upscale a video file or frame folder 4x."""

from vsr_latent.data.video_io import (
    DEFAULT_CODEC,
    DEFAULT_PIX_FMT,
    DEFAULT_PRESET,
    PIX_FMTS,
    PRESETS,
    VIDEO_CODECS,
    WRITER_CRF,
    VideoEncoding,
)
from vsr_latent.precision import (
    DEFAULT_INFERENCE_PRECISION,
    INFERENCE_PRECISION_HELP,
    INFERENCE_PRECISIONS,
)
from vsr_latent.pretrained import DEFAULT_UPSCALE_MODEL
from vsr_latent.serving.loading import BACKENDS
from vsr_latent.serving.video import (
    DEFAULT_TILE,
    DEFAULT_TILE_OVERLAP,
    TILE_PIXEL_BUDGET,
    UNCERTAINTY_COLORMAP,
    UNCERTAINTY_MAX_STD,
    UpscaleOptions,
    upscale_video,
)

#: How this command spells the settings of UpscaleOptions, upscale_video and load_predictor that
#: their errors name.
FIELD_FLAGS = {
    "tile": "--tile", "overlap": "--tile_overlap", "samples": "--samples",
    "uncertainty_path": "--uncertainty", "uncertainty_max_std": "--uncertainty_scale",
    "fps": "--fps", "max_frames": "--max_frames", "out_path": "OUT", "seq_len": "--seq_len",
    "backend": "--backend",
}


def register(subparsers):
    p = subparsers.add_parser(
        "upscale",
        help="upscale a video file or frame folder 4x",
        description=(
            "Upscale a video file or frame folder 4x, streaming windows of L frames (memory does "
            "not grow with the video's length) and tiling large frames. OUT ending in "
            ".mp4/.mkv/.mov/.avi is a video (H.264 unless --codec) keeping the input's audio and "
            "subtitles (stream-copied), exact frame rate, colour tags and pixel aspect; anything "
            "else a folder of PNG frames; it appears only once complete. With a variational "
            "model, --samples K averages K draws of the latent attention and --uncertainty PATH "
            "writes their per-pixel standard deviation as a heat map."
        ),
    )
    p.add_argument("input", metavar="IN", help="video file or folder of frames")
    p.add_argument("output", metavar="OUT", help="output video (.mp4, ...) or frame folder")
    p.add_argument(
        "--model", default=DEFAULT_UPSCALE_MODEL, metavar="SPEC",
        help=f"pretrained name, run folder, .keras file, SavedModel folder, .onnx file, registry "
             f"model name (fresh weights), or 'bicubic' (default {DEFAULT_UPSCALE_MODEL}: the "
             f"shipped pretrained model)",
    )
    p.add_argument(
        "--precision", default=DEFAULT_INFERENCE_PRECISION, choices=INFERENCE_PRECISIONS,
        help=INFERENCE_PRECISION_HELP,
    )
    p.add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="run the model with TensorFlow or, for an .onnx file (vsr-latent export --format "
             "onnx), with onnxruntime, without importing TensorFlow (default: onnxruntime for "
             ".onnx files, else tensorflow)",
    )
    p.add_argument(
        "--tile", type=int, default=None, metavar="T",
        help=(f"tile side in LR pixels (0: never tile; default: {DEFAULT_TILE} when a frame has "
              f"more than {TILE_PIXEL_BUDGET} pixels)"),
    )
    p.add_argument(
        "--tile_overlap", type=int, default=DEFAULT_TILE_OVERLAP, metavar="O",
        help=f"overlap of neighbouring tiles in LR pixels (default {DEFAULT_TILE_OVERLAP})",
    )
    p.add_argument(
        "--samples", type=int, default=1, metavar="K",
        help="variational models: average K draws of the latent attention (default 1: mean path)",
    )
    p.add_argument(
        "--uncertainty", default=None, metavar="PATH",
        help=(f"with --samples K >= 2: write the per-pixel std over draws as a '"
              f"{UNCERTAINTY_COLORMAP}' heat map video/frame folder (0 .. --uncertainty_scale)"),
    )
    p.add_argument(
        "--uncertainty_scale", type=float, default=UNCERTAINTY_MAX_STD, metavar="STD",
        help=(f"std (intensity levels of 255) at the top of the heat map colormap, the same "
              f"for every frame (default {UNCERTAINTY_MAX_STD:g})"),
    )
    p.add_argument("--fps", default=None, metavar="F",
                   help="output frame rate, a number or a ratio such as 30000/1001 (default: "
                        "the input's exact rate)")
    p.add_argument("--codec", default=DEFAULT_CODEC, choices=VIDEO_CODECS,
                   help=f"video encoder (default {DEFAULT_CODEC}; ffv1 is lossless); checked "
                        f"against the FFmpeg build before the model loads")
    p.add_argument("--crf", type=float, default=None, metavar="Q",
                   help=f"x264/x265 constant rate factor, 0 (lossless) to 51 (default "
                        f"{WRITER_CRF})")
    p.add_argument("--preset", default=None, choices=PRESETS,
                   help=f"x264/x265 speed preset (default {DEFAULT_PRESET})")
    p.add_argument("--pix_fmt", default=DEFAULT_PIX_FMT, choices=PIX_FMTS,
                   help=f"output pixel format (default {DEFAULT_PIX_FMT}; yuv444p keeps full "
                        f"colour resolution)")
    p.add_argument("--no_audio", action="store_true",
                   help="drop the input's audio (it is stream-copied by default)")
    p.add_argument("--seq_len", type=int, default=None, metavar="L",
                   help="frames per window (default: the model's)")
    p.add_argument("--max_frames", type=int, default=None, metavar="N",
                   help="upscale only the first N frames")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    options = UpscaleOptions(
        tile=args.tile,
        overlap=args.tile_overlap,
        samples=args.samples,
        uncertainty_path=args.uncertainty,
        uncertainty_max_std=args.uncertainty_scale,
        fps=args.fps,
        max_frames=args.max_frames,
        progress=not args.no_progress,
        encoding=VideoEncoding(codec=args.codec, crf=args.crf, preset=args.preset,
                               pix_fmt=args.pix_fmt),
        audio=not args.no_audio,
    )
    info = upscale_video(args.input, args.output, args.model, options, seq_len=args.seq_len,
                         precision=args.precision, backend=args.backend)
    (h, w), (oh, ow) = info["input_size"], info["output_size"]
    tiles = f", tiles of {info['tile']} px" if info["tile"] else ""
    print(f"{args.output}: {info['frames']} frames {w}x{h} -> {ow}x{oh} at {_rate_text(info['rate'])} fps"
          f"{tiles} in {info['seconds']:.1f} s")
    if args.uncertainty:
        print(f"{args.uncertainty}: uncertainty heat map")
    return 0


def _rate_text(rate):
    """``29.97 (30000/1001)`` for a rational rate, ``25`` for a whole one."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.6g} ({rate.numerator}/{rate.denominator})"
