"""``vsr-latent degrade --method bi|bd|scipy --scale 4 IN OUT``: make low-resolution frames."""

import argparse

DEGRADATION_NAMES = ("bi", "bd", "scipy")  # vsr_latent.data.degrade.DEGRADATIONS, kept import-free


def _size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 3840x2160, got {text!r}") from None
    return h, w


def register(subparsers):
    p = subparsers.add_parser(
        "degrade",
        help="make low-resolution frames (BI, BD or SciPy bicubic) from a video or frame folder",
        description=(
            "Degrade every frame of IN (video file, raw YUV 4:2:0 file or frame folder) by 1/scale "
            "and write OUT (a folder of %%08d.png frames, or a video if OUT ends in .mp4/.mkv/.mov/"
            ".avi), frame by frame. Methods: 'bi' MATLAB-compatible bicubic imresize (the Vid4 "
            "BI protocol), 'bd' Gaussian blur sigma 1.6 (13x13) then every scale-th pixel, "
            "'scipy' scipy.misc.imresize bicubic, i.e. Pillow's 8-bit antialiased BICUBIC (the "
            "paper's SciPy preprocessing). Frame sizes "
            "that are not multiples of the scale are cropped (bottom/right) with a warning. OUT "
            "appears only once complete."
        ),
    )
    p.add_argument("input", metavar="IN", help="video file, raw .yuv file or folder of frames")
    p.add_argument("output", metavar="OUT", help="output frame folder (or video file)")
    p.add_argument("--method", default="bi", metavar="NAME",
                   help=f"degradation: {', '.join(DEGRADATION_NAMES)} (default bi)")
    p.add_argument("--scale", type=int, default=4, help="downscaling factor (default 4)")
    p.add_argument("--yuv_size", type=_size, default=None, metavar="WxH",
                   help="read IN as raw YUV 4:2:0 of this frame size, e.g. 3840x2160")
    p.add_argument("--yuv_bit_depth", type=int, default=8, choices=(8, 10),
                   help="raw YUV bit depth (10: 16-bit little-endian words)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    from vsr_latent.data.degrade_file import DegradeOptions, degrade_file

    options = DegradeOptions(method=args.method, scale=args.scale, yuv_size=args.yuv_size,
                             yuv_bit_depth=args.yuv_bit_depth, progress=not args.no_progress)
    n, (h, w) = degrade_file(args.input, args.output, options)
    print(f"{args.output}: {n} frames {w}x{h} ({args.method} x1/{args.scale})")
    return 0
