"""What an encoded video file holds, read with the FFmpeg that ``imageio-ffmpeg`` ships.

That package ships ``ffmpeg`` but no ``ffprobe``, so :func:`probe_video` asks ``ffmpeg`` for two
things in one run that decodes nothing: the input header it prints (streams, codecs, colour tags,
sample aspect ratio, display rotation, duration) and, with ``-c copy -f framecrc``, the timestamp
of every video packet (the exact time base and frame durations). The header is FFmpeg's log
text, not a stable interface; the binary is pinned by the ``imageio-ffmpeg`` release and
tests/test_video_streams.py reads real files of every kind handled here, so a change shows.
docs/video.md says why this and not PyAV.

Decisions (GAP: the paper has no video I/O), each named once:

* ``HD_MIN_WIDTH`` / ``SD_MAX_HEIGHT``: an untagged video is BT.709 when it is at least 1280
  wide or more than 576 high, else BT.601 (what players such as mpv and browsers assume), for
  the input's decoding and for the output's tags alike.
* ``SD_COLOUR`` / ``HD_COLOUR``: the tags of those two cases; limited ("tv") range when the range
  is untagged.
* ``CFR_TOLERANCE_TICKS``: frame durations that differ by at most this many time-base ticks are
  one constant rate (containers round each timestamp to their time base).
* ``STANDARD_RATES``: a constant rate whose timestamps were rounded is snapped to the nearest of
  these when the snapped rate reproduces every timestamp within the tolerance.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import subprocess
from fractions import Fraction
from pathlib import Path

from vsr_latent.errors import InputError

HD_MIN_WIDTH = 1280
SD_MAX_HEIGHT = 576
CFR_TOLERANCE_TICKS = 1
STANDARD_RATES = tuple(Fraction(r) for r in (
    "24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001", "60", "100",
    "120000/1001", "120"))


@dataclasses.dataclass(frozen=True)
class Colour:
    """YUV colour description, in FFmpeg's names: ``matrix`` (``bt709``, ``smpte170m``,
    ``bt470bg``, ``bt2020nc``, ...), ``primaries``, ``transfer`` and ``range`` (``tv`` limited,
    ``pc`` full). ``tagged`` says whether the file named the matrix (else it was assumed)."""

    matrix: str
    primaries: str
    transfer: str
    range: str = "tv"
    tagged: bool = True


SD_COLOUR = Colour("smpte170m", "smpte170m", "smpte170m", "tv", tagged=False)
HD_COLOUR = Colour("bt709", "bt709", "bt709", "tv", tagged=False)

# Matrix name as the file gives it -> the scale filter's name for it (in/out_color_matrix).
# Matrices not listed here (gbr: RGB stored as planes; ycgco) are left to FFmpeg.
SCALE_MATRIX = {
    "bt709": "bt709", "smpte170m": "smpte170m", "bt470bg": "bt470", "fcc": "fcc",
    "smpte240m": "smpte240m", "bt2020nc": "bt2020", "bt2020c": "bt2020",
}
# Primaries and transfer that go with a matrix when only the matrix is tagged.
_MATRIX_PRIMARIES = {"bt709": "bt709", "smpte170m": "smpte170m", "bt470bg": "bt470bg",
                     "bt2020nc": "bt2020", "bt2020c": "bt2020", "smpte240m": "smpte240m"}
_MATRIX_TRANSFER = {"bt709": "bt709", "smpte170m": "smpte170m", "bt470bg": "smpte170m",
                    "bt2020nc": "bt2020-10", "bt2020c": "bt2020-10", "smpte240m": "smpte240m"}
_FIELD_WORDS = {"progressive", "top first", "bottom first", "top coded first (swapped)",
                "bottom coded first (swapped)", "left", "center", "topleft", "top", "bottomleft",
                "bottom"}


def is_hd(size):
    """Whether players take an untagged (H, W) video for HD (BT.709)."""
    h, w = size
    return w >= HD_MIN_WIDTH or h > SD_MAX_HEIGHT


def default_colour(size):
    """The colour players assume for an untagged video of ``size`` (H, W)."""
    return HD_COLOUR if is_hd(size) else SD_COLOUR


def complete_colour(matrix, primaries, transfer, range_, size):
    """A :class:`Colour` from the tags a file has (None where untagged), the rest filled in:
    primaries and transfer from the matrix, everything from the size when the matrix is
    untagged, limited range when the range is."""
    if matrix is None:
        base = default_colour(size)
        return dataclasses.replace(base, primaries=primaries or base.primaries,
                                   transfer=transfer or base.transfer, range=range_ or "tv")
    return Colour(matrix, primaries or _MATRIX_PRIMARIES.get(matrix, matrix),
                  transfer or _MATRIX_TRANSFER.get(matrix, "bt709"), range_ or "tv", tagged=True)


@dataclasses.dataclass(frozen=True)
class Stream:
    """A non-video stream of the input: ``index`` in the file, ``kind`` ('audio' or
    'subtitle'), ``codec`` (FFmpeg's name)."""

    index: int
    kind: str
    codec: str


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found.

    Attributes:
      stream_index: index of the video stream in the file (attached cover pictures skipped).
      size: (H, W) of the decoded frames, after the display rotation (which decoding applies).
      coded_size: (H, W) as stored.
      num_frames: video packets in the file (one per frame).
      rate: exact frame rate (a Fraction: 30000/1001, 25, ...); for variable-rate video the
        average over the file.
      variable_rate: frame durations differ by more than ``CFR_TOLERANCE_TICKS``.
      frame_durations: (shortest, longest) frame duration in seconds.
      video_start: the first frame's time, relative to the file's start (seconds).
      duration: the container's duration (seconds), None when it announces none.
      colour: the input's :class:`Colour` (assumed from the size where untagged).
      sar: sample (pixel) aspect ratio of the decoded frames, a Fraction (1 for square pixels).
      rotation: the display rotation the file asks for (degrees), applied by decoding.
      streams: the audio and subtitle :class:`Stream` s.
      pix_fmt: FFmpeg's pixel format of the stream (``yuv420p``, ``yuv420p10le``, ...).
    """

    stream_index: int
    size: tuple
    coded_size: tuple
    num_frames: int
    rate: Fraction
    variable_rate: bool
    frame_durations: tuple
    video_start: float
    duration: float | None
    colour: Colour
    sar: Fraction
    rotation: float
    streams: tuple
    pix_fmt: str

    @property
    def audio(self):
        return tuple(s for s in self.streams if s.kind == "audio")

    @property
    def subtitles(self):
        return tuple(s for s in self.streams if s.kind == "subtitle")


def ffmpeg_exe():
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.lru_cache(maxsize=1)
def available_encoders():
    """The names of the encoders this FFmpeg build has (``ffmpeg -encoders``)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True,
                         text=True, check=False).stdout
    names = set()
    for line in out.splitlines():
        m = re.match(r"\s*[VAS][A-Z.]{5}\s+(\S+)", line)
        if m:
            names.add(m.group(1))
    return frozenset(names)


def ffmpeg_problem(text):
    """The most telling line of FFmpeg's error output (for one-line errors)."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    tail = [ln for ln in lines if "Invalid" in ln or "moov" in ln or "rror" in ln]
    return re.sub(r"^\[[^]]*@ 0x[0-9a-f]+\] ", "", (tail or lines or ["unknown FFmpeg error"])[-1])[:200]


_STREAM_LINE = re.compile(r"^\s*Stream #0:(\d+)(?:\[[^]]*\])?(?:\([^)]*\))?: (Video|Audio|Subtitle): (.*)$")
_PIX_AND_SIZE = re.compile(r",\s*([a-z0-9_]+)(?:\(([^)]*)\))?,\s*(\d+)x(\d+)")


def _parse_colour_tags(text):
    """``tv, bt709, progressive`` / ``tv, bt709/unknown/unknown`` -> (matrix, primaries,
    transfer, range), None where untagged."""
    matrix = primaries = transfer = range_ = None
    for token in (t.strip() for t in (text or "").split(",")):
        if token in ("tv", "pc"):
            range_ = token
        elif "/" in token:
            parts = [None if p == "unknown" else p for p in token.split("/")]
            matrix, primaries, transfer = (parts + [None, None])[:3]
        elif token and token not in _FIELD_WORDS and token != "unknown":
            matrix = primaries = transfer = token
    return matrix, primaries, transfer, range_


def _parse_header(text, path):
    header = text.split("Stream mapping:")[0]
    lines = header.splitlines()
    video = None
    streams = []
    for i, line in enumerate(lines):
        m = _STREAM_LINE.match(line)
        if not m:
            continue
        index, kind, rest = int(m.group(1)), m.group(2), m.group(3)
        if kind == "Video":
            if video is None and "(attached pic)" not in rest:
                block = []
                for nxt in lines[i + 1:]:
                    if _STREAM_LINE.match(nxt) or not nxt.startswith("    "):
                        break
                    block.append(nxt)
                video = (index, rest, "\n".join(block))
        else:
            codec = rest.split(None, 1)[0].rstrip(",")
            streams.append(Stream(index, kind.lower(), codec))
    if video is None:
        raise InputError(path, "cannot decode video (corrupt, truncated or not a video): "
                               "no video stream")
    index, rest, block = video
    m = _PIX_AND_SIZE.search(rest)
    if not m:
        raise InputError(path, f"cannot read the video stream's format from FFmpeg: {rest[:120]}")
    pix_fmt, tags, w, h = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
    sar_m = re.search(r"\[SAR (\d+):(\d+) DAR", rest)
    sar = Fraction(1)
    if sar_m and int(sar_m.group(1)) > 0 and int(sar_m.group(2)) > 0:
        sar = Fraction(int(sar_m.group(1)), int(sar_m.group(2)))
    rot_m = re.search(r"rotation of (-?[\d.]+) degrees", block)
    rotation = float(rot_m.group(1)) if rot_m else 0.0
    fps_m = re.search(r"([\d.]+) fps", rest)
    nominal_fps = float(fps_m.group(1)) if fps_m else None
    dur_m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", header)
    duration = (int(dur_m.group(1)) * 3600 + int(dur_m.group(2)) * 60 + float(dur_m.group(3))
                if dur_m else None)
    start_m = re.search(r"Duration: [^,]*, start: (-?[\d.]+)", header)
    start = float(start_m.group(1)) if start_m else 0.0
    return dict(index=index, pix_fmt=pix_fmt, tags=tags, coded_size=(h, w), sar=sar,
                rotation=rotation, nominal_fps=nominal_fps, duration=duration, start=start,
                streams=tuple(streams))


_NO_PTS = -(2**63)  # AV_NOPTS_VALUE, as framecrc prints a packet without a timestamp


def _parse_packets(text):
    """framecrc output -> (time base, pts list, packet duration list); a pts is None when the
    packet has none (AVI stores none)."""
    tb = None
    pts, durations = [], []
    for line in text.splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            tb = Fraction(int(num), int(den))
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) >= 4:
                value = int(fields[2]) if fields[2].lstrip("-").isdigit() else _NO_PTS
                pts.append(None if value == _NO_PTS else value)
                durations.append(int(fields[3]) if fields[3].isdigit() else 0)
    return tb, pts, durations


def rate_from_timestamps(pts, tb, nominal_fps=None, durations=None):
    """(rate, variable, (shortest, longest) duration in seconds) from the packets' timestamps.

    A constant rate is the exact one the time base gives (1001 ticks of 1/30000 s: 30000/1001),
    or, when the container rounded its timestamps, the standard rate that reproduces them; a
    variable rate is the average (frames over time).
    """
    known = sorted(p for p in pts if p is not None)
    if len(known) < 2 or tb is None or len(known) != len(pts):
        # No timestamps: one packet duration for all (AVI: 1 tick of 1001/30000) is the rate.
        if tb is not None and durations and len(set(durations)) == 1 and durations[0] > 0:
            d = durations[0] * tb
            return 1 / d, False, (float(d), float(d))
        rate = Fraction(nominal_fps).limit_denominator(1001) if nominal_fps else None
        return rate, False, None
    steps = [b - a for a, b in zip(known, known[1:])]
    lo, hi = min(steps), max(steps)
    span = known[-1] - known[0]
    if lo <= 0:
        return None, True, (0.0, float(hi * tb))
    durations = (float(lo * tb), float(hi * tb))
    if hi - lo <= CFR_TOLERANCE_TICKS:
        if lo == hi:
            return 1 / (lo * tb), False, durations
        average = len(steps) / (span * tb)
        for r in STANDARD_RATES:
            expected = [round(k / r / tb) for k in range(len(known))]
            if all(abs(known[0] + e - p) <= CFR_TOLERANCE_TICKS for e, p in zip(expected, known)):
                return r, False, durations
        return average.limit_denominator(1001), False, durations
    return (len(steps) / (span * tb)).limit_denominator(100000), True, durations


def probe_video(path):
    """A :class:`VideoInfo` for an encoded video file; InputError naming it when FFmpeg cannot
    read it. Decodes nothing (the packets are stream-copied into a checksum list)."""
    path = Path(path)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
    head = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    if "Stream #0:" not in head.stderr:
        raise InputError(path, f"cannot decode video (corrupt, truncated or not a video): "
                               f"{ffmpeg_problem(head.stderr)}")
    info = _parse_header(head.stderr, path)
    run = subprocess.run(cmd[:3] + ["-v", "error"] + cmd[3:] + [
        "-map", f"0:{info['index']}", "-c", "copy", "-f", "framecrc", "-"],
        capture_output=True, text=True, errors="replace", check=False)
    if run.returncode != 0:
        raise InputError(path, f"cannot count frames (corrupt video?): {ffmpeg_problem(run.stderr)}")
    tb, pts, packet_durations = _parse_packets(run.stdout)
    n = len(pts)
    if n == 0:
        raise InputError(path, "the video has no frames")
    rate, variable, durations = rate_from_timestamps(pts, tb, info["nominal_fps"],
                                                     packet_durations)
    if rate is None:
        rate = Fraction(info["nominal_fps"] or 25).limit_denominator(1001)
    duration = info["duration"]
    if "partial file" in run.stderr:  # MP4/MOV whose data ends before its index does
        raise InputError(path, f"truncated video: the file ends inside its data (only {n} "
                               f"frames are present)")
    # The container's duration is the video's only when nothing else (audio) is longer.
    expected = duration * float(rate) if duration and not info["streams"] else 0
    if n + max(2.0, 0.02 * expected) < expected:
        raise InputError(path, f"truncated video: the container announces {duration:.2f} s "
                               f"(~{expected:.0f} frames) but only {n} frames are present")
    known = [p for p in pts if p is not None]
    video_start = float(min(known) * tb) - info["start"] if known and tb else 0.0
    h, w = info["coded_size"]
    sar = info["sar"]
    quarter_turns = round(info["rotation"] / 90) % 4
    if quarter_turns % 2:  # decoding turns the picture: the pixels' aspect turns with it
        h, w, sar = w, h, 1 / sar
    matrix, primaries, transfer, range_ = _parse_colour_tags(info["tags"])
    if info["pix_fmt"].startswith("yuvj"):  # JPEG-style YUV: full range by definition
        range_ = range_ or "pc"
    colour = complete_colour(matrix, primaries, transfer, range_, (h, w))
    return VideoInfo(
        stream_index=info["index"], size=(h, w), coded_size=info["coded_size"], num_frames=n,
        rate=Fraction(rate), variable_rate=variable, frame_durations=durations,
        video_start=max(video_start, 0.0), duration=duration, colour=colour, sar=sar,
        rotation=info["rotation"], streams=info["streams"], pix_fmt=info["pix_fmt"])
