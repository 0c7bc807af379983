"""What `vsr-latent upscale` keeps of a video: audio and subtitles, the exact frame rate, colour,
pixel aspect and rotation, and the encoder choices. Inputs are made here with the FFmpeg that
imageio-ffmpeg ships and read back with it (its header and ``framecrc`` packet lists), not with
the package's own probe."""

import re
import subprocess
from fractions import Fraction

import imageio_ffmpeg
import numpy as np
import pytest

from vsr_latent.data.video_io import open_frames, read_frames
from vsr_latent.data.video_probe import _parse_colour_tags, probe_video, rate_from_timestamps
from vsr_latent.serving.predictors import bicubic_upscale

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args, stdin=None):
    return subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-y", *map(str, args)],
                          input=stdin, check=True, capture_output=True)


def header(path):
    """FFmpeg's description of the file's streams."""
    return subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True).stderr


def packets(path, stream):
    """(time base, [(pts, duration, crc)]) of one stream, stream-copied (nothing decoded)."""
    out = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-c",
                          "copy", "-f", "framecrc", "-"], capture_output=True, text=True,
                         check=True).stdout
    tb = Fraction(re.search(r"#tb 0: (\d+/\d+)", out).group(1))
    rows = [[f.strip() for f in line.split(",")] for line in out.splitlines()
            if line and not line.startswith("#")]
    return tb, [(int(r[2]), int(r[3]), r[5]) for r in rows]


def decode_rgb(path, size):
    """All frames decoded by FFmpeg itself (it honours the colour tags), (T, H, W, 3). Chroma
    is interpolated as players do (``full_chroma_int``): swscale's default shortcut alone
    costs up to 1.3 levels on average at the edges of 4:2:0 colour bars."""
    h, w = size
    raw = ffmpeg("-i", path, "-vf", "scale=flags=accurate_rnd+full_chroma_int", "-f", "rawvideo",
                 "-pix_fmt", "rgb24", "-").stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


@pytest.fixture(scope="module")
def ntsc_clip(tmp_path_factory):
    """2 s of H.264 with an AAC track, 30000/1001 fps, BT.709 tags, SAR 128:117 (carphone's)."""
    path = tmp_path_factory.mktemp("ntsc") / "ntsc.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=176x144:rate=30000/1001:duration=2",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
           "-vf", "setsar=r=128/117:max=1000,setparams=colorspace=bt709:color_primaries=bt709:"
                  "color_trc=bt709:range=tv",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path)
    text = header(path)
    assert "yuv420p(tv, bt709, progressive), 176x144 [SAR 128:117" in text and "Audio: aac" in text
    return path


def test_ntsc_clip_keeps_audio_rate_colour_and_aspect(ntsc_clip, tmp_path, run_cli):
    out = tmp_path / "x4.mp4"
    res = run_cli("upscale", ntsc_clip, out, "--model", "bicubic", "--no_progress", returncode=0)
    assert "at 29.97 (30000/1001) fps" in res.stdout
    assert res.stderr.strip() == ""  # everything was stream-copied: no notice
    text = header(out)
    # Colour tags and the display aspect (1408:1053 = 1.337, not 1.222).
    assert "yuv420p(tv, bt709, progressive), 704x576 [SAR 128:117 DAR 1408:1053]" in text
    # Exact rate: every frame lasts 1001 ticks of 1/30000 s, as in the input.
    (_, v_in), (tb_out, v_out) = packets(ntsc_clip, 0), packets(out, 0)
    assert len(v_out) == len(v_in) == 59
    assert {d * tb_out for _, d, _ in v_out} == {Fraction(1001, 30000)}
    # Audio: the same packets (stream copy, byte for byte), as long as the video within a frame.
    (tb_a, a_in), (tb_b, a_out) = packets(ntsc_clip, 1), packets(out, 1)
    assert tb_a == tb_b and [c for *_, c in a_out] == [c for *_, c in a_in[:len(a_out)]]
    audio_seconds = (a_out[-1][0] + a_out[-1][1] - max(a_out[0][0], 0)) * tb_b
    video_seconds = len(v_out) * Fraction(1001, 30000)
    assert abs(audio_seconds - video_seconds) <= Fraction(1001, 30000)

    # --no_audio drops the track; --max_frames cuts the video, never padding it.
    quiet = tmp_path / "quiet.mkv"
    run_cli("upscale", ntsc_clip, quiet, "--model", "bicubic", "--no_progress", "--no_audio",
            "--max_frames", "5", returncode=0)
    text = header(quiet)
    assert "Audio:" not in text and "SAR 128:117" in text
    assert len(packets(quiet, 0)[1]) == 5


def test_audio_stays_in_sync_when_the_video_starts_late(tmp_path, run_cli):
    """Video from 0.5 s to 1.5 s, audio from 0 to 2 s (longer than the video, not a sign of a
    truncated file): the output's video starts as late, and its audio ends with the video."""
    src = tmp_path / "late.mp4"
    ffmpeg("-itsoffset", "0.5", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=25:duration=1",
           "-f", "lavfi", "-i", "sine=duration=2:sample_rate=48000", "-c:v", "libx264",
           "-bf", "0", "-c:a", "aac", src)
    out = tmp_path / "late_x4.mp4"
    run_cli("upscale", src, out, "--model", "bicubic", "--no_progress", returncode=0)

    def start_and_end(path, stream):
        tb, rows = packets(path, stream)
        return (max(min(p for p, _, _ in rows), 0) * tb,
                max(p + d for p, d, _ in rows) * tb)

    v_in, v_out = start_and_end(src, 0), start_and_end(out, 0)
    assert v_in[0] >= Fraction(1, 2) and v_out == v_in  # as late as in the input, 25 frames
    a_start, a_end = start_and_end(out, 1)
    assert a_start == 0 and abs(a_end - v_out[1]) <= Fraction(1, 25)


BARS = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255],
                 [255, 0, 0], [0, 0, 255], [0, 0, 0]], np.uint8)


def colour_bars(h, w):
    return np.repeat(BARS, w // 8, axis=0)[None].repeat(h, 0)


@pytest.mark.parametrize("tagged", [True, False], ids=["bt709_tags", "untagged"])
def test_colour_bars_through_upscale(tmp_path, run_cli, tagged):
    """320x180 bars -> 1280x720. Tagged BT.709: read with BT.709 and the tags carried. Untagged:
    read as SD (BT.601, what FFmpeg wrote), written as HD and tagged BT.709. Either way FFmpeg,
    honouring the output's tags, gets back the bicubic upscale of the bars."""
    h, w = 180, 320
    bars = colour_bars(h, w)
    src = tmp_path / "bars.mp4"
    convert = ("scale=out_color_matrix=bt709:out_range=tv,setparams=colorspace=bt709:"
               "color_primaries=bt709:color_trc=bt709:range=tv" if tagged else "null")
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25", "-i", "-",
           "-vf", convert, "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", src,
           stdin=bars.tobytes() * 3)
    # Reading: the package's decoding matches the matrix the file was written with.
    decoded = read_frames(src)
    assert np.abs(decoded.astype(int) - bars).max() <= 1
    out = tmp_path / "bars_x4.mp4"
    run_cli("upscale", src, out, "--model", "bicubic", "--no_progress", returncode=0)
    assert "yuv420p(tv, bt709, progressive), 1280x720" in header(out)
    reference = np.clip(np.rint(bicubic_upscale(decoded.astype(np.float32))), 0, 255)
    back = decode_rgb(out, (4 * h, 4 * w)).astype(np.float32)
    per_channel = np.abs(back - reference).mean(axis=(0, 1, 2))
    assert per_channel.max() <= 1.0, per_channel


def test_rotated_phone_clip_is_turned_once(tmp_path, run_cli):
    stored = tmp_path / "stored.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=0.2", "-c:v", "libx264",
           "-pix_fmt", "yuv444p", "-qp", "0", stored)
    phone = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "90", "-i", stored, "-c", "copy", phone)
    assert "rotation of 90.00 degrees" in header(phone)
    shown = decode_rgb(phone, (64, 48))  # FFmpeg shows it turned: 48 wide, 64 high
    out = tmp_path / "phone_x4.mp4"
    run_cli("upscale", phone, out, "--model", "bicubic", "--no_progress", "--pix_fmt", "yuv444p",
            returncode=0)
    text = header(out)
    assert "rotation" not in text and ", 192x256" in text  # turned once, no tag left to re-turn
    back = decode_rgb(out, (256, 192)).astype(np.float32)
    reference = np.clip(np.rint(bicubic_upscale(shown.astype(np.float32))), 0, 255)
    assert np.abs(back - reference).mean() < 2.0


def test_streams_the_container_cannot_hold_are_converted_with_a_notice(tmp_path, run_cli):
    """Opus audio and SubRip subtitles from a Matroska file into QuickTime (.mov)."""
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,400\nhello\n")
    src = tmp_path / "in.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x24:rate=25:duration=0.4", "-f", "lavfi", "-i",
           "sine=duration=0.4:sample_rate=48000", "-i", srt, "-map", "0", "-map", "1", "-map",
           "2", "-c:v", "libx264", "-c:a", "libopus", "-c:s", "copy", src)
    out = tmp_path / "out.mov"
    res = run_cli("upscale", src, out, "--model", "bicubic", "--no_progress", returncode=0)
    notices = res.stderr.strip().splitlines()
    assert len(notices) == 2
    assert "audio stream #1 (opus) re-encoded as aac: the .mov container cannot hold opus" in notices[0]
    assert "subtitle stream #2 (subrip) re-encoded as mov_text" in notices[1]
    text = header(out)
    assert "Audio: aac" in text and "Subtitle: mov_text" in text
    # Into AVI, which holds no subtitles at all and no Opus.
    res = run_cli("upscale", src, tmp_path / "out.avi", "--model", "bicubic", "--no_progress",
                  returncode=0)
    notices = res.stderr.strip().splitlines()
    assert "re-encoded as libmp3lame" in notices[0]
    assert notices[1].endswith("subtitle stream #2 (subrip) dropped: the .avi container cannot "
                               "hold it")
    text = header(tmp_path / "out.avi")
    assert "Audio: mp3" in text and "Subtitle" not in text
    # The same file into Matroska, which holds both: copied, no notice.
    res = run_cli("upscale", src, tmp_path / "out.mkv", "--model", "bicubic", "--no_progress", returncode=0)
    assert res.stderr.strip() == ""
    assert "Audio: opus" in header(tmp_path / "out.mkv")


def test_variable_rate_input_keeps_every_frame_with_a_notice(tmp_path, run_cli):
    src = tmp_path / "vfr.mp4"
    # 10 frames of 1/25 s, then about 1/10 s each (as the encoder rounds them).
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x24:rate=25:duration=0.8", "-vf",
           "settb=1/1000,setpts='if(lt(N,10),N*0.04,0.4+(N-10)*0.1)/TB'", "-fps_mode",
           "passthrough", "-c:v", "libx264", src)
    tb_in, rows_in = packets(src, 0)
    pts = sorted(p for p, _, _ in rows_in)
    assert len(pts) == 20 and pts[1] - pts[0] == Fraction(1, 25) / tb_in
    out = tmp_path / "cfr.mp4"
    res = run_cli("upscale", src, out, "--model", "bicubic", "--no_progress", returncode=0)
    assert "vfr.mp4: variable frame rate (frames of 40.0 to " in res.stderr
    assert res.stderr.count("\n") == 1
    tb, rows = packets(out, 0)
    assert len(rows) == 20  # none dropped or doubled
    # Constant at the average: 19 intervals over the input's span.
    average_duration = (pts[-1] - pts[0]) * tb_in / 19
    assert all(abs(d * tb - average_duration) <= tb for _, d, _ in rows)
    # --fps overrides, without a notice.
    res = run_cli("upscale", src, tmp_path / "f.mp4", "--model", "bicubic", "--no_progress", "--fps",
                  "24000/1001", returncode=0)
    assert res.stderr.strip() == ""
    tb, rows = packets(tmp_path / "f.mp4", 0)
    assert {d * tb for _, d, _ in rows} == {Fraction(1001, 24000)}


def test_encoder_choices(ntsc_clip, tmp_path, run_cli):
    lossless = tmp_path / "x4.mkv"
    run_cli("upscale", ntsc_clip, lossless, "--model", "bicubic", "--no_progress", "--max_frames", "3",
            "--codec", "ffv1", "--pix_fmt", "yuv444p", returncode=0)
    assert "Video: ffv1" in header(lossless) and "yuv444p(tv, bt709" in header(lossless)
    reference = np.clip(np.rint(bicubic_upscale(read_frames(ntsc_clip)[:3].astype(np.float32))),
                        0, 255)
    back = decode_rgb(lossless, (576, 704)).astype(np.float32)
    assert np.abs(back - reference).max() <= 2  # only the 8-bit YUV rounding is lost
    hevc = tmp_path / "x4.mp4"
    run_cli("upscale", ntsc_clip, hevc, "--model", "bicubic", "--no_progress", "--max_frames", "3",
            "--codec", "libx265", "--crf", "30", "--preset", "ultrafast", returncode=0)
    text = header(hevc)
    assert "Video: hevc" in text and "hvc1" in text and "SAR 128:117" in text


def test_missing_encoder_is_one_line_before_the_model_loads(ntsc_clip, tmp_path, run_cli):
    """An FFmpeg build without libx265 (the real binary, its encoder list filtered)."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(f'#!/bin/sh\nif [ "$2" = "-encoders" ]; then "{FFMPEG}" "$@" | grep -v '
                    f'libx265; else exec "{FFMPEG}" "$@"; fi\n')
    fake.chmod(0o755)
    out = tmp_path / "x.mp4"
    res = run_cli("upscale", ntsc_clip, out, "--codec", "libx265", env={"IMAGEIO_FFMPEG_EXE": str(fake)},
                  returncode=2)
    assert res.stderr.count("\n") == 1
    assert "--codec libx265:" in res.stderr and "has no libx265 encoder; it has libx264, ffv1" \
        in res.stderr
    assert not out.exists()


def test_rate_from_rounded_timestamps():
    # 29.97 fps in a 1/1000 time base: 0, 33, 67, 100, 133, 167, ... (each rounded).
    pts = [round(k * 1001 / 30) for k in range(60)]
    assert rate_from_timestamps(pts, Fraction(1, 1000))[:2] == (Fraction(30000, 1001), False)
    assert rate_from_timestamps([k * 40 for k in range(9)], Fraction(1, 1000))[:2] == (25, False)
    rate, variable, durations = rate_from_timestamps([0, 40, 80, 180, 280], Fraction(1, 1000))
    assert variable and rate == Fraction(4, Fraction(28, 100)) and durations == (0.04, 0.1)


@pytest.mark.parametrize("text,expected", [
    ("tv, bt709, progressive", ("bt709", "bt709", "bt709", "tv")),
    ("tv, bt709/unknown/unknown, progressive", ("bt709", None, None, "tv")),
    ("pc, bt2020nc/bt2020/smpte2084", ("bt2020nc", "bt2020", "smpte2084", "pc")),
    ("progressive", (None, None, None, None)),
    (None, (None, None, None, None)),
])
def test_colour_tags_as_ffmpeg_prints_them(text, expected):
    assert _parse_colour_tags(text) == expected


@pytest.mark.slow
def test_real_clip_with_audio_bigbuckbunny(shared_data, tmp_path, run_cli):
    """A real file of ../shared/data/clips: untagged 1280x720 (so BT.709), 25 fps, 5.1 AAC."""
    src = shared_data / "clips" / "bigbuckbunny.mp4"
    if not src.is_file():
        pytest.skip(f"{src} is absent")
    info = probe_video(src)
    assert info.rate == 25 and not info.colour.tagged and info.colour.matrix == "bt709"
    out = tmp_path / "bbb_x4.mp4"
    run_cli("upscale", src, out, "--model", "bicubic", "--no_progress", "--max_frames", "4",
            "--preset", "ultrafast", returncode=0)
    text = header(out)
    assert "yuv420p(tv, bt709, progressive), 5120x2880" in text and "5.1" in text
    tb_v, v = packets(out, 0)
    tb_a, a = packets(out, 1)
    assert len(v) == 4 and {d * tb_v for _, d, _ in v} == {Fraction(1, 25)}
    audio_seconds = (a[-1][0] + a[-1][1] - max(a[0][0], 0)) * tb_a
    assert abs(audio_seconds - Fraction(4, 25)) <= Fraction(1, 25)
    # Colour: FFmpeg's decoding of the output matches the bicubic upscale of the package's
    # (BT.709) decoding of the input.
    with open_frames(src) as frames:
        lr = next(iter(frames))[None].astype(np.float32)
    reference = np.clip(np.rint(bicubic_upscale(lr)), 0, 255)
    back = decode_rgb(out, (2880, 5120))[:1].astype(np.float32)
    assert np.abs(back - reference).mean(axis=(0, 1, 2)).max() <= 1.5
