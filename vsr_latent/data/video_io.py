"""Reading and writing video, frame by frame (never a whole video in memory).

Sources (:func:`open_frames`):

- Encoded video (``.mp4 .mov .mkv .avi .webm .m4v``) decoded by the FFmpeg that ``imageio-ffmpeg``
  ships, streamed as RGB frames through a pipe. :mod:`vsr_latent.data.video_probe` reads the file
  first without decoding (frame count and exact rate from the packets' timestamps, colour tags,
  pixel aspect, rotation, audio and subtitle streams); decoding uses the file's colour matrix and
  range and applies its rotation. A file that decodes to fewer frames than it holds, or that
  FFmpeg cannot open, raises :class:`~vsr_latent.errors.InputError`.
- Raw planar YUV 4:2:0 (``.yuv``, or any file when ``yuv_size`` is given), 8-bit or 10-bit
  little-endian, converted with BT.709 limited-range coefficients (:mod:`vsr_latent.data.yuv`).
  The file size must be a whole number of frames.
- Folders of frames (``.png .jpg .jpeg .bmp .tif .tiff``) in natural order (``Frame 2`` before
  ``Frame 10``, :func:`list_frame_files`); hidden files (a leading dot, as this package's partial
  writes have) and other tools' partial files (``frame.tmp.png``, ``frame.part.png``) are ignored.
  All frames must have the same size (checked from the headers when the folder is opened); any one
  frame can be read alone (``source[i]``). Each image goes through :func:`read_image`.

Every source yields uint8 (H, W, 3) RGB arrays. :func:`to_uint8` is the package's one rounding of
[0, 255] float frames to uint8.

Writing (:class:`FrameWriter`): video (``.mp4 .mkv .mov .avi``; :class:`VideoEncoding`: H.264, CRF
18, yuv420p by default, yuv444p when a side is odd) with an exact rate, colour tags, pixel aspect
and the input's audio and subtitles (:class:`CarriedStreams`), or a folder of ``%08d.png`` frames;
written aside and renamed on a successful close (:mod:`vsr_latent.atomic`), so an error or a kill
never leaves a complete-looking output. docs/video.md says what is kept and why.
"""

import contextlib
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from vsr_latent.atomic import atomic_dir, atomic_path
from vsr_latent.data import yuv as yuv_mod
from vsr_latent.data.video_probe import (
    SCALE_MATRIX,
    available_encoders,
    default_colour,
    ffmpeg_exe,
    ffmpeg_problem,
    probe_video,
)
from vsr_latent.errors import ConfigError, InputError

#: Containers and raw elementary streams (Annex-B H.264 / H.265) that FFmpeg decodes.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".264", ".h264", ".265", ".hevc")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: What :class:`FrameWriter` writes as H.264 video; any other name becomes a frame folder.
WRITABLE_VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi")
#: Frame rate reported for frame folders and raw YUV files, which carry none.
DEFAULT_FPS = 25.0
#: x264 constant rate factor for written video (visually lossless range).
WRITER_CRF = 18


def natural_key(name):
    """Sort key putting ``Frame 2`` before ``Frame 10`` (digit runs compare as numbers)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(name))]


#: Middle suffixes of files another program is still writing (``frame.tmp.png``).
PARTIAL_MARKERS = (".tmp", ".part")


def is_partial_file(path):
    """A file being written: hidden (this package writes aside under a leading dot, see
    :mod:`vsr_latent.atomic`) or marked ``.tmp`` / ``.part`` before its suffix."""
    path = Path(path)
    return path.name.startswith(".") or any(
        s.lower() in PARTIAL_MARKERS for s in path.suffixes[:-1])


def list_frame_files(folder):
    """The image files of a folder in natural order, partial writes left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "no such folder")
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not is_partial_file(p)
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


# Older Pillow versions hand 16-bit greyscale over as int32 ("I" mode), 16 bits in a wider type.
_WIDE_INTEGERS = (np.int32, np.uint32)


def to_rgb8(img, path=None):
    """Any decoded image -> uint8 (H, W, 3): grey repeated, alpha dropped (not composited),
    16-bit samples scaled as ``round(x / 257)`` (65535 -> 255), booleans to 0 / 255.

    Other pixel types (floats, 32-bit integers beyond 16-bit values, ...) are refused with an
    InputError naming ``path``.
    """
    a = np.asarray(img)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint16 or a.dtype.type in _WIDE_INTEGERS:
        if a.dtype != np.uint16 and a.size and (a.min() < 0 or a.max() > 65535):
            raise InputError(path, f"{a.dtype} pixels beyond 16 bits (from {a.min()} to "
                             f"{a.max()}): only 8- and 16-bit images are read")
        # x / 257 never ends in .5 for an integer x, so rounding needs no tie rule.
        a = np.rint(a / 257.0).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise InputError(path, f"unsupported pixel type {a.dtype}: only 8- and 16-bit images "
                         f"are read")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise InputError(path, f"not an image: array of shape {a.shape}")
    c = a.shape[-1]
    if c in (1, 2):
        a = np.repeat(a[..., :1], 3, axis=-1)
    elif c == 4:
        a = a[..., :3]
    elif c != 3:
        raise InputError(path, f"unsupported number of channels: {c}")
    return np.ascontiguousarray(a)


class FrameSource:
    """Iterable of uint8 (H, W, 3) RGB frames with ``path``, ``fps``, ``num_frames``, ``size``."""

    def __init__(self, path, fps, num_frames, size):
        self.path = Path(path)
        self.fps = float(fps)
        self.num_frames = num_frames
        self.size = tuple(size)

    def __iter__(self):
        raise NotImplementedError

    def __len__(self):
        if self.num_frames is None:
            raise TypeError("frame count unknown")
        return self.num_frames

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return (
            f"{type(self).__name__}({str(self.path)!r}, size={self.size}, "
            f"num_frames={self.num_frames}, fps={self.fps})"
        )


class VideoSource(FrameSource):
    """An encoded video file decoded by FFmpeg (the binary imageio-ffmpeg ships), streamed.

    :func:`~vsr_latent.data.video_probe.probe_video` reads the file first (frame count, exact
    rate, colour, aspect, rotation, audio and subtitle streams: ``self.info``); decoding then
    converts YUV to RGB with the file's own matrix and range (assumed from the frame size where
    untagged, as players do), applies the display rotation once, and passes every frame through
    once (no frame dropped or doubled to fit a rate).
    """

    def __init__(self, path):
        path = Path(path)
        self.info = probe_video(path)
        self._procs = []
        super().__init__(path, float(self.info.rate), self.info.num_frames, self.info.size)

    @property
    def rate(self):
        """The exact frame rate (a Fraction)."""
        return self.info.rate

    def _decode_command(self):
        colour = self.info.colour
        scale = "scale"
        matrix = SCALE_MATRIX.get(colour.matrix)
        if matrix is not None and self.info.pix_fmt.startswith("yuv"):
            scale += f"=in_color_matrix={matrix}:in_range={colour.range}"
        return [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(self.path),
                "-map", f"0:{self.info.stream_index}", "-an", "-sn", "-fps_mode", "passthrough",
                "-vf", f"{scale},format=rgb24", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]

    def __iter__(self):
        h, w = self.size
        frame_bytes = h * w * 3
        errors = tempfile.TemporaryFile()
        proc = subprocess.Popen(self._decode_command(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=errors, bufsize=frame_bytes)
        self._procs.append(proc)
        count = 0
        try:
            while True:
                buf = proc.stdout.read(frame_bytes)
                if not buf:
                    break
                if len(buf) != frame_bytes:
                    raise InputError(self.path, f"frame {count} is truncated")
                count += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
            rc = proc.wait()
            errors.seek(0)
            problem = ffmpeg_problem(errors.read().decode(errors="replace"))
            if count == 0:
                raise InputError(self.path, f"the video has no decodable frames: {problem}")
            if count < self.num_frames:
                raise InputError(self.path, f"truncated video: decoded {count} of "
                                            f"{self.num_frames} frames")
            if rc != 0:
                raise InputError(self.path, f"decoding failed at frame {count}: {problem}")
        finally:
            _stop(proc)
            errors.close()

    def close(self):
        for proc in self._procs:
            _stop(proc)
        self._procs = []


def _stop(proc):
    """Ends an FFmpeg child (closing its pipes) if it still runs."""
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(Exception):
        proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(Exception):
                pipe.close()


class YuvSource(FrameSource):
    """Raw planar YUV 4:2:0 file, 8-bit or 10-bit little-endian, BT.709 limited range."""

    def __init__(self, path, size, bit_depth=8, fps=DEFAULT_FPS):
        path = Path(path)
        if size is None:
            raise InputError(path, "raw YUV needs its frame size (yuv_size=(H, W))")
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            raise InputError(path, f"yuv_size must be (H, W), got {size!r}") from None
        if bit_depth not in (8, 10):
            raise InputError(path, f"unsupported YUV bit depth {bit_depth} (8 or 10)")
        if h <= 0 or w <= 0 or h % 2 or w % 2:
            raise InputError(path, f"YUV 4:2:0 frame size must be even and positive, got {h}x{w}")
        if not path.is_file():
            raise InputError(path, "no such file")
        self.bit_depth = bit_depth
        self.frame_bytes = yuv_mod.frame_bytes((h, w), bit_depth)
        total = path.stat().st_size
        if total == 0:
            raise InputError(path, "empty YUV file")
        if total % self.frame_bytes:
            raise InputError(
                path,
                f"file size {total} is not a whole number of {h}x{w} {bit_depth}-bit 4:2:0 "
                f"frames ({self.frame_bytes} bytes each): wrong size or bit depth, or truncated",
            )
        super().__init__(path, fps, total // self.frame_bytes, (h, w))

    def __iter__(self):
        with open(self.path, "rb") as f:
            for i in range(self.num_frames):
                buf = f.read(self.frame_bytes)
                if len(buf) != self.frame_bytes:
                    raise InputError(self.path, f"frame {i} is truncated")
                yield yuv_mod.yuv420_to_rgb(buf, self.size, self.bit_depth)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_deep_colour_png(path):
    # IHDR is the first chunk: bit depth at byte 24, colour type at 25 (2 RGB, 4 grey + alpha,
    # 6 RGBA). Pillow keeps only the high byte of such samples (x >> 8), so they are decoded
    # elsewhere to be scaled like 16-bit greyscale.
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError as e:
        raise InputError(path, f"cannot read image ({e.strerror or e})") from None
    return (len(head) == 26 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR"
            and head[24] == 16 and head[25] in (2, 4, 6))


def _read_deep_colour_png(path):
    """A 16-bit colour PNG as uint16 (H, W, 3), alpha dropped, decoded by FFmpeg."""
    import imageio_ffmpeg

    # png_pipe, not the image2 demuxer, so a "%" in the name is not read as a pattern.
    gen = imageio_ffmpeg.read_frames(str(Path(path).resolve()), pix_fmt="rgb48le", bpp=6,
                                     input_params=["-f", "png_pipe"])
    problem = "cannot decode image (a corrupt or truncated 16-bit PNG)"
    try:
        w, h = next(gen)["size"]
        buf = next(gen, b"")
    except (OSError, RuntimeError, StopIteration):
        raise InputError(path, problem) from None
    finally:
        gen.close()
    if len(buf) != h * w * 6:
        raise InputError(path, problem)
    return np.frombuffer(buf, dtype="<u2").reshape(h, w, 3)


def read_image(path):
    """One image file -> uint8 (H, W, 3) RGB (see :func:`to_rgb8`); InputError naming the file
    when it cannot be read."""
    import imageio.v3 as iio

    if _is_deep_colour_png(path):
        return to_rgb8(_read_deep_colour_png(path), path)
    try:
        img = iio.imread(path)
    except Exception as e:  # noqa: BLE001 - imageio's plugins raise many unrelated types
        raise InputError(path, f"cannot decode image ({type(e).__name__}: {e})") from None
    return to_rgb8(img, path)


def _header_size(p):
    try:
        with Image.open(p) as im:
            w, h = im.size
        return h, w
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for bad files
        raise InputError(p, f"cannot read image ({type(e).__name__}: {e})") from None


class FolderSource(FrameSource):
    """A folder of PNG/JPEG/... frames in natural order, all of one size."""

    def __init__(self, path, fps=DEFAULT_FPS):
        path = Path(path)
        files = list_frame_files(path)
        if not files:
            raise InputError(path, f"empty folder: no frames ({', '.join(IMAGE_EXTENSIONS)})")
        size = _header_size(files[0])
        for p in files[1:]:
            s = _header_size(p)
            if s != size:
                raise InputError(
                    p, f"frame size {s[1]}x{s[0]} differs from the folder's {size[1]}x{size[0]}"
                )
        self.files = files
        super().__init__(path, fps, len(files), size)

    def _read(self, p):
        img = read_image(p)
        if img.shape[:2] != self.size:
            raise InputError(p, f"frame size {img.shape[1]}x{img.shape[0]} differs from the folder's")
        return img

    def __iter__(self):
        for p in self.files:
            yield self._read(p)

    def __getitem__(self, i):
        """Frame ``i`` alone: unlike a video, a folder reads in any order."""
        return self._read(self.files[i])


def open_frames(path, *, yuv_size=None, yuv_bit_depth=8):
    """Opens a video file, a raw YUV 4:2:0 file or a frame folder as a streaming FrameSource.

    ``yuv_size`` is (H, W); giving it reads any file as raw YUV. Bad input raises InputError.
    """
    path = Path(path)
    if path.is_dir():
        return FolderSource(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if yuv_size is not None or path.suffix.lower() == ".yuv":
        return YuvSource(path, yuv_size, yuv_bit_depth)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise InputError(path, "a single image, not a video: give the folder of frames instead")
    return VideoSource(path)


def read_frames(path, **kw):
    """Whole input as uint8 (T, H, W, 3) (small inputs and tests only)."""
    with open_frames(path, **kw) as src:
        frames = list(src)
    return np.stack(frames)


def to_uint8(frame):
    """Frame(s) on [0, 255] -> uint8: rounded half to even (``rint``, as 8-bit saving does) in
    float32, then clipped; uint8 input is returned as it is."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a.astype(np.float32)), 0, 255).astype(np.uint8)
    return a


#: Encoders ``--codec`` offers; each is checked against the FFmpeg build when a writer is made.
VIDEO_CODECS = ("libx264", "libx265", "ffv1")
#: The default encoder (H.264 plays everywhere).
DEFAULT_CODEC = "libx264"
#: Encoders that are lossless and take neither a CRF nor a preset.
LOSSLESS_CODECS = ("ffv1",)
#: x264 / x265 speed presets (the same names for both).
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow", "placebo")
DEFAULT_PRESET = "medium"
#: Output pixel formats; yuv420p (the default) is what every player takes.
PIX_FMTS = ("yuv420p", "yuv444p")
DEFAULT_PIX_FMT = "yuv420p"
#: FFmpeg muxer of each writable suffix.
_MUXERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
#: Audio encoder used where a container cannot hold the input's audio codec.
_AUDIO_FALLBACK = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".avi": "libmp3lame"}
#: Text subtitle encoder used where a container cannot hold the input's subtitle codec
#: (MP4 and QuickTime hold only timed text; AVI holds no subtitles at all).
_SUBTITLE_FALLBACK = {".mp4": "mov_text", ".mov": "mov_text"}


@dataclasses.dataclass(frozen=True)
class VideoEncoding:
    """How :class:`FrameWriter` encodes video (``vsr-latent upscale --codec --crf --preset
    --pix_fmt``); checked when made, one ConfigError for the first problem.

    Attributes:
      codec: ``libx264`` (default), ``libx265`` or ``ffv1`` (lossless), where this FFmpeg build
        has it (:meth:`check_available`).
      crf: constant rate factor, 0 (lossless) to 51; None: ``WRITER_CRF``. Not for ffv1.
      preset: x264/x265 speed preset; None: ``DEFAULT_PRESET``. Not for ffv1.
      pix_fmt: ``yuv420p`` (default) or ``yuv444p`` (full-resolution chroma). A frame with an
        odd side is written as yuv444p, which 4:2:0 cannot hold.
    """

    codec: str = DEFAULT_CODEC
    crf: float | None = None
    preset: str | None = None
    pix_fmt: str = DEFAULT_PIX_FMT

    def __post_init__(self):
        if self.codec not in VIDEO_CODECS:
            raise ConfigError(f"--codec must be one of {', '.join(VIDEO_CODECS)}, got {self.codec!r}")
        if self.pix_fmt not in PIX_FMTS:
            raise ConfigError(f"--pix_fmt must be one of {', '.join(PIX_FMTS)}, got {self.pix_fmt!r}")
        if self.codec in LOSSLESS_CODECS:
            for flag, value in (("--crf", self.crf), ("--preset", self.preset)):
                if value is not None:
                    raise ConfigError(f"{flag} does not apply to --codec {self.codec} (lossless)")
        if self.crf is not None and not 0 <= float(self.crf) <= 51:
            raise ConfigError(f"--crf must be from 0 to 51, got {self.crf}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")

    def check_available(self):
        """ConfigError when this FFmpeg build has no such encoder (before anything is run)."""
        have = available_encoders()
        if self.codec not in have:
            offered = [c for c in VIDEO_CODECS if c in have]
            raise ConfigError(f"--codec {self.codec}: the FFmpeg of imageio-ffmpeg "
                              f"({ffmpeg_exe()}) has no {self.codec} encoder; it has "
                              f"{', '.join(offered) or 'none of ' + ', '.join(VIDEO_CODECS)}")

    def codec_args(self, suffix):
        if self.codec in LOSSLESS_CODECS:
            return ["-c:v", self.codec, "-level", "3", "-g", "1"]
        crf = WRITER_CRF if self.crf is None else self.crf
        args = ["-c:v", self.codec, "-crf", f"{float(crf):g}", "-preset",
                self.preset or DEFAULT_PRESET]
        if self.codec == "libx265":
            args += ["-x265-params", "log-level=error"]
            if suffix in (".mp4", ".mov"):
                args += ["-tag:v", "hvc1"]  # the HEVC tag Apple players require
        return args


@dataclasses.dataclass(frozen=True)
class CarriedStreams:
    """The streams of an input video a writer copies into its output (:func:`carried_streams`):
    ``source`` file, its ``streams`` (audio / subtitle ``Stream`` s) and ``video_start``, the
    input video's first frame time relative to the file's start (so audio stays in sync)."""

    source: Path
    streams: tuple
    video_start: float = 0.0


def carried_streams(source, *, audio=True):
    """The audio (unless ``audio=False``) and subtitle streams of a ``VideoSource`` to carry
    into the output; None when there are none (frame folders, raw YUV, silent videos)."""
    info = getattr(source, "info", None)
    if info is None:
        return None
    streams = tuple(s for s in info.streams if audio or s.kind != "audio")
    if not streams:
        return None
    return CarriedStreams(Path(source.path), streams, info.video_start)


def _rate_arg(fps):
    """A frame rate as FFmpeg's exact rational ("30000/1001")."""
    rate = fps if isinstance(fps, Fraction) else Fraction(str(float(fps)))
    return f"{rate.numerator}/{rate.denominator}"


def notice(message):
    """A one-line notice on stderr (a choice the user should know of, not an error)."""
    print(message, file=sys.stderr, flush=True)


class FrameWriter:
    """Writes frames to a video (.mp4/.mkv/.mov/.avi) or a ``%08d.png`` folder, atomically.

    ``path`` ending in .mp4/.mkv/.mov/.avi gives a video, anything else a frame folder. Frames are
    (H, W, 3) uint8, or float on [0, 255] (rounded and clipped). The output appears under
    ``path`` only when :meth:`close` (or the ``with`` block) ends without an error.

    Video only:

    * ``fps``: the rate, exact when a Fraction (30000/1001); a float is read as its decimal.
    * ``encoding``: :class:`VideoEncoding` (H.264, CRF 18, yuv420p when None).
    * ``colour``: the :class:`~vsr_latent.data.video_probe.Colour` to convert RGB to YUV with
      and to tag the output with; None: what players assume for the output's size (BT.601 for
      SD, BT.709 for HD, limited range).
    * ``sar``: sample aspect ratio (a Fraction) written into the stream, so players show the
      frames with the input's display aspect.
    * ``streams``: :class:`CarriedStreams` copied into the output once the video is complete,
      cut to the video's duration: stream-copied where the container holds the codec, else
      audio re-encoded (AAC; MP3 for AVI) and text subtitles converted to timed text, each with
      a one-line notice; subtitles a container cannot hold at all are dropped with a notice.
    """

    def __init__(self, path, fps=DEFAULT_FPS, *, encoding=None, colour=None, sar=None,
                 streams=None):
        self.path = Path(path)
        self.fps = fps if isinstance(fps, Fraction) else float(fps)
        self.is_video = self.path.suffix.lower() in WRITABLE_VIDEO_EXTENSIONS
        self.encoding = encoding or VideoEncoding()
        self.colour = colour
        self.sar = Fraction(sar) if sar is not None else Fraction(1)
        self.streams = streams
        self.num_written = 0
        self.size = None
        self._stack = contextlib.ExitStack()
        self._proc = None
        self._errors = None
        if self.is_video:
            self.encoding.check_available()
            self._tmp = self._stack.enter_context(atomic_path(self.path))
        else:
            self._tmp = self._stack.enter_context(atomic_dir(self.path))
        self._closed = False

    def _output_colour(self, h, w):
        colour = self.colour
        if colour is None or colour.matrix not in SCALE_MATRIX:
            colour = default_colour((h, w))
        return colour

    def _video_target(self):
        # With streams to carry, the video is encoded aside and muxed with them at close.
        if self.streams is None:
            return self._tmp
        return self._tmp.with_name(self._tmp.stem + ".video" + self._tmp.suffix)

    def _start_video(self, h, w):
        enc = self.encoding
        pix = enc.pix_fmt if h % 2 == 0 and w % 2 == 0 else "yuv444p"
        c = self._output_colour(h, w)
        sar = self.sar
        filters = [
            f"setsar=r={sar.numerator}/{sar.denominator}:max={max(sar.numerator, sar.denominator, 1)}",
            # Exact rounding and chroma averaged from every pixel (not sampled): 0.34 instead
            # of 0.60 levels of red off on upscaled colour bars (docs/video.md).
            f"scale=out_color_matrix={SCALE_MATRIX[c.matrix]}:out_range={c.range}"
            f":flags=accurate_rnd+full_chroma_inp",
            f"format={pix}",
            f"setparams=colorspace={c.matrix}:color_primaries={c.primaries}:"
            f"color_trc={c.transfer}:range={c.range}",
        ]
        suffix = self.path.suffix.lower()
        cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", _rate_arg(self.fps),
               "-i", "-", "-an", "-vf", ",".join(filters), *enc.codec_args(suffix),
               "-pix_fmt", pix, "-f", _MUXERS[suffix], str(self._video_target())]
        self._errors = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=self._errors)

    def _ffmpeg_error(self):
        if self._errors is None:
            return "unknown FFmpeg error"
        self._errors.seek(0)
        return ffmpeg_problem(self._errors.read().decode(errors="replace"))

    def write(self, frame):
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        a = to_uint8(frame)
        if a.ndim != 3 or a.shape[-1] != 3:
            raise InputError(self.path, f"frames must be (H, W, 3), got {a.shape}")
        if self.size is None:
            self.size = a.shape[:2]
            if self.is_video:
                self._start_video(*self.size)
        elif a.shape[:2] != self.size:
            raise InputError(
                self.path, f"frame {self.num_written} has size {a.shape[:2]}, expected {self.size}"
            )
        if self.is_video:
            try:
                self._proc.stdin.write(np.ascontiguousarray(a).tobytes())
            except (BrokenPipeError, OSError):
                self._proc.wait()
                raise InputError(self.path, f"FFmpeg stopped writing the video: "
                                            f"{self._ffmpeg_error()}") from None
        else:
            import imageio.v3 as iio

            iio.imwrite(self._tmp / f"{self.num_written:08d}.png", a)
        self.num_written += 1

    def _finish_video(self):
        proc, self._proc = self._proc, None
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        if proc.wait() != 0:
            raise InputError(self.path, f"FFmpeg could not write the video: {self._ffmpeg_error()}")
        if self.streams is not None:
            self._mux_streams()

    def _stream_plan(self):
        """[(stream, output codec or 'copy')] for the carried streams, with a notice for each
        not copied; a trial mux of each stream's first packet alone finds what the container
        holds (the container refuses a codec when it writes its header)."""
        suffix = self.path.suffix.lower()
        src = self.streams.source
        trial = self._tmp.with_name(self._tmp.stem + ".trial" + self._tmp.suffix)
        plan = []
        try:
            for st in self.streams.streams:
                fallback = (_AUDIO_FALLBACK.get(suffix) if st.kind == "audio"
                            else _SUBTITLE_FALLBACK.get(suffix))
                chosen = None
                for codec in ["copy"] + ([fallback] if fallback else []):
                    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(src),
                           "-map", f"0:{st.index}", "-c", codec, "-frames:0", "1",
                           "-f", _MUXERS[suffix], str(trial)]
                    if subprocess.run(cmd, capture_output=True, check=False).returncode == 0:
                        chosen = codec
                        break
                what = f"{src}: {st.kind} stream #{st.index} ({st.codec})"
                if chosen is None:
                    notice(f"{what} dropped: the {suffix} container cannot hold it")
                    continue
                if chosen != "copy":
                    notice(f"{what} re-encoded as {chosen}: the {suffix} container cannot hold "
                           f"{st.codec}")
                plan.append((st, chosen))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(trial)
        return plan

    def _mux_streams(self):
        video = self._video_target()
        try:
            duration = self.num_written / float(self.fps)
            plan = self._stream_plan()
            offset = self.streams.video_start
            cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
            if offset > 5e-4:
                cmd += ["-itsoffset", f"{offset:.6f}"]
            cmd += ["-i", str(video), "-i", str(self.streams.source), "-map", "0:v:0"]
            codecs = ["-c:0", "copy"]
            for k, (st, codec) in enumerate(plan, start=1):
                cmd += ["-map", f"1:{st.index}"]
                codecs += [f"-c:{k}", codec]
            cmd += [*codecs, "-map_metadata", "1", "-t", f"{offset + duration:.6f}",
                    "-f", _MUXERS[self.path.suffix.lower()], str(self._tmp)]
            run = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                 check=False)
            if run.returncode != 0:
                raise InputError(self.path, f"FFmpeg could not add the input's audio/subtitles: "
                                            f"{ffmpeg_problem(run.stderr)}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(video)

    def close(self):
        """Finishes the output and moves it into place."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._proc is not None:
                self._finish_video()
            if self.is_video and self.num_written == 0:
                raise InputError(self.path, "no frames were written")
        except BaseException as e:
            self._cleanup()
            self._stack.__exit__(type(e), e, e.__traceback__)
            raise
        self._cleanup()
        self._stack.__exit__(None, None, None)

    def _cleanup(self):
        if self._proc is not None:
            proc, self._proc = self._proc, None
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(Exception):
                proc.wait()
            with contextlib.suppress(Exception):
                proc.stdin.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None
        if self.is_video and self.streams is not None:
            with contextlib.suppress(FileNotFoundError, AttributeError):
                os.unlink(self._video_target())

    def abort(self, exc=None):
        """Discards everything written so far."""
        if self._closed:
            return
        self._closed = True
        self._cleanup()
        exc = exc or RuntimeError("aborted")
        with contextlib.suppress(BaseException):
            self._stack.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort(exc)
        return False

    def __del__(self):
        if not getattr(self, "_closed", True):
            warnings.warn(f"{self.path}: FrameWriter not closed; output discarded", stacklevel=1)
            self.abort()
