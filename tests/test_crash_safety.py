"""Crash safety: SIGKILL real processes while they write, then check what is on disk.

`crash_writer.py` writes one kind of output (H.264 video, PNG frame folder, JSON, evaluation
result tables, .keras model, SavedModel) again and again through the package's writers; the test
kills it at several moments and then requires that every output under its final name is complete
and exactly the intended content (the video decodes with its declared frame count and the right
frames, the JSON parses to the written object, the model loads with the written weights, the
SavedModel loads and runs in a fresh process), while interrupted writes left only hidden
``.NAME.*.part*`` temporaries. Training checkpoints / model.keras under a kill are in
tests/test_training.py (kill and resume) and below (the CLI with a non-finite loss).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests import crash_writer

REPO = Path(__file__).resolve().parent.parent
HELPER = Path(__file__).resolve().parent / "crash_writer.py"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

# When the writer is killed, after its first complete item: right away, as soon as a temporary
# of a write in progress shows up ("part"), and after delays at unrelated phases of the cycle.
MOMENTS = (0.0, "part", 0.37)


def run_and_kill(kind, out_dir, delay, timeout=180):
    """Starts the writer, waits for its first complete item, sleeps ``delay``, SIGKILLs it."""
    proc = subprocess.Popen([sys.executable, str(HELPER), kind, str(out_dir)], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        line = proc.stdout.readline()
        if not line.startswith("wrote 0"):
            proc.wait(timeout=30)
            raise AssertionError(f"{kind} writer failed: {line}{proc.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline
        if delay == "part":
            while not _write_in_progress(out_dir):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.0005)
        else:
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = [int(m.group(1)) for m in re.finditer(r"wrote (\d+)", line + proc.stdout.read())]
    return max(done)


def _write_in_progress(out_dir):
    """A temporary is present: in OUT (files, folders) or in the newest item folder (tables)."""
    names = os.listdir(out_dir)
    if any(".part" in name for name in names):
        return True
    numbers = [int(n[5:]) for n in names if n.startswith("item_") and n[5:].isdigit()]
    if not numbers:
        return False
    newest = out_dir / f"item_{max(numbers)}"
    try:
        return any(".part" in name for name in os.listdir(newest))
    except NotADirectoryError:
        return False


def final_items(out_dir):
    """{item number: path} of the entries under a final name; asserts the rest are temporaries."""
    items = {}
    for p in out_dir.iterdir():
        if p.name.startswith("."):
            assert ".part" in p.name or p.name.endswith(".old"), p
            continue
        m = re.fullmatch(r"item_(\d+)(\.\w+)?", p.name)
        assert m, f"unexpected output {p}"
        items[int(m.group(1))] = p
    return items


def partials(out_dir):
    return [p for p in out_dir.rglob(".*") if ".part" in p.name]


def check_video(path, i):
    from vsr_latent.data.video_io import open_frames, read_frames

    with open_frames(path) as src:
        assert src.num_frames == crash_writer.VIDEO_FRAMES, path
    frames = read_frames(path)
    want = crash_writer.expected_frames(i)
    assert frames.shape == want.shape, path
    # Flat grey frames survive H.264 at CRF 18 within a grey level or two.
    np.testing.assert_allclose(frames.mean(axis=(1, 2, 3)), want.mean(axis=(1, 2, 3)), atol=2)


def check_frames(path, i):
    from vsr_latent.data.video_io import read_frames

    np.testing.assert_array_equal(read_frames(path), crash_writer.expected_frames(i))


def check_json(path, i):
    assert json.loads(path.read_text()) == crash_writer.expected_json(i)


def check_results(path, i):
    from vsr_latent.evaluation import evaluate_sequences

    # Each of the four tables is its own atomic file: each is present and exact, or absent.
    result = evaluate_sequences(crash_writer.expected_results_sequences(i))
    expected = {
        "frames.csv": result.frames_csv(),
        "sequences.csv": result.sequences_csv(),
        "results.md": result.markdown(),
        "results.json": json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n",
    }
    for name in os.listdir(path):
        if name.startswith("."):
            assert ".part" in name
            continue
        assert (path / name).read_text() == expected[name], path / name


def check_keras(path, i):
    from vsr_latent.run_folder import load_keras_model

    for w in load_keras_model(path).get_weights():
        np.testing.assert_array_equal(w, np.full(w.shape, float(i), np.float32))


_LOAD_SAVED_MODELS = """
import sys, json
import numpy as np, tensorflow as tf
out = {}
for path in sys.argv[1:]:
    m = tf.saved_model.load(path)
    sr = m.signatures["serving_default"](frames=tf.zeros((1, 2, 3, 5, 3)))["sr"]
    values = np.concatenate([v.numpy().ravel() for v in m.variables])
    out[path] = [list(sr.shape), float(values.min()), float(values.max())]
print(json.dumps(out))
"""


def check_saved_models(items):
    """Loads every SavedModel in one fresh process: it runs, and its weights are the item's."""
    if not items:
        return
    res = subprocess.run([sys.executable, "-c", _LOAD_SAVED_MODELS,
                          *[str(p) for p in items.values()]],
                         env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    loaded = json.loads(res.stdout.strip().splitlines()[-1])
    for i, p in items.items():
        shape, lo, hi = loaded[str(p)]
        assert shape == [1, 2, 12, 20, 3]
        assert lo == hi == float(i), (p, lo, hi)


CHECKS = {"video": check_video, "frames": check_frames, "json": check_json,
          "results": check_results, "keras": check_keras}


def kill_and_check(kind, tmp_path, moments):
    caught_mid_write = 0
    for n, delay in enumerate(moments):
        out_dir = tmp_path / f"{kind}_{n}"
        last_done = run_and_kill(kind, out_dir, delay)
        items = final_items(out_dir)
        # Everything reported complete is there; at most the one being renamed when killed is
        # there beyond it.
        assert set(range(last_done + 1)) <= set(items) <= set(range(last_done + 2)), items
        if kind == "savedmodel":
            check_saved_models(items)
        else:
            for i, path in items.items():
                CHECKS[kind](path, i)
        caught_mid_write += bool(partials(out_dir))
    print(f"{kind}: {len(moments)} kills, {caught_mid_write} interrupted a write")
    return caught_mid_write


@pytest.mark.parametrize("kind", ["video", "frames", "json", "results"])
def test_kill_while_writing_leaves_only_complete_outputs(kind, tmp_path):
    caught = kill_and_check(kind, tmp_path, MOMENTS)
    # The kill that waits for a temporary lands inside a write (the frame and video writes last
    # tens of milliseconds; the small tables can finish first).
    if kind in ("video", "frames", "json"):
        assert caught >= 1


@pytest.mark.parametrize("kind", ["keras", "savedmodel"])
def test_kill_while_saving_a_model_leaves_only_loadable_models(kind, tmp_path):
    kill_and_check(kind, tmp_path, ("part",))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["keras", "savedmodel"])
def test_kill_while_saving_a_model_at_more_moments(kind, tmp_path):
    kill_and_check(kind, tmp_path, (0.0, "part", 0.05, 0.2, "part", 0.6, 1.3))


# ---- a non-finite loss through the command line ---------------------------------------------------


def test_non_finite_loss_through_the_cli_keeps_the_last_checkpoint(tmp_path):
    import tensorflow as tf

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "vsr_latent.cli", "train", "--config", "table1_latn10",
           "--budget", "tiny", "--run_dir", str(run_dir), "--no-progress",
           "--set", "seq_len=3", "--set", "model_overrides.num_layers=2",
           "--set", 'model_overrides.blocks=["long"]', "--set", "optimizer.learning_rate=1e30",
           "--set", "checkpoint_every=1", "--set", "stage1_steps=5"]
    res = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300,
                         check=False)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("vsr-latent")]
    assert len(errors) == 1, res.stderr
    assert re.match(r"vsr-latent train: error: .*non-finite loss/\w+.* at step 2 \(stage 1\)",
                    errors[0]), errors[0]
    assert "ckpt-1" in errors[0]
    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    assert latest.endswith("ckpt-1")
    reader = tf.train.load_checkpoint(latest)
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 1
    values = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
              if k.startswith(("model/", "optimizer/")) and "VARIABLE_VALUE" in k]
    assert values and all(np.isfinite(v).all() for v in values)
    assert not (run_dir / "model.keras").exists()


# ---- TensorBoard event files: appended, not replaced ------------------------------------------------


def test_truncated_event_file_reads_up_to_its_last_complete_record(tmp_path):
    """A training run killed while writing summaries leaves an event file whose last record is
    cut; TensorBoard's reader must still give every complete record before it."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    from vsr_latent.training.summaries import TrainingSummaries

    logdir = tmp_path / "logs"
    summaries = TrainingSummaries(logdir)
    for step in range(1, 21):
        summaries.scalars(step, {"loss/total": 1.0 / step})
    summaries.close()
    (events,) = logdir.glob("events.out.tfevents.*")
    data = events.read_bytes()
    for cut in (len(data) - 1, len(data) - 7, len(data) * 2 // 3, len(data) // 3):
        d = tmp_path / f"cut{cut}"
        d.mkdir()
        (d / events.name).write_bytes(data[:cut])
        acc = EventAccumulator(str(d), size_guidance={"tensors": 0})
        acc.Reload()
        got = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
               for e in acc.Tensors("loss/total")]
        steps = [s for s, _ in got]
        assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 1
        assert len(steps) < 20
        np.testing.assert_allclose([v for _, v in got], [1.0 / s for s in steps], rtol=1e-6)
