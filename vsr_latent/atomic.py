"""Write-aside-then-rename helpers: a kill at any moment never leaves a file that looks complete.

Every file the package writes goes through these: the data is written under a temporary name in
the same folder (same file system, so the final ``os.replace`` is atomic) and renamed into place
only once it is complete and flushed.
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from vsr_latent.errors import InputError


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _creating(path):
    """An output that cannot even be started (its folder is a file, read-only, ...) is an
    InputError naming the output, not a bare OSError about a parent or temporary path."""
    try:
        yield
    except OSError as e:
        blocking = next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)
        problem = f"{blocking} is a file, not a folder" if blocking else (e.strerror or str(e))
        raise InputError(path, f"cannot write the output there ({problem})") from None


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yields a temporary path next to ``path``; on clean exit renames it to ``path``.

    Use it for writers that want a file name (imageio, matplotlib, tf.io). On an exception the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    suffix = suffix if suffix is not None else path.suffix
    with _creating(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{suffix}",
                                   dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp makes the file owner-only; give it the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Like ``open(path, mode)`` for writing, but the file appears only when complete."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()


def write_text(path, text):
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path, obj):
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")


@contextlib.contextmanager
def atomic_dir(path):
    """Yields a temporary folder next to ``path``; on clean exit it replaces ``path``.

    For outputs that are folders (frame folders, SavedModels): readers never see a half-filled
    folder under the final name.
    """
    path = Path(path)
    with _creating(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
