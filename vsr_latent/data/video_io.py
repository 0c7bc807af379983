"""Reading and writing video, frame by frame (never a whole video in memory).

Sources (:func:`open_frames`):

- Encoded video (``.mp4 .mov .mkv .avi .webm .m4v``) decoded by FFmpeg through ``imageio-ffmpeg``
  (``imageio_ffmpeg.read_frames``), streamed as RGB frames. The frame count comes from a cheap
  stream copy (``count_frames_and_secs``, no decoding); a file that decodes to fewer frames than it
  announces, or that FFmpeg cannot open, raises :class:`~vsr_latent.errors.InputError`.
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

Writing (:class:`FrameWriter`): H.264 video (``.mp4 .mkv .mov .avi``; CRF 18, yuv420p, or yuv444p
when a side is odd) or a folder of ``%08d.png`` frames; written aside and renamed on a successful
close (:mod:`vsr_latent.atomic`), so an error or a kill never leaves a complete-looking output.
"""

import contextlib
import re
import warnings
from pathlib import Path

import numpy as np

from vsr_latent.atomic import atomic_dir, atomic_path
from vsr_latent.data import yuv as yuv_mod
from vsr_latent.errors import InputError

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


def _ffmpeg_problem(e):
    lines = [l.strip() for l in str(e).splitlines() if l.strip()]
    tail = [l for l in lines if "Invalid" in l or "moov" in l or "error" in l.lower()]
    return (tail or lines or ["unknown FFmpeg error"])[-1][:200]


class VideoSource(FrameSource):
    """An encoded video file decoded by FFmpeg (imageio-ffmpeg), streamed."""

    def __init__(self, path):
        import imageio_ffmpeg

        path = Path(path)
        try:
            gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
            meta = next(gen)
        except (OSError, RuntimeError, StopIteration) as e:
            raise InputError(
                path, f"cannot decode video (corrupt, truncated or not a video): {_ffmpeg_problem(e)}"
            ) from None
        try:
            n, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        except (OSError, RuntimeError) as e:
            gen.close()
            raise InputError(path, f"cannot count frames (corrupt video?): {_ffmpeg_problem(e)}") from None
        w, h = meta["size"]
        fps = meta.get("fps") or DEFAULT_FPS
        duration = meta.get("duration") or 0
        expected = duration * fps if np.isfinite(duration) else 0
        if int(n) + max(2.0, 0.02 * expected) < expected:
            gen.close()
            raise InputError(
                path,
                f"truncated video: the container announces {duration:.2f} s "
                f"(~{expected:.0f} frames) but only {n} frames are present",
            )
        super().__init__(path, fps, int(n), (h, w))
        self._pending = gen
        self._generators = []

    def __iter__(self):
        import imageio_ffmpeg

        if self._pending is not None:
            gen, self._pending = self._pending, None
        else:
            gen = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24")
            next(gen)
        self._generators.append(gen)
        h, w = self.size
        count = 0
        try:
            for buf in gen:
                if len(buf) != h * w * 3:
                    raise InputError(self.path, f"frame {count} is truncated")
                count += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
        except (OSError, RuntimeError) as e:
            raise InputError(self.path, f"decoding failed at frame {count}: {_ffmpeg_problem(e)}") from None
        finally:
            gen.close()
        if count == 0:
            raise InputError(self.path, "the video has no decodable frames")
        if self.num_frames and count < self.num_frames:
            raise InputError(
                self.path, f"truncated video: decoded {count} of {self.num_frames} frames"
            )

    def close(self):
        for g in [self._pending, *self._generators]:
            if g is not None:
                g.close()
        self._pending = None
        self._generators = []


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
    from PIL import Image

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


class FrameWriter:
    """Writes frames to an H.264 video or a ``%08d.png`` folder, atomically.

    ``path`` ending in .mp4/.mkv/.mov/.avi gives a video, anything else a frame folder. Frames are
    (H, W, 3) uint8, or float on [0, 255] (rounded and clipped). The output appears under
    ``path`` only when :meth:`close` (or the ``with`` block) ends without an error.
    """

    def __init__(self, path, fps=DEFAULT_FPS):
        self.path = Path(path)
        self.fps = float(fps)
        self.is_video = self.path.suffix.lower() in WRITABLE_VIDEO_EXTENSIONS
        self.num_written = 0
        self.size = None
        self._stack = contextlib.ExitStack()
        self._gen = None
        if self.is_video:
            self._tmp = self._stack.enter_context(atomic_path(self.path))
        else:
            self._tmp = self._stack.enter_context(atomic_dir(self.path))
        self._closed = False

    def _start_video(self, h, w):
        import imageio_ffmpeg

        pix = "yuv420p" if h % 2 == 0 and w % 2 == 0 else "yuv444p"
        self._gen = imageio_ffmpeg.write_frames(
            str(self._tmp),
            (w, h),
            fps=self.fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out=pix,
            quality=None,
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-crf", str(WRITER_CRF)],
        )
        self._gen.send(None)

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
            self._gen.send(np.ascontiguousarray(a))
        else:
            import imageio.v3 as iio

            iio.imwrite(self._tmp / f"{self.num_written:08d}.png", a)
        self.num_written += 1

    def close(self):
        """Finishes the output and moves it into place."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._gen is not None:
                self._gen.close()
            if self.is_video and self.num_written == 0:
                raise InputError(self.path, "no frames were written")
        except BaseException as e:
            self._stack.__exit__(type(e), e, e.__traceback__)
            raise
        self._stack.__exit__(None, None, None)

    def abort(self, exc=None):
        """Discards everything written so far."""
        if self._closed:
            return
        self._closed = True
        if self._gen is not None:
            with contextlib.suppress(Exception):
                self._gen.close()
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
