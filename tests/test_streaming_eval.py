"""Validation scoring streams: peak memory does not grow with the number of HD clips scored."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Scores the first N validation clips of ROOT with the bicubic predictor through the tables' own
# path (measure.validation_data -> score_validation), then prints the PSNR and the peak RSS.
SCORE = """
import resource, sys
from types import SimpleNamespace
from vsr_latent.paper import measure
from vsr_latent.serving.loading import load_predictor
root, n = sys.argv[1], int(sys.argv[2])
ctx = SimpleNamespace(budget=SimpleNamespace(data_source=root, val_max_clips=n))
data = measure.validation_data(ctx, "bi", 4)
value = measure.score_validation(load_predictor("bicubic", seq_len=4), data)
print(value, data.count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def hd_root(tmp_path, clips, frames):
    """A dataset root of ``clips`` 1920x1080 validation clips (and one train clip) of ``frames``
    frames, made by data_tools.make_dataset from H.264 files the bundled FFmpeg encodes."""
    import imageio_ffmpeg

    from data_tools.make_dataset import main as make_dataset

    src = tmp_path / "src"
    src.mkdir()
    for i in range(clips + 1):
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
               f"testsrc2=size=1920x1080:rate=25,hue=h={40 * i}", "-frames:v", str(frames),
               "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", str(src / f"s{i}.mp4")]
        subprocess.run(cmd, check=True, timeout=120)
    root = tmp_path / "root"
    make_dataset([str(src), str(root), "--clip_len", str(frames), "--num_train", "1",
                  "--num_val", str(clips), "--no_progress"])
    return root


def score(root, n):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", SCORE, str(root), str(n)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    value, count, peak_kib = r.stdout.split()[-3:]
    return float(value), int(count), int(peak_kib) / 1024


@pytest.mark.slow  # about 3 minutes on 2 cores: 36 HD frames decoded, degraded and scored
def test_peak_memory_of_validation_scoring_does_not_grow_with_clips(tmp_path):
    # 8 clips of 4 frames at 1080p: the chunks held at once (as the scoring did before it
    # streamed) raised the peak from 1514 to 1969 MiB; tf.data's prefetching alone, from 1484
    # to 1695 MiB. Streamed, one chunk is in memory at a time.
    root = hd_root(tmp_path, clips=8, frames=4)
    psnr1, chunks1, peak1 = score(root, 1)
    psnr8, chunks8, peak8 = score(root, 8)
    assert (chunks1, chunks8) == (1, 8)
    assert 20 < psnr1 < 60 and 20 < psnr8 < 60
    print(f"peak RSS: 1 clip {peak1:.0f} MiB, 8 clips {peak8:.0f} MiB")
    assert peak8 <= 1.10 * peak1, (peak1, peak8)
