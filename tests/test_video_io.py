"""Video reading/writing: real H.264 decoding, raw YUV with BT.709 numbers, frame folders, errors."""

import struct
import subprocess
import types
import zlib

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from vsr_latent.data import yuv as yuv_mod
from vsr_latent.data.video_io import (
    FrameWriter,
    list_frame_files,
    natural_key,
    open_frames,
    read_frames,
    to_uint8,
)
from vsr_latent.errors import InputError


def test_carphone_decodes_frame_by_frame(carphone, tmp_path):
    with open_frames(carphone) as src:
        assert src.num_frames == 120
        assert src.size == (144, 176)  # the file is 176x144 (W x H)
        assert src.fps == pytest.approx(29.97, abs=0.01)
        it = iter(src)
        assert isinstance(it, types.GeneratorType)  # streaming, not a list
        frames = list(it)
    assert len(frames) == 120
    assert all(f.shape == (144, 176, 3) and f.dtype == np.uint8 for f in frames)
    diffs = [np.abs(frames[i + 1].astype(int) - frames[i]).mean() for i in range(0, 119, 10)]
    assert min(diffs) > 0.5  # consecutive frames differ (the sequence moves)
    # Reference: the first frame decoded by the ffmpeg executable itself into a PNG.
    ref_png = tmp_path / "f0.png"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(carphone), "-frames:v", "1",
         "-pix_fmt", "rgb24", str(ref_png)],
        check=True,
    )
    np.testing.assert_array_equal(frames[0], iio.imread(ref_png))


def test_read_frames_and_video_writer_round_trip(carphone, tmp_path):
    frames = read_frames(carphone)[:12]
    out = tmp_path / "out.mp4"
    with FrameWriter(out, fps=12.5) as w:
        for f in frames:
            w.write(f)
    with open_frames(out) as src:
        assert src.num_frames == 12 and src.fps == pytest.approx(12.5)
        back = np.stack(list(src))
    assert back.shape == frames.shape
    assert np.abs(back.astype(float) - frames).mean() < 3.0  # H.264 at CRF 18


def test_png_writer_exact_and_atomic(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (3, 10, 14, 3), dtype=np.uint8)
    out = tmp_path / "frames"
    with FrameWriter(out) as w:
        for f in frames:
            w.write(f)
            assert not out.exists()  # nothing under the final name before close
    assert sorted(p.name for p in out.iterdir()) == ["00000000.png", "00000001.png", "00000002.png"]
    np.testing.assert_array_equal(read_frames(out), frames)
    # Float frames are rounded and clipped.
    with FrameWriter(tmp_path / "f2") as w:
        w.write(np.full((4, 4, 3), 300.0))
        w.write(np.full((4, 4, 3), 99.6))
    np.testing.assert_array_equal(read_frames(tmp_path / "f2")[:, 0, 0, 0], [255, 100])


@pytest.mark.parametrize("name", ["bad.mp4", "bad_frames"])
def test_writer_leaves_nothing_on_error(tmp_path, name):
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(RuntimeError), FrameWriter(tmp_path / name) as w:
        w.write(frames[0])
        w.write(frames[1])
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_size_change(tmp_path):
    with pytest.raises(InputError, match="size"), FrameWriter(tmp_path / "x.mp4") as w:
        w.write(np.zeros((16, 16, 3), np.uint8))
        w.write(np.zeros((16, 18, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


# BT.709 limited range, 8-bit: (Y, Cb, Cr) of pure colours and the RGB they stand for.
BT709 = {
    "red": ((63, 102, 240), (255, 0, 0)),
    "green": ((173, 42, 26), (0, 255, 0)),
    "blue": ((32, 240, 118), (0, 0, 255)),
    "white": ((235, 128, 128), (255, 255, 255)),
    "black": ((16, 128, 128), (0, 0, 0)),
    "grey": ((126, 128, 128), (128, 128, 128)),
}


def _hand_made_yuv(bit_depth):
    """Two 4x4 frames: quadrants red/green/blue/white, then a flat grey frame (planar I420)."""
    quads = ["red", "green", "blue", "white"]
    y = np.zeros((4, 4), int)
    cb = np.zeros((2, 2), int)
    cr = np.zeros((2, 2), int)
    for k, name in enumerate(quads):
        r, c = divmod(k, 2)
        (yy, u, v), _ = BT709[name]
        y[2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = yy
        cb[r, c], cr[r, c] = u, v
    (gy, gu, gv), _ = BT709["grey"]
    frames = [(y, cb, cr), (np.full((4, 4), gy), np.full((2, 2), gu), np.full((2, 2), gv))]
    mul = 1 << (bit_depth - 8)
    dtype = np.uint8 if bit_depth == 8 else np.dtype("<u2")
    data = b"".join(
        (np.asarray(p) * mul).astype(dtype).tobytes() for f in frames for p in f
    )
    expected = np.zeros((2, 4, 4, 3), np.uint8)
    for k, name in enumerate(quads):
        r, c = divmod(k, 2)
        expected[0, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = BT709[name][1]
    expected[1] = BT709["grey"][1]
    return data, expected


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_yuv_known_colours_and_round_trip(tmp_path, bit_depth):
    data, expected = _hand_made_yuv(bit_depth)
    path = tmp_path / f"colours_4x4_{bit_depth}bit.yuv"
    path.write_bytes(data)
    with open_frames(path, yuv_size=(4, 4), yuv_bit_depth=bit_depth) as src:
        assert src.num_frames == 2 and src.size == (4, 4) and src.fps == 25.0
        rgb = np.stack(list(src))
    assert np.abs(rgb.astype(int) - expected).max() <= 1
    # Encoding the decoded colours gives back the hand-made bytes (within one code value).
    dtype = np.uint8 if bit_depth == 8 else np.dtype("<u2")
    again = np.concatenate(
        [np.frombuffer(yuv_mod.rgb_to_yuv420(expected[i], bit_depth), dtype) for i in range(2)]
    )
    tol = 1 << (bit_depth - 8)
    assert np.abs(again.astype(int) - np.frombuffer(data, dtype).astype(int)).max() <= tol


def test_yuv_bad_file_size(tmp_path):
    path = tmp_path / "x.yuv"
    path.write_bytes(b"\x10" * (24 * 2 + 5))  # 4x4 frames are 24 bytes
    with pytest.raises(InputError, match="whole number") as e:
        open_frames(path, yuv_size=(4, 4))
    assert str(path) in str(e.value)
    with pytest.raises(InputError, match="frame size"):
        open_frames(path)  # .yuv without a size


def test_folder_natural_order_and_conversions(tmp_path):
    d = tmp_path / "frames"
    d.mkdir()
    iio.imwrite(d / "Frame 10.png", np.full((6, 8, 3), 10, np.uint8))
    iio.imwrite(d / "Frame 2.png", np.full((6, 8), 2, np.uint8))  # grayscale
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., :3] = 1
    rgba[..., 3] = 7
    iio.imwrite(d / "Frame 1.png", rgba)  # RGBA: alpha dropped
    iio.imwrite(d / "Frame 3.png", np.full((6, 8), 3 * 257, np.uint16))  # 16-bit gray
    (d / ".Frame 4.png.part").write_bytes(b"partial")  # hidden: ignored
    (d / "Frame 5.tmp.png").write_bytes(b"partial")  # another program's partial write: ignored
    assert sorted(["Frame 10", "Frame 2"], key=natural_key) == ["Frame 2", "Frame 10"]
    frames = read_frames(d)
    assert frames.shape == (4, 6, 8, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[:, 0, 0, :], [[1] * 3, [2] * 3, [3] * 3, [10] * 3])
    with open_frames(d) as src:  # any frame alone, in any order
        np.testing.assert_array_equal(src[3], frames[3])
        np.testing.assert_array_equal(src[0], frames[0])


def _png16(path, a):
    """A 16-bit PNG of uint16 (H, W, C) samples (C: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA),
    encoded here: Pillow reads 16-bit colour PNGs (keeping only the high byte) but cannot write
    them."""
    h, w, c = a.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in a)  # filter "none"

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16_bit_frames_are_scaled_to_8_bits(tmp_path, channels):
    rng = np.random.default_rng(channels)
    a = rng.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    # round(x / 257): 128 -> 0, 129 -> 1, 33024 -> 128, 65535 -> 255 (the high byte, x >> 8,
    # would give 0, 0, 129, 255).
    a[0, :4, 0] = [128, 129, 33024, 65535]
    d = tmp_path / "frames"
    d.mkdir()
    _png16(d / "0.png", a)
    if channels == 3:
        iio.imwrite(d / "1.tif", a)  # 16-bit RGB TIFF (read by tifffile)
    frames = read_frames(d)
    colour = a[..., :3] if channels >= 3 else np.repeat(a[..., :1], 3, axis=-1)  # alpha dropped
    want = np.rint(colour / 257.0)
    for frame in frames:
        np.testing.assert_array_equal(frame, want)
    np.testing.assert_array_equal(frames[0, 0, :4, 0], [0, 1, 128, 255])


def test_unreadable_frames_name_the_file(tmp_path):
    cases = {
        "float": (np.full((6, 8), 0.5, np.float32), "unsupported pixel type float32"),
        "wide": (np.full((6, 8), 70000, np.int32), "beyond 16 bits"),
    }
    for name, (pixels, problem) in cases.items():
        (tmp_path / name).mkdir()
        iio.imwrite(tmp_path / name / "0.tif", pixels)
        with pytest.raises(InputError, match=problem) as e:
            read_frames(tmp_path / name)
        assert str(tmp_path / name / "0.tif") in str(e.value)
    cut = tmp_path / "cut"
    cut.mkdir()
    data = _png16(tmp_path / "whole.png", np.ones((40, 50, 3), np.uint16)).read_bytes()
    (cut / "0%d.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated 16-bit PNG") as e:
        read_frames(cut)
    assert str(cut / "0%d.png") in str(e.value)
    with pytest.raises(InputError, match="no such folder"):
        list_frame_files(tmp_path / "nope")


def test_to_uint8_rounds_half_to_even_and_clips():
    np.testing.assert_array_equal(to_uint8(np.array([-3.2, 10.5, 11.5, 254.6, 300.0])),
                                  [0, 10, 12, 255, 255])
    frame = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert to_uint8(frame) is frame  # already 8-bit: untouched, not copied


def test_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="empty folder"):
        open_frames(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    iio.imwrite(mixed / "0.png", np.zeros((6, 8, 3), np.uint8))
    iio.imwrite(mixed / "1.png", np.zeros((6, 9, 3), np.uint8))
    with pytest.raises(InputError, match="differs") as e:
        open_frames(mixed)
    assert "1.png" in str(e.value)


def test_corrupt_and_truncated_video(carphone, tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    with pytest.raises(InputError, match="cannot decode") as e:
        open_frames(garbage)
    assert "garbage.mp4" in str(e.value)
    # Cut in half: the index (moov) at the end is lost.
    data = carphone.read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        open_frames(half)
    # Index at the front (faststart), data cut: the container announces more than is present.
    frames = read_frames(carphone)[:30]
    full = tmp_path / "faststart.mp4"
    gen = imageio_ffmpeg.write_frames(str(full), (176, 144), fps=25, macro_block_size=1,
                                      output_params=["-movflags", "+faststart"],
                                      ffmpeg_log_level="error")
    gen.send(None)
    for f in frames:
        gen.send(f)
    gen.close()
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match="truncated"), open_frames(cut) as src:
        list(src)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such"):
        open_frames(tmp_path / "nope.mp4")
