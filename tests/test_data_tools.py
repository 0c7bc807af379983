"""data_tools: ingestion (splits, resize, resume after an interruption or a kill), Remote
selection, Vid4 preparation, and their errors."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from data_tools import make_dataset, prepare_vid4, select_remote
from vsr_latent.data import yuv as yuv_mod
from vsr_latent.data.builtin import builtin_clips
from vsr_latent.data.dataset_root import Clip, cpu_root_warning, list_clips, root_settings
from vsr_latent.data.degrade import degrade
from vsr_latent.data.resize_weights import matlab_imresize_matrix
from vsr_latent.data.video_io import read_frames


def clip_frames(clip_dir):
    """A finished clip's frames (T, H, W, 3) uint8, whatever its format."""
    return np.stack(list(Clip(clip_dir).iter_frames()))

REPO = Path(__file__).resolve().parent.parent


def _write_folder(d, frames):
    d.mkdir(parents=True)
    for t, f in enumerate(frames):
        iio.imwrite(d / f"frame{t}.png", f)


def _write_yuv(path, frames):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(yuv_mod.rgb_to_yuv420(f) for f in frames))


@pytest.mark.parametrize("tool", ["make_dataset", "select_remote", "prepare_vid4"])
def test_help_and_one_line_usage_errors(tool, run_cli):
    r = run_cli("--help", module=f"data_tools.{tool}", timeout=60, returncode=0)
    assert "usage:" in r.stdout
    r = run_cli("--no_such_option", module=f"data_tools.{tool}", timeout=60, returncode=2)
    prog = f"python -m data_tools.{tool}"
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"{prog}: error: ") and r.stderr.endswith(f"(see {prog} --help)\n")


def test_splits_paper_and_proportional():
    ids = [f"c{i}" for i in range(230)]
    s = make_dataset.assign_splits(ids, seed=0)
    assert sum(v == "train" for v in s.values()) == 200
    assert sum(v == "validation" for v in s.values()) == 30
    assert s == make_dataset.assign_splits(list(reversed(ids)), seed=0)  # order-independent
    assert s != make_dataset.assign_splits(ids, seed=1)
    s23 = make_dataset.assign_splits(ids[:23], seed=0)
    assert sum(v == "validation" for v in s23.values()) == 3  # round(23 * 30 / 230)
    s3 = make_dataset.assign_splits(ids[:3], seed=0)
    assert sum(v == "validation" for v in s3.values()) == 1  # at least one
    assert set(make_dataset.assign_splits(ids[:3], 0, num_train=0, num_val=1).values()) == {"validation"}


def test_splits_keep_every_clip_of_a_source_on_one_side():
    # 12 sources of 1-5 clips: no source on both sides, seeded, ratio as close as possible.
    sizes = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 2, 3]
    sources = {f"s{i}_{k}": f"s{i}" for i, n in enumerate(sizes) for k in range(n)}
    ids = list(sources)
    target = round(len(ids) * 30 / 230)
    for seed in range(5):
        s = make_dataset.assign_splits(ids, seed, sources=sources)
        sides = {}
        for c, side in s.items():
            sides.setdefault(sources[c], set()).add(side)
        assert all(len(v) == 1 for v in sides.values())
        n_val = sum(v == "validation" for v in s.values())
        assert 1 <= n_val < len(ids) and abs(n_val - target) <= 2
        assert {"train", "validation"} == set(s.values())
        assert s == make_dataset.assign_splits(ids[::-1], seed, sources=sources)
    splits = [make_dataset.assign_splits(ids, seed, sources=sources) for seed in range(5)]
    assert len({tuple(sorted(x.items())) for x in splits}) > 1  # the seed matters
    # One source cannot be split by source: its last clips go to validation, with a warning.
    one = {f"a_{k}": "a" for k in range(7)}
    with pytest.warns(UserWarning, match="cannot be split by source"):
        s1 = make_dataset.assign_splits(list(one), 0, sources=one)
    assert [s1[c] for c in sorted(one)] == ["train"] * 6 + ["validation"]


def test_ingestion_reads_raw_h264_streams_and_names_what_it_skips(tmp_path):
    # A raw Annex-B H.264 stream (no container) made by the bundled FFmpeg, a note and a short
    # frame folder: the stream is ingested; the other two are named with their reason.
    import subprocess

    import imageio_ffmpeg

    src = tmp_path / "src"
    (src / "drive").mkdir(parents=True)
    frames = builtin_clips(1, 12, (48, 64), seed=3)[0]
    raw = b"".join(f.tobytes() for f in frames)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", "64x48", "-i", "-", "-c:v", "libx264", "-qp", "0",
           "-pix_fmt", "yuv444p", "-f", "h264", str(src / "drive" / "stream.264")]
    subprocess.run(cmd, input=raw, check=True, timeout=60)
    (src / "NOTES.md").write_text("not a video")
    _write_folder(src / "short", frames[:3])
    root = tmp_path / "root"
    args = make_dataset.build_parser().parse_args(
        [str(src), str(root), "--clip_len", "5", "--no_progress"])
    with pytest.warns(UserWarning, match="not ingested"):
        r = make_dataset.make_dataset(args)
    assert r["clips"] == 2
    assert {(x["path"], x["reason"]) for x in r["not_ingested"]} == {
        ("NOTES.md", "not a video, raw YUV file or frame folder"),
        ("short", "3 frames, fewer than one clip of 5"),
    }
    index = json.loads((root / "dataset.json").read_text())
    assert index["not_ingested"] == r["not_ingested"] and index["split_by"] == "source"
    got = clip_frames(root / "clips" / "drive_stream_000005")
    # Lossless x264 in 4:4:4: the decoded frames are the RGB frames up to colour conversion.
    assert np.abs(got.astype(int) - frames[5:10]).mean() < 2


def test_ingestion_of_the_shared_raw_stream(shared_data, tmp_path):
    stream = shared_data / "train_clips" / "openh264_drive1080"
    if not stream.is_dir():
        pytest.skip(f"{stream} is absent")
    root = tmp_path / "root"
    assert make_dataset.main([str(stream), str(root), "--clip_len", "50", "--max_size", "240x136",
                              "--no_progress"]) == 0
    (clip,) = list_clips(root)
    assert clip.manifest["source_size"] == [1080, 1920] and clip.manifest["size"] == [132, 240]
    assert clip.manifest["source_num_frames"] == 54 and len(clip) == 50


def test_a_source_shorter_than_a_clip_is_one_clip_of_its_own_from_min_clip_len(tmp_path):
    clips = builtin_clips(3, 12, (48, 64), seed=5)
    src = tmp_path / "src"
    _write_folder(src / "long", clips[0])  # 12 frames: two clips of 5
    _write_folder(src / "short", clips[1][:4])  # 4 frames: one clip of 4
    _write_folder(src / "shorter", clips[2][:2])  # 2 frames: left out, named
    root = tmp_path / "root"
    args = make_dataset.build_parser().parse_args(
        [str(src), str(root), "--clip_len", "5", "--min_clip_len", "3", "--no_progress"])
    with pytest.warns(UserWarning, match="not ingested"):
        r = make_dataset.make_dataset(args)
    got = {c.id: c for c in list_clips(root)}
    assert sorted(got) == ["long_000000", "long_000005", "short_000000"]
    m = got["short_000000"].manifest
    assert m["num_frames"] == 4 and m["frame_range"] == [0, 4] and len(got["short_000000"]) == 4
    np.testing.assert_array_equal(clip_frames(got["short_000000"].dir), clips[1][:4])
    np.testing.assert_array_equal(clip_frames(got["long_000005"].dir), clips[0][5:10])
    assert r["not_ingested"] == [{"path": "shorter",
                                  "reason": "2 frames, fewer than --min_clip_len 3"}]
    assert json.loads((root / "dataset.json").read_text())["min_clip_len"] == 3


def _sources(tmp_path):
    clips = builtin_clips(2, 12, (48, 64), seed=4)
    src = tmp_path / "src"
    _write_folder(src / "harmonic" / "Frame folder", clips[0])
    _write_yuv(src / "sjtu" / "Cam_64x48_8bit.yuv", clips[1])
    return src, clips


def test_ingestion_clips_manifests_and_yuv(tmp_path):
    src, clips = _sources(tmp_path)
    root = tmp_path / "root"
    assert make_dataset.main([str(src), str(root), "--clip_len", "5", "--no_progress"]) == 0
    got = list_clips(root)
    assert [c.id for c in got] == [
        "harmonic_Frame-folder_000000", "harmonic_Frame-folder_000005",
        "sjtu_Cam_64x48_8bit_000000", "sjtu_Cam_64x48_8bit_000005",
    ]
    m = got[1].manifest
    assert m["frame_range"] == [5, 10] and m["size"] == [48, 64] and m["num_frames"] == 5
    assert m["source"] == "harmonic/Frame folder" and m["split"] in ("train", "validation")
    np.testing.assert_array_equal(clip_frames(got[1].dir), clips[0][5:10])
    # YUV source (size and bit depth from its name): BT.709 round trip within a few levels.
    yuv_frames = clip_frames(got[3].dir)
    assert np.abs(yuv_frames.astype(int) - clips[1][5:10]).mean() < 3
    index = json.loads((root / "dataset.json").read_text())
    # round(4 * 30 / 230) = 1 validation clip is the aim; by source, one source of 2 clips goes.
    assert index["num_clips"] == 4 and len(index["splits"]["validation"]) == 2
    assert len(set(index["source_splits"].values())) == 2
    assert root_settings(root) == {"clip_len": 5, "max_size": None}


def test_cpu_root_warning_names_what_differs_from_the_cpu_budget(tmp_path):
    same, other = tmp_path / "same", tmp_path / "other"
    for root, size in ((same, [360, 640]), (other, [270, 480])):  # the index stores [H, W]
        root.mkdir()
        (root / "dataset.json").write_text(json.dumps({"clip_len": 40, "max_size": size}))
    assert cpu_root_warning(same) is None
    assert cpu_root_warning(other).startswith(
        f"Warning: {other}: made with max_size 480x270 (the cpu budget's: 640x360)")


def test_ingestion_resumes_after_interruption(tmp_path, monkeypatch, capsys):
    src, clips = _sources(tmp_path)
    root = tmp_path / "root"
    real_write = make_dataset.ClipWriter.write
    calls = {"n": 0}

    def failing_write(writer, frame):
        calls["n"] += 1
        if calls["n"] == 8:  # in the middle of the second clip
            raise KeyboardInterrupt
        real_write(writer, frame)

    monkeypatch.setattr(make_dataset.ClipWriter, "write", failing_write)
    # Ctrl-C: one line and exit code 130, as for vsr-latent.
    assert make_dataset.main([str(src), str(root), "--clip_len", "5", "--no_progress"]) == 130
    assert capsys.readouterr().err == "make_dataset: interrupted\n"
    finished = list_clips(root)
    assert [c.id for c in finished] == ["harmonic_Frame-folder_000000"]
    names = [p.name for p in (root / "clips").iterdir()]
    assert "harmonic_Frame-folder_000005" not in names  # the interrupted clip does not look finished
    first_mtime = (finished[0].dir / "manifest.json").stat().st_mtime_ns

    monkeypatch.setattr(make_dataset.ClipWriter, "write", real_write)
    args = make_dataset.build_parser().parse_args([str(src), str(root), "--clip_len", "5", "--no_progress"])
    r = make_dataset.make_dataset(args)
    assert r == {"written": 3, "skipped": 1, "clips": 4, "train": 2, "validation": 2,
                 "not_ingested": []}  # split by source: each of the two sources on one side
    assert (finished[0].dir / "manifest.json").stat().st_mtime_ns == first_mtime
    assert not [n for n in os.listdir(root / "clips") if n.startswith(".")]  # leftovers removed
    np.testing.assert_array_equal(clip_frames(root / "clips" / "harmonic_Frame-folder_000005"), clips[0][5:10])


def test_ingestion_survives_sigkill(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (60, 256, 256, 3), dtype=np.uint8)
    src = tmp_path / "src"
    _write_yuv(src / "big_256x256.yuv", frames)
    root = tmp_path / "root"
    cmd = [sys.executable, "-m", "data_tools.make_dataset", str(src), str(root), "--clip_len", "3",
           "--no_progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if list((root / "clips").glob("[!.]*/manifest.json")) if (root / "clips").is_dir() else []:
            break
        time.sleep(0.005)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Every clip under its final name is complete; the rest are hidden partial folders.
    for d in (root / "clips").iterdir():
        if not d.name.startswith("."):
            assert (d / "manifest.json").is_file()
            assert len(Clip(d)) == 3
    before = len(list_clips(root))
    assert make_dataset.main(cmd[3:]) == 0
    done = list_clips(root)
    assert len(done) == 20 and 1 <= before < 20
    np.testing.assert_array_equal(clip_frames(done[-1].dir), yuv_round_trip(frames[57:60]))


def yuv_round_trip(frames):
    return np.stack([yuv_mod.yuv420_to_rgb(yuv_mod.rgb_to_yuv420(f), f.shape[:2]) for f in frames])


def test_ingestion_downscales_hd_video(carphone, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(carphone, src / "carphone.mp4")
    root = tmp_path / "root"
    assert make_dataset.main([str(src), str(root), "--clip_len", "40", "--max_size", "88x72",
                              "--max_clips_per_source", "1", "--no_progress"]) == 0
    (clip,) = list_clips(root)
    assert clip.manifest["size"] == [72, 88] and clip.manifest["source_size"] == [144, 176]
    assert clip.manifest["resize"]["mode"] == "downscale"
    assert root_settings(root) == {"clip_len": 40, "max_size": "88x72"}  # W x H, as given
    got = clip_frames(clip.dir)
    src_frames = read_frames(carphone)[:40].astype(np.float64)
    wh, ww = matlab_imresize_matrix(144, 72, 0.5), matlab_imresize_matrix(176, 88, 0.5)
    ref = np.clip(np.round(np.einsum("jw,tiwc->tijc", ww, np.einsum("ih,thwc->tiwc", wh, src_frames))), 0, 255)
    assert got.shape == (40, 72, 88, 3)
    assert np.abs(got.astype(int) - ref).max() <= 1


def test_ingestion_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert make_dataset.main([str(tmp_path / "empty"), str(tmp_path / "r")]) == 2
    assert "empty" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x_64x48.yuv").write_bytes(b"\0" * 1000)
    assert make_dataset.main([str(bad), str(tmp_path / "r")]) == 2
    assert "whole number" in capsys.readouterr().err
    short = tmp_path / "short"
    _write_folder(short / "s", np.zeros((3, 8, 8, 3), np.uint8))
    with pytest.warns(UserWarning, match="fewer than one clip"):
        assert make_dataset.main([str(short), str(tmp_path / "r"), "--clip_len", "5"]) == 2
    capsys.readouterr()
    assert make_dataset.main([str(short), str(tmp_path / "r"), "--clip_len", "0"]) == 2
    assert capsys.readouterr().err == "make_dataset: error: --clip_len must be >= 1\n"
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("manifest.json"))


def test_remote_selection_picks_scene_cut_rejects_static(tmp_path):
    c = builtin_clips(3, 10, (48, 64), seed=1)
    cut = np.concatenate([c[0][:5], c[1][5:]])
    static = np.repeat(c[2][:1], 10, axis=0)
    src = tmp_path / "src"
    _write_folder(src / "a_cut", cut)
    _write_folder(src / "b_static", static)
    _write_folder(src / "c_pan", c[2])  # strong motion, no scene change
    root = tmp_path / "root"
    assert make_dataset.main([str(src), str(root), "--clip_len", "10", "--num_train", "0",
                              "--num_val", "1", "--no_progress"]) == 0
    assert select_remote.main([str(root), "--no_progress", "--num_key_frames", "2"]) == 0
    clips = {cl.id: cl for cl in list_clips(root, "validation")}
    a, b, p = clips["a_cut_000000"], clips["b_static_000000"], clips["c_pan_000000"]
    ra, rb, rp = a.manifest["remote"], b.manifest["remote"], p.manifest["remote"]
    assert ra["selected"] and not rb["selected"] and not rp["selected"]
    assert ra["max_hist_distance_at"] == 5 and 5 in ra["key_frame_indices"]
    assert rb["mean_abs_frame_difference"] == 0 and rb["max_hist_distance"] == 0
    assert rp["strong_motion"] and not rp["large_scene_change"]
    assert len(ra["mad"]) == len(ra["hist_distance"]) == 9
    keys = read_frames(a.dir / "key_frames")
    np.testing.assert_array_equal(keys, cut[ra["key_frame_indices"]])
    assert not (b.dir / "key_frames").exists()
    report = json.loads((root / "remote.json").read_text())
    assert report["selected"] == ["a_cut_000000"] and set(report["clips"]) == set(clips)

    from tests.test_pipelines import assert_no_chunk_sees_its_own_frames
    from vsr_latent.data.pipelines import remote_chunks, remote_dataset
    from vsr_latent.errors import InputError

    x, hr, _ = next(iter(remote_dataset(str(root), seq_len=5)))
    np.testing.assert_array_equal(hr.numpy()[0], cut[:5])
    # §6.2: a chunk's external key frames are the clip's key frames outside it (the manifest's
    # indices), never one of its own frames.
    lr_cut = np.clip(np.round(degrade(cut.astype(np.float32), "bi", 4)), 0, 255)
    for seq_len in (3, 4, 5, 10):
        chunks = list(remote_chunks(str(root), seq_len=seq_len)())
        counts = assert_no_chunk_sees_its_own_frames(chunks)
        for i, (x, _, _) in enumerate(chunks):
            outside = [w for w in ra["key_frame_indices"]
                       if not i * seq_len <= w < (i + 1) * seq_len]
            assert counts[i] == len(outside)
            np.testing.assert_array_equal(np.asarray(x["key_frames"])[0], lr_cut[outside])
    assert counts == [0]  # seq_len 10: the chunk is the whole clip, no key frame outside it
    # Key frame files that disagree with the manifest are an error, not a silent mix-up.
    first = sorted((a.dir / "key_frames").iterdir())[0]
    first.rename(first.with_name("00000099" + first.suffix))
    with pytest.raises(InputError, match="do not match the manifest's key_frame_indices"):
        remote_chunks(str(root), seq_len=5)
    first.with_name("00000099" + first.suffix).rename(first)
    # Raising the thresholds deselects it and removes its key frames.
    assert select_remote.main([str(root), "--no_progress", "--scene_threshold", "0.99"]) == 0
    assert not (a.dir / "key_frames").exists()


def test_prepare_vid4(tmp_path, capsys):
    gt = tmp_path / "GT"
    frames = np.random.default_rng(2).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    _write_folder(gt / "calendar", frames)
    out = tmp_path / "vid4"
    assert prepare_vid4.main([str(gt), str(out), "--sequences", "calendar", "--no_progress"]) == 0
    np.testing.assert_array_equal(read_frames(out / "GT" / "calendar"), frames)
    for folder, method in (("BIx4", "bi"), ("BDx4", "bd")):
        np.testing.assert_array_equal(
            read_frames(out / folder / "calendar"),
            np.clip(np.round(degrade(frames, method, 4)), 0, 255),
        )
    assert prepare_vid4.main([str(gt), str(out), "--no_progress"]) == 2  # city etc. missing
    assert "missing sequence" in capsys.readouterr().err


def test_yuv_parameters_from_file_name(tmp_path):
    assert make_dataset.yuv_params_from_name("Campfire_3840x2160_10bit.yuv") == ((2160, 3840), 10)
    assert make_dataset.yuv_params_from_name("a_64x48.yuv") == ((48, 64), 8)
    assert make_dataset.yuv_params_from_name("a.yuv", (8, 8), 10) == ((8, 8), 10)
    from vsr_latent.errors import InputError

    with pytest.raises(InputError, match="--yuv_size"):
        make_dataset.yuv_params_from_name(tmp_path / "plain.yuv")


def test_ingestion_follows_linked_downloads_guards_loops_and_names_the_rest(tmp_path):
    # A source tree as researchers make one: a linked folder holding an H.264 video (the
    # `openh264_drive1080` case), a linked video file, a linked frame folder, a loop back to the
    # top, a second link to the same download, a broken link and stray files.
    import subprocess

    import imageio_ffmpeg

    downloads = tmp_path / "downloads"
    (downloads / "drive").mkdir(parents=True)
    frames = builtin_clips(1, 12, (48, 64), seed=4)[0]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", "64x48", "-i", "-", "-c:v", "libx264", "-qp", "0",
           "-pix_fmt", "yuv444p", str(downloads / "drive" / "drive.mp4")]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True, timeout=60)
    subprocess.run(cmd[:-1] + [str(downloads / "single.mp4")],
                   input=b"".join(f[::-1].tobytes() for f in frames), check=True, timeout=60)
    _write_folder(downloads / "frames", frames[:6])
    (downloads / "frames" / "README.txt").write_text("about these frames")
    src = tmp_path / "src"
    src.mkdir()
    (src / "drive_link").symlink_to(downloads / "drive", target_is_directory=True)
    (src / "mirror_of_drive").symlink_to(downloads / "drive", target_is_directory=True)
    (src / "one.mp4").symlink_to(downloads / "single.mp4")
    (src / "frames_link").symlink_to(downloads / "frames", target_is_directory=True)
    (src / "drive_link_loop").symlink_to(src, target_is_directory=True)
    (src / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (src / ".hidden.mp4").write_bytes(b"")
    (src / "notes.md").write_text("x")
    root = tmp_path / "root"
    args = make_dataset.build_parser().parse_args(
        [str(src), str(root), "--clip_len", "6", "--no_progress"])
    with pytest.warns(UserWarning, match="not ingested"):
        r = make_dataset.make_dataset(args)
    index = json.loads((root / "dataset.json").read_text())
    # The linked folder's video, the linked file and the linked frame folder are all read once.
    assert sorted(index["sources"]) == ["drive_link/drive.mp4", "frames_link", "one.mp4"]
    assert r["clips"] == 2 + 2 + 1
    reasons = {x["path"]: x["reason"] for x in r["not_ingested"]}
    assert set(reasons) == {"mirror_of_drive", "drive_link_loop", "gone.mp4", ".hidden.mp4", "notes.md",
                            "frames_link/README.txt"}
    assert reasons["mirror_of_drive"].startswith("link to a folder already read")
    assert reasons["drive_link_loop"].startswith("link to a folder already read")
    assert reasons["gone.mp4"].startswith("broken symbolic link")
    assert reasons["frames_link/README.txt"] == "not a video, raw YUV file or frame folder"
    assert len(r["not_ingested"]) == len(reasons)  # each named once
    got = clip_frames(root / "clips" / "drive_link_drive_000006")
    assert np.abs(got.astype(int) - frames[6:12]).mean() < 2


# Runs make_dataset in a fresh process; prints its own peak RSS and its largest child's (the
# FFmpeg decoder), KiB.
INGEST_PEAK = """
import resource, sys
from data_tools.make_dataset import main
assert main(sys.argv[1:]) == 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _ffmpeg(*args):
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *map(str, args)],
                   check=True, timeout=300)


def _ingest_peak_mib(src, root):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", INGEST_PEAK, str(src), str(root), "--clip_len", "3",
                        "--num_train", "0", "--no_progress"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    own, child = r.stdout.split()[-2:]
    return int(own) / 1024, int(child) / 1024


@pytest.mark.slow  # about a minute: 24 4K frames decoded and written as PNG
def test_4k_10_bit_sources_ingest_exactly_in_memory_that_does_not_grow_with_sources(tmp_path):
    """SJTU-style 10-bit raw YUV and 10-bit HEVC at 3840x2160: each frame equals FFmpeg's own
    8-bit RGB decode of the source (BT.709) within a level on average, and the peak memory of ingesting three of each
    is that of ingesting one (frames stream one at a time)."""
    yuv, hevc = tmp_path / "Cam_3840x2160_10bit.yuv", tmp_path / "cam10.mkv"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=25", "-frames:v", "3",
            "-pix_fmt", "yuv420p10le", "-f", "rawvideo", yuv)
    _ffmpeg("-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", "3840x2160", "-i", yuv,
            "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
            "-pix_fmt", "yuv420p10le", hevc)
    peaks = {}
    for n in (1, 3):
        src = tmp_path / f"src{n}"
        src.mkdir()
        for i in range(n):
            (src / f"Cam{i}_3840x2160_10bit.yuv").write_bytes(yuv.read_bytes())
            (src / f"cam10_{i}.mkv").write_bytes(hevc.read_bytes())
        peaks[n] = _ingest_peak_mib(src, tmp_path / f"root{n}")
    root = tmp_path / "root3"
    clips = {c.id: c for c in list_clips(root)}
    assert len(clips) == 6 and {tuple(c.manifest["size"]) for c in clips.values()} == {(2160, 3840)}
    reference = tmp_path / "reference.png"
    for cid, source in (("Cam0_3840x2160_10bit_000000", yuv), ("cam10_0_000000", hevc)):
        raw = (["-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", "3840x2160"]
               if source.suffix == ".yuv" else [])
        # Untagged UHD is BT.709 (what the package and players assume for HD and larger).
        _ffmpeg(*raw, "-i", source, "-frames:v", "1", "-vf",
                "scale=in_color_matrix=bt709:in_range=tv,format=rgb24", reference)
        got = clip_frames(clips[cid].dir)[0].astype(int)
        assert np.abs(got - iio.imread(reference).astype(int)).mean() < 1.0, cid
    print("peak RSS MiB (make_dataset, largest FFmpeg child) by sources of each kind:", peaks)
    # Three times the sources and clips, the same peak (within 10 %), in Python and in FFmpeg.
    assert peaks[3][0] < 1.1 * peaks[1][0], peaks
    assert peaks[3][1] < 1.1 * peaks[1][1], peaks


SHARED_STREAM = (REPO.parent / "shared" / "data" / "train_clips" / "openh264_drive1080"
                 / "VID_1920x1080_cabac_temporal_direct.264")


@pytest.mark.skipif(not SHARED_STREAM.is_file(),
                    reason="needs ../shared/data/train_clips (the real 1080p H.264 stream)")
def test_raw_root_samples_equal_the_png_roots_bit_for_bit_on_the_real_1080p_stream(tmp_path):
    """A root made raw, a PNG root of the same frames, and that PNG root converted in place by
    convert_root give the same training samples, bit for bit, for both degradations and both
    ways of degrading a crop; the raw root reads no frame file."""
    from data_tools import convert_root
    from vsr_latent.data.pipelines import train_dataset

    src = tmp_path / "src"
    src.mkdir()
    (src / "drive1080.264").symlink_to(SHARED_STREAM)
    roots = {}
    for fmt in ("raw", "png"):
        roots[fmt] = tmp_path / fmt
        assert make_dataset.main([str(src), str(roots[fmt]), "--clip_len", "7", "--format", fmt,
                                  "--max_clips_per_source", "2", "--num_train", "1",
                                  "--num_val", "0", "--no_progress"]) == 0
    shutil.copytree(roots["png"], tmp_path / "converted")
    roots["converted"] = tmp_path / "converted"
    assert convert_root.main([str(roots["converted"]), "--no_progress"]) == 0
    for fmt in ("raw", "converted"):
        clips = list_clips(roots[fmt])
        assert {c.format for c in clips} == {"raw"} and len(clips) == 2
        assert not list((roots[fmt] / "clips").glob("*/*.png"))
        assert clips[0].size == (1080, 1920) and len(clips[0]) == 7
    assert {c.format for c in list_clips(roots["png"])} == {"image"}

    def samples(root, **kw):
        ds = train_dataset(str(root), seq_len=5, lr_size=(32, 32), batch_size=4, seed=7,
                           crops_per_window=2, **kw)
        it = iter(ds)
        return [tuple(t.numpy() for t in next(it)) for _ in range(3)]

    for kw in ({"degradation": "bi"}, {"degradation": "scipy", "degrade_context": True}):
        want = samples(roots["png"], **kw)
        for fmt in ("raw", "converted"):
            for (lr, hr), (wl, wh) in zip(samples(roots[fmt], **kw), want):
                np.testing.assert_array_equal(hr, wh)
                np.testing.assert_array_equal(lr, wl)
        # The samples are real crops of the stream's frames.
        frames = np.stack(list(list_clips(roots["raw"])[0].iter_frames()))
        assert frames.std() > 10
    # A converted root is converted again at no cost.
    assert convert_root.convert_root(roots["converted"], progress=False) == {
        "converted": 0, "already_raw": 2}
