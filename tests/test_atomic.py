"""The write-aside-then-rename helpers every writer of the package uses."""

import os
import stat

import pytest

from vsr_latent import atomic


def test_atomic_open_writes_whole_file_with_umask_mode(tmp_path):
    target = tmp_path / "sub" / "table.md"
    atomic.write_text(target, "| a |\n")
    assert target.read_text() == "| a |\n"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in target.parent.iterdir()] == ["table.md"]


def test_atomic_open_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "r.json"
    atomic.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic.atomic_open(target) as f:
            f.write("{half")
            raise RuntimeError("killed")
    assert target.read_text().strip().startswith("{")
    assert '"a": 1' in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_atomic_dir_replaces_folder_only_when_complete(tmp_path):
    out = tmp_path / "frames"
    with atomic.atomic_dir(out) as d:
        (d / "00000000.png").write_bytes(b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    with pytest.raises(ValueError):
        with atomic.atomic_dir(out) as d:
            (d / "00000001.png").write_bytes(b"y")
            raise ValueError("stop")
    assert sorted(p.name for p in out.iterdir()) == ["00000000.png"]
    with atomic.atomic_dir(out) as d:
        (d / "new.png").write_bytes(b"z")
    assert sorted(p.name for p in out.iterdir()) == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
